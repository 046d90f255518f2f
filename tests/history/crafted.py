"""Crafted summary.json data and run folders for the history tests (the shapes summary.py writes)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def entry(check_id: str, target: str, outcome: str = "passed", *, observed: str | None = None,
          cause: str | None = None, duration_s: float = 0.25) -> dict[str, Any]:
    data: dict[str, Any] = {"check_id": check_id, "nodeid": f"tests_live/test_x.py::test_x[{target}]",
                            "title": f"title of {check_id}", "target": target, "outcome": outcome,
                            "duration_s": duration_s}
    if outcome == "passed" and observed is not None:
        data["observed"] = observed
    if outcome in ("failed", "error"):
        data.update(expected="something", observed=observed or "something else", cause=cause or "a cause",
                    evidence=["raw evidence"])
    return data


def verdict_of(tests: Iterable[dict[str, Any]], state: str = "finished") -> str:
    outcomes = [t["outcome"] for t in tests]
    if state != "finished":
        return "INCOMPLETE"
    if "failed" in outcomes:
        return "UNHEALTHY"
    if "error" in outcomes or "not_run" in outcomes:
        return "INCOMPLETE"
    return "HEALTHY" if "passed" in outcomes else "NO CHECKS RAN"


def summary(tests: list[dict[str, Any]], *, site: str = "site-a", state: str = "finished", full: bool = True,
            started_at: str = "2026-11-25T02:00:00+00:00", pid: int = 4242, interrupted_by: str | None = None,
            markers: str = "") -> dict[str, Any]:
    totals = {o: sum(1 for t in tests if t["outcome"] == o) for o in ("passed", "failed", "error", "skipped",
                                                                         "not_run")}
    return {
        "schema_version": 2, "suite_version": "0.1.0", "catalogue_version": "c0ffee", "inventory": site,
        "supervisor": "supervisor-1", "state": state, "pid": pid, "started_at": started_at,
        "finished_at": started_at if state == "finished" else None,
        "exit_code": (1 if totals["failed"] or totals["error"] else 0) if state == "finished" else None,
        "verdict": verdict_of(tests, state), "interrupted_by": interrupted_by,
        "scope": {"full": full, "text": "full run: 3 targets selected" if full else "selection -m 'dns'",
                  "markers": markers, "keywords": "", "checks": [], "maxfail": 0, "deselected": 0 if full else 5,
                  "deselected_checks": []},
        "read_only": True, "totals": {**totals, "total": len(tests)}, "tests": tests,
    }


def write_run(site_dir: Path, name: str, data: dict[str, Any] | None, *, report: bool = True) -> Path:
    """A run folder as a run leaves it: summary.json (unless None) and a report.html."""
    path = site_dir / name
    path.mkdir(parents=True)
    if data is not None:
        (path / "summary.json").write_text(json.dumps(data, indent=2))
    if report:
        (path / "report.html").write_text("<html>report</html>")
    return path


def link(site_dir: Path, name: str, run: Path) -> Path:
    path = site_dir / name
    if path.is_symlink():
        path.unlink()
    path.symlink_to(run.name)
    return path


def dead_pid() -> int:
    """A pid that no process has (the highest pids are free on a test machine)."""
    for pid in range(4_194_000, 4_100_000, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free pid found")


HEALTHY = [entry("WCP-DNS-001", "cp-1/eth0 -> vcenter.corp.local", observed="A 192.168.10.20"),
           entry("WCP-VIP-001", "172.16.1.2:443", observed="TCP connected in 0.02 s"),
           entry("WCP-VIP-001", "172.16.1.2:6443", observed="TCP connected in 0.03 s"),
           entry("WCP-NCP-001", "supervisor-1", observed="nsx-ncp-7d9f running and ready (0 restarts)")]
