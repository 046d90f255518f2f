"""A partial run says so: a marker selection is "(partial)" with what it left out, and ``-x`` records the
tests it never reached as not run, so the verdict is INCOMPLETE, never HEALTHY."""

from __future__ import annotations

from pathlib import Path

from tests.run.suite_process import read_summary, suite_process


def test_a_marker_selection_is_partial_and_names_what_it_left_out(write_inventory, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with suite_process(write_inventory(), reports, "-m", "vip") as run:
        ended = run.end(timeout=90)
        run_dir = run.run_dir()
    assert ended.exit_code == 0, ended.stdout[-3000:]
    summary = read_summary(run_dir)
    assert summary is not None
    assert summary["verdict"] == "HEALTHY"
    scope = summary["scope"]
    assert scope["full"] is False
    assert scope["markers"] == "vip"
    assert scope["deselected"] == 73  # the 79 targets of the site but the 6 VIP ones
    assert "WCP-DNS-001" in scope["deselected_checks"]
    assert not {"WCP-VIP-001", "WCP-VIP-002", "WCP-VIP-003"} & set(scope["deselected_checks"])
    assert ended.last_line.startswith("wcp-acceptance sim: HEALTHY (partial) exit=0 6 passed, 0 failed, ")
    assert (reports / "sim" / "latest").resolve() == run_dir.resolve()  # a finished report, if a partial one


def test_stopping_at_the_first_problem_records_the_rest_as_not_run(write_inventory, tmp_path: Path) -> None:
    # on the simulators' site no VM answers: the first egress check errors, and -x stops there
    with suite_process(write_inventory(), tmp_path / "reports", "-m", "vip or egress", "-x") as run:
        ended = run.end(timeout=90)
        run_dir = run.run_dir()
    assert ended.exit_code == 1, ended.stdout[-3000:]
    summary = read_summary(run_dir)
    assert summary is not None
    assert summary["verdict"] == "INCOMPLETE"
    assert summary["totals"] | {"total": 0} == {"passed": 6, "failed": 0, "error": 1, "skipped": 0, "not_run": 5,
                                                "total": 0}
    assert summary["scope"]["maxfail"] == 1
    assert "5 not run (stopped after 1 failure(s))" in summary["scope"]["text"]
    assert ended.last_line.startswith("wcp-acceptance sim: INCOMPLETE (partial) exit=1 6 passed, 0 failed, "
                                      "1 could not observe, 0 skipped, 5 not run report=")
