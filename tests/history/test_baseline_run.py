"""--baseline and retention on real runs of the suite (a separate pytest process) against the API simulators.

A change gate passes --baseline: the run exits 0 when nothing is worse than the baseline, even if a
known failure remains, and 1 when something broke; every run with a baseline writes diff.json and
prints one "since ..." line before the cron line. Without the option the baseline is last-good and
the exit code stays the suite's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SCOPE = ("-m", "dlb or vip")
DLB = ["WCP-DLB-001", "supervisor-1"]


def runs_of(reports: Path) -> list[str]:
    return sorted(p.name for p in (reports / "sim").iterdir() if p.name[0].isdigit())


def since_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith(("since ", "no baseline:"))]
    assert len(lines) == 1, stdout[-2000:]
    return lines[0]


def test_a_change_gate_with_a_baseline(start_stack, suite) -> None:
    stack = start_stack()
    inventory = stack.write_inventory()

    healthy = suite(inventory, *SCOPE)
    assert healthy.result.exit_code == 0, healthy.result.stdout[-3000:]
    assert since_line(healthy.result.stdout) == "no baseline: sim has no last good run yet"
    assert not (healthy.run_dir / "diff.json").exists()

    stack.model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    stack.nsx.refresh()
    broken = suite(inventory, *SCOPE, "--baseline", str(healthy.run_dir))
    assert broken.result.exit_code == broken.summary["exit_code"] == 1
    diff = json.loads((broken.run_dir / "diff.json").read_text())
    assert [[c["check_id"], c["target"]] for c in diff["new_failures"]] == [DLB]
    assert diff["fixed"] == diff["still_failing"] == []
    assert diff["explicit"] is True
    assert since_line(broken.result.stdout) == f"since {healthy.run_dir.name}: 1 new failure, 0 fixed, " \
                                               "0 still failing (worse)"
    lines = [line for line in broken.result.stdout.splitlines() if line.strip()]
    assert lines[-1].startswith("wcp-acceptance sim: UNHEALTHY")
    assert "exit=1" in lines[-1]

    # the same failure again: nothing worse than the baseline, so the gate passes (exit 0) ...
    again = suite(inventory, *SCOPE, "--baseline", "latest")
    assert again.result.exit_code == again.summary["exit_code"] == 0, again.result.stdout[-3000:]
    assert again.summary["verdict"] == "UNHEALTHY"
    assert since_line(again.result.stdout) == f"since latest ({broken.run_dir.name}): 0 new failures, 0 fixed, " \
                                              "1 still failing (nothing worse)"
    assert "exit=0" in again.result.last_line
    # ... while without a baseline option the exit code is the suite's own
    plain = suite(inventory, *SCOPE)
    assert plain.result.exit_code == 1
    assert not (plain.run_dir / "diff.json").exists()


def test_the_default_baseline_is_last_good(start_stack, suite, tmp_path: Path) -> None:
    stack = start_stack()
    inventory = stack.write_inventory()
    reports = tmp_path / "reports"
    first = suite(inventory, *SCOPE)
    assert first.result.exit_code == 0
    good = reports / "sim" / "20260101T000000Z"  # a healthy full run, as the site's nightly leaves one
    good.mkdir()
    (good / "summary.json").write_text(json.dumps({**first.summary, "scope": {**first.summary["scope"],
                                                                              "full": True}}))
    (reports / "sim" / "last-good").symlink_to(good.name)
    stack.model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    stack.nsx.refresh()
    broken = suite(inventory, *SCOPE)
    assert broken.result.exit_code == 1
    assert since_line(broken.result.stdout) == ("since the last good run 20260101T000000Z: 1 new failure, 0 fixed, "
                                                "0 still failing")
    diff = json.loads((broken.run_dir / "diff.json").read_text())
    assert diff["explicit"] is False
    assert diff["baseline"] == "the last good run 20260101T000000Z"
    assert [[c["check_id"], c["target"]] for c in diff["new_failures"]] == [DLB]
    assert os.readlink(reports / "sim" / "last-good") == good.name  # a partial run never moves it
    index = (reports / "sim" / "index.html").read_text()
    assert all(name in index for name in runs_of(reports))


def test_bad_baseline_or_retention_values_exit_4_and_leave_no_run(start_stack, suite, tmp_path: Path) -> None:
    stack = start_stack()
    inventory = stack.write_inventory()
    reports = tmp_path / "reports"
    for args, says in ((("--baseline", str(tmp_path / "nowhere")), "no such run folder or summary file"),
                       (("--baseline", "last-good"), "sim has no last good run yet"),
                       (("--keep-runs", "0"), "is not a whole number of runs of at least 1"),
                       (("--keep-days", "soon"), "is not a number of days greater than 0")):
        run = suite(inventory, *SCOPE, *args)
        assert run.result.exit_code == 4, (args, run.result.stdout[-2000:], run.result.stderr[-2000:])
        assert says in run.result.stderr, run.result.stderr
        assert not (reports / "sim").exists() or runs_of(reports) == [], args


def test_retention_keeps_the_newest_runs_and_latest(start_stack, suite, tmp_path: Path) -> None:
    stack = start_stack()
    inventory = stack.write_inventory()
    reports = tmp_path / "reports"
    made = [suite(inventory, "--check", "WCP-VIP-001").run_dir.name for _ in range(3)]
    last = suite(inventory, "--check", "WCP-VIP-001", env={"WCP_KEEP_RUNS": "2"})
    assert last.result.exit_code == 0
    assert runs_of(reports) == [made[-1], last.run_dir.name]
    index = (reports / "sim" / "index.html").read_text()
    assert made[0] not in index
    assert made[-1] in index
    assert last.run_dir.name in index
