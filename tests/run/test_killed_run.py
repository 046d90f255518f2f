"""SIGKILL (a scheduler out of patience, the OOM killer): the run cannot react, so its folder says from the
start that it has not finished; the next run of the site marks it orphaned; it never becomes ``latest``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.run.suite_process import HANGING_SELECTION, VIP_TARGETS, finished, read_summary, suite_process

QUICK = ("--check", "WCP-VIP-001")  # a short run of the same site: 2 targets, passes


def quick_run(inventory: Path, reports: Path) -> tuple[Path, str]:
    with suite_process(inventory, reports, *QUICK) as run:
        ended = run.end(timeout=60)
        assert ended.exit_code == 0, ended.stdout[-3000:] + ended.stderr[-2000:]
        return run.run_dir(), ended.stdout


def test_a_killed_run_says_incomplete_and_the_next_run_marks_it_orphaned(
        write_inventory, hung_site: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    latest = reports / "sim" / "latest"
    quick = write_inventory("quick.yaml")
    first, _ = quick_run(quick, reports)
    assert latest.resolve() == first.resolve()

    with suite_process(hung_site, reports, *HANGING_SELECTION) as run:
        run.wait_for("the VIP checks to finish", finished(VIP_TARGETS))
        killed = run.run_dir()
        run.send(signal.SIGKILL)
        ended = run.end(timeout=30)
    assert ended.exit_code == -signal.SIGKILL

    # what the killed run left: a summary that says running (with what had run), a report that says incomplete
    left = read_summary(killed)
    assert left is not None
    assert left["state"] == "running"
    assert left["verdict"] == "INCOMPLETE"
    assert left["pid"] == run.pid
    assert left["totals"]["passed"] == VIP_TARGETS
    assert "INCOMPLETE: this run has not finished" in (killed / "report.html").read_text()
    assert (killed / ".running").is_file()
    assert latest.resolve() == first.resolve()  # a killed run never becomes latest
    assert "wcp-acceptance sim:" not in ended.stdout  # no cron line: nothing could print one

    third, stdout = quick_run(quick, reports)
    orphan = read_summary(killed)
    assert orphan is not None
    assert orphan["state"] == "orphaned"
    assert orphan["verdict"] == "INCOMPLETE"
    assert orphan["finished_at"] is None
    assert f"(pid {run.pid}) no longer exists" in orphan["orphaned"]["reason"]
    assert orphan["orphaned"]["detected_by_pid"] == read_summary(third)["pid"]
    assert orphan["totals"]["passed"] == VIP_TARGETS  # what it had recorded is kept
    html = (killed / "report.html").read_text()
    assert "INCOMPLETE: this run was killed before it finished (orphaned)" in html
    assert f"pid {run.pid}" in html
    assert not (killed / ".running").exists()
    assert f"orphaned run marked: {killed}" in stdout
    assert latest.resolve() == third.resolve()
    last_good = reports / "sim" / "last-good"
    if os.path.lexists(last_good):
        assert last_good.resolve() != killed.resolve()

    # a run that is marked once is left alone afterwards
    fourth, stdout = quick_run(quick, reports)
    assert "orphaned run marked" not in stdout
    assert read_summary(killed) == orphan
    assert latest.resolve() == fourth.resolve()
