"""A live test that judges another check's finding is a suite error, never a pass (the catalogue's promise)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.inventories import EXAMPLE, EXAMPLE_ENV

PROBE = '''
import pytest
from wcp_acceptance.finding import expect, passed


@pytest.mark.check_id("WCP-DNS-001")
def test_judges_its_own_check():
    expect(passed("WCP-DNS-001", "t", "an A record", "192.0.2.1"))


@pytest.mark.check_id("WCP-DNS-001")
def test_judges_another_checks_finding():
    expect(passed("WCP-DNS-002", "t", "a PTR", "x"))
'''


def test_a_finding_of_another_check_fails_its_test(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, **EXAMPLE_ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_probe.py",
                           "--inventory", str(EXAMPLE), "--report-dir", str(tmp_path / "reports")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "judged a finding of WCP-DNS-002, not of its own check" in done.stdout
    (summary,) = (tmp_path / "reports").glob("*/latest/summary.json")
    outcomes = {t["nodeid"].split("::")[1]: t for t in json.loads(summary.read_text())["tests"]}
    assert outcomes["test_judges_its_own_check"]["outcome"] == "passed"
    assert outcomes["test_judges_its_own_check"]["observed"] == "192.0.2.1"  # a pass keeps what it saw
    wrong = outcomes["test_judges_another_checks_finding"]
    assert wrong["outcome"] == "error"  # a suite bug is not a broken site
    assert wrong["cause"] == "a bug in the suite's live test"
