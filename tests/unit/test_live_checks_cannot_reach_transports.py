"""tests_live/ may not import a transport (HTTP, SSH, sockets): ruff's banned-api says so, and this proves it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"


def ruff_on(source: str, filename: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RUFF), "check", "--no-cache", "--output-format", "concise", "--stdin-filename",
                           filename, "-"], input=source, capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False)


@pytest.mark.parametrize("module", ["requests", "paramiko", "socket", "subprocess", "kubernetes", "testinfra",
                                    "wcp_acceptance.transport.nsx"])
def test_a_live_check_importing_a_transport_is_refused(module: str) -> None:
    result = ruff_on(f"import {module}\n", "tests_live/test_sneaky.py")
    assert result.returncode == 1
    assert "TID251" in result.stdout


def test_the_same_import_is_fine_in_the_library() -> None:
    result = ruff_on('"""Doc."""\n\nimport socket\n\nsocket.gethostname()\n', "wcp_acceptance/some_probe.py")
    assert "TID251" not in result.stdout


def test_the_live_checks_as_committed_pass_the_rule() -> None:
    result = subprocess.run([str(RUFF), "check", "--no-cache", "tests_live"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stdout
