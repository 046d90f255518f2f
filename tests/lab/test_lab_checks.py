"""The suite against the lab: healthy passes everything; each named fault is caught by exactly its checks.

One lab serves the whole module; each fault is injected, the suite runs from the jumpbox as a
user runs it, and the fault is cleared again (the last test proves the lab is healthy after all
of them, so clearing works).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.faults import FAULTS
from lab.runtime import LabRuntime, open_lab
from tests.lab.matrix import MATRIX
from tests.lab.suite_runs import judge, run_in_lab
from wcp_acceptance.catalogue import IDS as CHECK_IDS


@pytest.fixture(scope="module")
def seed_lab() -> Iterator[LabRuntime]:
    with open_lab(prefix=f"s{secrets.token_hex(2)}") as lab:
        yield lab


def assert_healthy(lab: LabRuntime, report_dir: Path, label: str) -> None:
    run = run_in_lab(lab, report_dir)
    MATRIX.record(label, run.tests, run.seconds)
    assert run.exit_code == 0, run.stdout[-4000:]
    assert run.summary["totals"]["skipped"] == 0
    assert run.summary["totals"]["passed"] == run.summary["totals"]["total"] > 40
    assert {t["check_id"] for t in run.tests} == CHECK_IDS


def test_the_healthy_seed_lab_passes_every_check(seed_lab: LabRuntime, tmp_path: Path) -> None:
    assert_healthy(seed_lab, tmp_path, "(healthy)")


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_is_caught_by_exactly_its_checks(seed_lab: LabRuntime, tmp_path: Path, fault: str) -> None:
    seed_lab.inject(fault)
    try:
        run = run_in_lab(seed_lab, tmp_path)
    finally:
        seed_lab.clear(fault)
    MATRIX.record(fault, run.tests, run.seconds)
    assert run.exit_code == 1
    problems = judge(FAULTS[fault], run)
    assert not problems, "\n".join(problems)


def test_the_lab_is_healthy_again_after_every_fault_was_cleared(seed_lab: LabRuntime, tmp_path: Path) -> None:
    assert_healthy(seed_lab, tmp_path, "(healthy, after)")
