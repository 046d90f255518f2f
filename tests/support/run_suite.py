"""Run the live suite as a user would: a separate pytest process, from the project root."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SuiteResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run_suite(args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 240) -> SuiteResult:
    """``python -m pytest tests_live <args>``; bounded so a hang fails the test instead of CI."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
    full_env.update(env or {})
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests_live", "-p", "no:randomly", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    return SuiteResult(proc.returncode, proc.stdout, proc.stderr)
