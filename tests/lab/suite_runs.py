"""Run the suite inside a lab and judge a run against a fault's expectations."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from lab.faults import Fault
from lab.runtime import LabRuntime
from lab.sim.wcp import TOKEN_HEADER


@dataclass
class LabRun:
    exit_code: int
    summary: dict[str, Any]
    stdout: str
    seconds: float

    @property
    def tests(self) -> list[dict[str, Any]]:
        return list(self.summary["tests"])


def run_in_lab(lab: LabRuntime, report_dir: Path, *args: str) -> LabRun:
    start = time.monotonic()
    done = lab.run_suite(["--report-dir", str(report_dir), "-q", *args], timeout=600)
    seconds = time.monotonic() - start
    latest = sorted(report_dir.glob("*/latest"))
    assert latest, f"no report written (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
    summary = json.loads((latest[0] / "summary.json").read_text())
    # the lab's canary secrets never reach an artifact, whatever the fault
    texts = [p.read_text(errors="replace") for p in latest[0].resolve().iterdir()] + [done.stdout, done.stderr]
    for secret in (lab.nsx_password, lab.vc_password, lab.kube_token, lab.login_password, lab.login_key):
        assert not any(secret in text for text in texts), "a lab secret leaked into the report or the output"
    # the login's session tokens live in the simulators only; every one of them begins like this
    assert not any(TOKEN_HEADER in text for text in texts), "a login session token leaked into the report"
    return LabRun(done.returncode, summary, done.stdout, seconds)


def judge(fault: Fault, run: LabRun) -> list[str]:
    """Every way the run differs from what the fault must cause (empty: exactly as expected)."""
    problems: list[str] = []
    matched = {id(e): 0 for e in fault.expect}
    for test in run.tests:
        rules = [e for e in fault.expect if e.check == test["check_id"] and fnmatchcase(test["target"], e.targets)]
        where = f"{test['check_id']} [{test['target']}]"
        if not rules:
            if test["outcome"] != "passed":
                problems.append(f"{where}: {test['outcome']} but {fault.name} must not break it: "
                                f"{test.get('observed')} / {test.get('cause')}")
            continue
        rule = rules[0]
        matched[id(rule)] += 1
        text = f"{test.get('observed') or ''} {test.get('cause') or ''}".lower()
        if test["outcome"] != rule.outcome:
            problems.append(f"{where}: {test['outcome']}, expected {rule.outcome}")
        elif rule.cause.lower() not in text:
            problems.append(f"{where}: cause does not name {rule.cause!r}: {text[:300]}")
    problems += [f"{e.check} [{e.targets}]: no such check ran" for e in fault.expect if not matched[id(e)]]
    return problems
