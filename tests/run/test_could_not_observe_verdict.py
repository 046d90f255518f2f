"""Could-not-observe is not broken: a refused NSX password makes the run INCOMPLETE (exit 1, as a gate needs),
and the cron line counts "could not observe", never "failed"."""

from __future__ import annotations

from pathlib import Path

from lab.sim.stack import SimStack
from tests.run.suite_process import read_summary, suite_process
from wcp_acceptance.report.records import Selection
from wcp_acceptance.report.records import TestRecord as Record
from wcp_acceptance.report.verdict import cron_line, scope_of, verdict_of


def test_a_wrong_nsx_password_is_incomplete_not_unhealthy(write_inventory, stack: SimStack, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-nsx-password"
    wrong.write_text("not-the-password\n")
    inventory = write_inventory("wrong-password.yaml", nsx={"password": {"file": str(wrong)}})
    with suite_process(inventory, tmp_path / "reports", "-m", "dlb or vip") as run:
        ended = run.end(timeout=90)
        run_dir = run.run_dir()

    assert ended.exit_code == 1, ended.stdout[-3000:]
    summary = read_summary(run_dir)
    assert summary is not None
    assert summary["verdict"] == "INCOMPLETE"
    assert summary["totals"] | {"total": 0} == {"passed": 6, "failed": 0, "error": 2, "skipped": 0, "not_run": 0,
                                                "total": 0}
    errors = [t for t in summary["tests"] if t["outcome"] == "error"]
    assert {t["check_id"] for t in errors} == {"WCP-DLB-001", "WCP-DLB-002"}
    for entry in errors:
        assert entry["observed"].startswith("could not observe NSX")
        assert "NSX answered 403" in entry["cause"], entry
        assert "credentials were incorrect" in entry["cause"], entry
    assert stack.nsx_password not in (run_dir / "report.html").read_text() + ended.stdout
    assert ended.last_line == (f"wcp-acceptance sim: INCOMPLETE (partial) exit=1 6 passed, 0 failed, "
                               f"2 could not observe, 0 skipped report={run_dir}")


def record(outcome: str, n: int = 0) -> Record:
    return Record("WCP-DLB-001", f"t::x[{outcome}{n}]", "title", f"{outcome}{n}", outcome)  # type: ignore[arg-type]


def test_the_verdict_keeps_broken_apart_from_could_not_observe_and_from_not_reached() -> None:
    assert verdict_of([record("passed"), record("error")]) == "INCOMPLETE"
    assert verdict_of([record("passed"), record("error"), record("failed")]) == "UNHEALTHY"  # a failure is a failure
    assert verdict_of([record("passed"), record("not_run")]) == "INCOMPLETE"
    assert verdict_of([record("passed")], interrupted_by="SIGTERM") == "INCOMPLETE"
    assert verdict_of([record("passed"), record("skipped")]) == "HEALTHY"
    assert verdict_of([record("skipped")]) == "NO CHECKS RAN"
    records = [record("passed"), record("error", 1), record("error", 2)]
    line = cron_line("site-a", records, 1, Path("/r/site-a/x"), scope=scope_of(Selection(), records))
    assert line == ("wcp-acceptance site-a: INCOMPLETE exit=1 1 passed, 0 failed, 2 could not observe, "
                    "0 skipped report=/r/site-a/x")
