"""Hostile inventories handed to ``wcp-acceptance run`` as a user would: each must end in exit 4 with
``<file>: <field>: <reason>`` lines, no traceback, well before the process's timeout and in bounded output.

A corpus file states what its refusal must say in ``# expect: ...`` lines at its top.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.inventories import EXAMPLE_ENV

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "hostile"
PROCESS_TIMEOUT_S = 120.0  # the process is killed here; a refusal must come well before
ENDS_WITHIN_S = 30.0  # a refusal is a few parses; this is interpreter start-up on a busy machine
OUTPUT_MAX_CHARS = 32 * 1024  # per inventory: at most 20 problem lines of shortened values


@dataclass
class Run:
    exit_code: int
    output: str
    elapsed_s: float

    def site_output(self, label: str) -> str:
        """What a many-site run printed for one site (its lines carry ``<label>: ``)."""
        prefix = f"{label}: "
        return "\n".join(line for line in self.output.splitlines()
                         if line.startswith(prefix) or line.startswith(f"wcp-acceptance {prefix}"))


def run(inventories: Sequence[Path], reports: Path, *, env: dict[str, str] | None = None) -> Run:
    """``python -m wcp_acceptance run``: one inventory as ``--inventory X``, several as a many-site run."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
    full_env.update({"PYTHONDONTWRITEBYTECODE": "1", **EXAMPLE_ENV, **(env or {})})
    one = len(inventories) == 1
    args = ["--inventory", str(inventories[0])] if one else [*map(str, inventories), "--jobs", "2"]
    started = time.monotonic()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and suite
        [sys.executable, "-m", "wcp_acceptance", "run", *args, "--report-dir", str(reports)],
        cwd=ROOT, env=full_env, capture_output=True, text=True, errors="replace",
        timeout=PROCESS_TIMEOUT_S, check=False,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def expectations(path: Path) -> list[str]:
    head = path.read_text(encoding="utf-8", errors="replace")[:8192]
    expects = [line.removeprefix("# expect: ") for line in head.splitlines() if line.startswith("# expect: ")]
    assert expects, f"{path}: a corpus file states what its refusal says in '# expect: ...' lines"
    return expects


def assert_refused(output: str, source: Path | str, expects: Sequence[str]) -> None:
    """Every expected ``<field>: <reason>`` is printed after the file's name; nothing is a traceback."""
    assert "Traceback" not in output, f"expected a refusal, observed a traceback:\n{output[-3000:]}"
    assert len(output) <= OUTPUT_MAX_CHARS, (
        f"expected at most {OUTPUT_MAX_CHARS:,} characters of output, observed {len(output):,}:\n{output[:2000]}")
    lines = output.splitlines()
    for expect in expects:
        assert any(f"{source}: " in line and expect in line for line in lines), (
            f"expected one line with '{source}: ' and {expect!r}, observed:\n{output[:4000]}")


def assert_ended_quickly(result: Run, count: int = 1) -> None:
    bound = ENDS_WITHIN_S * max(1, count / 2)
    assert result.elapsed_s < bound, f"expected the refusal within {bound:.0f} s, observed {result.elapsed_s:.1f} s"
