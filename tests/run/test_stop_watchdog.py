"""A run whose end hangs after SIGTERM (a teardown that never returns) still ends within its stop grace:
the watchdog writes summary.json and a report.html from what had run, prints the cron line and exits 2."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.run.suite_process import (
    DLB_TARGETS,
    HANGING_SELECTION,
    ROOT,
    VIP_TARGETS,
    finished,
    read_summary,
    run_pytest,
    suite_process,
)

GRACE = 2.0


def test_the_watchdog_finishes_the_report_when_the_run_does_not_end(hung_site: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with suite_process(hung_site, reports, *HANGING_SELECTION, "--stop-grace", f"{GRACE:g}",
                       "-p", "tests.run.stuck", env={"WCP_TEST_FINISH_DELAY_S": "600"}) as run:
        run.wait_for("the VIP checks to finish", finished(VIP_TARGETS))
        run_dir = run.run_dir()
        run.send(signal.SIGTERM)
        ended = run.end(timeout=GRACE + 30)

    assert ended.exit_code == 2, ended.stdout[-3000:] + ended.stderr[-2000:]
    assert ended.after_signal_s is not None
    assert GRACE <= ended.after_signal_s < GRACE + 5, f"ended {ended.after_signal_s:.1f} s after SIGTERM"
    summary = read_summary(run_dir)
    assert summary is not None
    assert summary["state"] == "finished"
    assert summary["verdict"] == "INCOMPLETE"
    assert summary["interrupted_by"] == "SIGTERM"
    assert summary["exit_code"] == 2
    assert summary["stop"] == {"signal": "SIGTERM", "received_at": summary["stop"]["received_at"], "grace_s": GRACE,
                               "finished_by": "watchdog"}
    assert summary["totals"]["passed"] == VIP_TARGETS
    assert summary["totals"]["not_run"] == DLB_TARGETS
    # pytest-html never got to write: the report the watchdog wrote says what happened and lists every test
    html = (run_dir / "report.html").read_text()
    assert "INCOMPLETE: interrupted by SIGTERM; the report was finished from what had run" in html
    assert "has not finished" not in html
    assert html.count("<tr class=\"passed\">") == VIP_TARGETS
    assert html.count("<tr class=\"not_run\">") == DLB_TARGETS
    assert not (run_dir / ".running").exists()
    assert (reports / "sim" / "latest").resolve() == run_dir.resolve()
    assert ended.last_line.startswith("wcp-acceptance sim: INCOMPLETE (interrupted by SIGTERM) exit=2 "
                                      f"{VIP_TARGETS} passed, 0 failed, 0 could not observe, 0 skipped, "
                                      f"{DLB_TARGETS} not run report=")
    assert f"the run did not end within {GRACE:g} s of SIGTERM: exiting 2" in ended.stderr


def test_a_bad_stop_grace_is_a_bad_option_and_no_run_starts(write_inventory, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    for bad, why in (("soon", "'soon' is not a number of seconds"), ("0", "'0' must be more than 0")):
        ended = run_pytest(["tests_live", "--inventory", str(write_inventory()), "--report-dir", str(reports),
                            "--stop-grace", bad], cwd=ROOT)
        assert ended.exit_code == 4
        assert f"--stop-grace: {why}" in ended.stderr
    assert not reports.exists()
