"""SIGTERM (timeout, systemd, a CronJob's deadline), SIGINT (Ctrl-C) and SIGHUP (the terminal went away) sent to a real
run caught mid-way: the run finishes its report with what ran, says INCOMPLETE, prints the cron line and exits 2,
in time."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.run.suite_process import (
    DLB_TARGETS,
    GRACE_S,
    HANGING_SELECTION,
    VIP_TARGETS,
    finished,
    read_summary,
    suite_process,
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_mid_run_finishes_the_report_with_what_ran(hung_site: Path, tmp_path: Path,
                                                           signum: signal.Signals) -> None:
    reports = tmp_path / "reports"
    with suite_process(hung_site, reports, *HANGING_SELECTION) as run:
        running = run.wait_for("the VIP checks to finish", finished(VIP_TARGETS))
        run_dir = run.run_dir()
        # while it runs, the folder already says what it is: running, by whom, incomplete
        assert running["state"] == "running"
        assert running["verdict"] == "INCOMPLETE"
        assert running["finished_at"] is None
        assert running["pid"] == run.pid
        assert (run_dir / ".running").is_file()
        assert "INCOMPLETE: this run has not finished" in (run_dir / "report.html").read_text()
        assert not (reports / "sim" / "latest").exists()
        run.send(signum)
        ended = run.end(timeout=GRACE_S + 30)

    name = signum.name
    assert ended.exit_code == 2, ended.stdout[-3000:] + ended.stderr[-2000:]
    assert ended.after_signal_s is not None
    assert ended.after_signal_s < GRACE_S, f"the run took {ended.after_signal_s:.1f} s to end after {name}"
    summary = read_summary(run_dir)
    assert summary is not None
    assert summary["state"] == "finished"
    assert summary["verdict"] == "INCOMPLETE"
    assert summary["interrupted_by"] == name
    assert summary["exit_code"] == 2
    assert summary["stop"]["signal"] == name
    assert summary["stop"]["finished_by"] == "pytest"
    assert summary["totals"] | {"total": 0} == {"passed": VIP_TARGETS, "failed": 0, "error": 0, "skipped": 0,
                                                "not_run": DLB_TARGETS, "total": 0}
    assert {t["check_id"] for t in summary["tests"] if t["outcome"] == "not_run"} == {"WCP-DLB-001", "WCP-DLB-002"}
    assert f"cut short by {name}" in summary["scope"]["text"]
    # pytest-html's report and JUnit were written; the provisional page and the marker are gone
    html = (run_dir / "report.html").read_text()
    assert "has not finished" not in html
    assert "pytest-html" in html
    assert (run_dir / "junit.xml").is_file()
    assert not (run_dir / ".running").exists()
    assert (reports / "sim" / "latest").resolve() == run_dir.resolve()
    assert ended.last_line == (f"wcp-acceptance sim: INCOMPLETE (interrupted by {name}) exit=2 {VIP_TARGETS} passed, "
                               f"0 failed, 0 could not observe, 0 skipped, {DLB_TARGETS} not run report={run_dir}")
    assert f"wcp-acceptance: {name}: stopping" in ended.stderr
    assert "Traceback" not in ended.stdout


def test_a_second_signal_while_the_report_is_finished_cuts_nothing_short(hung_site: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    # the end of the session takes 2 s here, so the second and third signals land while the report is written
    with suite_process(hung_site, reports, *HANGING_SELECTION, "-p", "tests.run.stuck",
                       env={"WCP_TEST_FINISH_DELAY_S": "2"}) as run:
        run.wait_for("the VIP checks to finish", finished(VIP_TARGETS))
        run_dir = run.run_dir()
        run.send(signal.SIGTERM)
        time.sleep(0.7)
        run.send(signal.SIGTERM)
        time.sleep(0.3)
        os.kill(run.pid, signal.SIGINT)
        ended = run.end(timeout=GRACE_S + 30)

    assert ended.exit_code == 2, ended.stdout[-3000:] + ended.stderr[-2000:]
    assert ended.after_signal_s is not None
    assert ended.after_signal_s < GRACE_S
    assert "SIGTERM again: already finishing the report" in ended.stderr
    assert "SIGINT again: already finishing the report" in ended.stderr
    summary = read_summary(run_dir)
    assert summary is not None
    assert summary["interrupted_by"] == "SIGTERM"  # the first signal is the one that stopped the run
    assert summary["stop"]["finished_by"] == "pytest"
    assert summary["totals"]["passed"] == VIP_TARGETS
    assert summary["totals"]["not_run"] == DLB_TARGETS
    html = (run_dir / "report.html").read_text()
    assert "pytest-html" in html
    assert html.rstrip().endswith("</html>")
    assert sorted(p.name for p in run_dir.iterdir()) == ["junit.xml", "report.html", "summary.csv", "summary.json",
                                                         "summary.md"]
    assert ended.last_line.startswith("wcp-acceptance sim: INCOMPLETE (interrupted by SIGTERM) exit=2 ")


def test_the_test_a_signal_stops_after_its_setup_is_not_run_never_passed(write_inventory, tmp_path: Path) -> None:
    # the first WCP-VIP-003 target hangs in its call phase: its setup (the VIP observation) had passed
    with suite_process(write_inventory(), tmp_path / "reports", "-m", "vip", "-p", "tests.run.stuck",
                       env={"WCP_TEST_CALL_HANG": "test_vip_answers_as_kube_apiserver"}) as run:
        run.wait_for("the VIP-001 and VIP-002 checks to finish", finished(4))
        run_dir = run.run_dir()
        time.sleep(0.5)  # into the hanging call
        run.send(signal.SIGTERM)
        ended = run.end(timeout=GRACE_S + 30)

    assert ended.exit_code == 2, ended.stdout[-3000:]
    summary = read_summary(run_dir)
    assert summary is not None
    outcomes = {(t["check_id"], t["outcome"]) for t in summary["tests"]}
    assert outcomes == {("WCP-VIP-001", "passed"), ("WCP-VIP-002", "passed"), ("WCP-VIP-003", "not_run")}
    assert summary["totals"]["not_run"] == 2
    stopped = [t for t in summary["tests"] if t["check_id"] == "WCP-VIP-003"]
    assert all("observed" not in t for t in stopped)
