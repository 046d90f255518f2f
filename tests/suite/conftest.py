"""The live suite run as a user runs it (a separate pytest process) against the API simulators."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lab.model import SupervisorModel
from lab.sim.stack import SimStack
from tests.support.run_suite import SuiteResult, run_suite


@dataclass
class SuiteRun:
    result: SuiteResult
    run_dir: Path | None
    summary: dict[str, Any]
    elapsed_s: float

    def outcomes(self, check_id: str) -> dict[str, str]:
        """target -> outcome for one check."""
        return {t["target"]: t["outcome"] for t in self.summary["tests"] if t["check_id"] == check_id}

    def entries(self, check_id: str) -> list[dict[str, Any]]:
        return [t for t in self.summary["tests"] if t["check_id"] == check_id]

    def not_passed(self) -> dict[tuple[str, str], str]:
        return {(t["check_id"], t["target"]): t["outcome"] for t in self.summary["tests"] if t["outcome"] != "passed"}


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[Callable[..., SimStack]]:
    stacks: list[SimStack] = []

    def start(model: SupervisorModel | None = None, **kwargs: Any) -> SimStack:
        stack = SimStack(model or SupervisorModel.seed(), tmp_path / f"stack{len(stacks)}", **kwargs).start()
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()


@pytest.fixture
def suite(tmp_path: Path) -> Callable[..., SuiteRun]:
    """Run ``pytest tests_live --inventory <path> <args>`` and read back what it wrote."""

    def run(inventory: Path, *args: str, env: dict[str, str] | None = None) -> SuiteRun:
        import time

        reports = tmp_path / "reports"
        start = time.monotonic()
        result = run_suite(["--inventory", str(inventory), "--report-dir", str(reports), *args], env=env)
        elapsed = time.monotonic() - start
        latest = list(reports.glob("*/latest"))
        run_dir = latest[0].resolve() if latest else None
        summary = json.loads((run_dir / "summary.json").read_text()) if run_dir else {}
        return SuiteRun(result, run_dir, summary, elapsed)

    return run
