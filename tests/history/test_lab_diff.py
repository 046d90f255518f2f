"""In the lab: a healthy run becomes last-good; after seed-shared-dns, ``wcp-acceptance diff last-good latest``
names exactly the (check, target) pairs the fault breaks, and nothing that only differs between runs.

One lab (prefix ``hdif``) for the module, torn down even when a test fails; the fault is cleared again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.faults import FAULTS
from lab.runtime import LabRuntime, open_lab
from tests.lab.suite_runs import LabRun, judge, run_in_lab

ROOT = Path(__file__).resolve().parents[2]
FAULT = "seed-shared-dns"


@pytest.fixture(scope="module")
def lab() -> Iterator[LabRuntime]:
    with open_lab(prefix="hdif") as lab:
        yield lab


def failing(run: LabRun) -> set[tuple[str, str]]:
    return {(t["check_id"], t["target"]) for t in run.tests if t["outcome"] in ("failed", "error")}


def diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wcp_acceptance", "diff", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_diff_names_exactly_what_seed_shared_dns_breaks(lab: LabRuntime, tmp_path: Path) -> None:
    healthy = run_in_lab(lab, tmp_path)
    assert healthy.exit_code == 0, healthy.stdout[-3000:]
    site = tmp_path / healthy.summary["inventory"]
    good = (site / "latest").resolve()
    assert os.readlink(site / "last-good") == good.name

    lab.inject(FAULT)
    try:
        broken = run_in_lab(lab, tmp_path)
    finally:
        lab.clear(FAULT)
    assert broken.exit_code == 1
    assert judge(FAULTS[FAULT], broken) == []  # the run failed exactly as the fault must make it fail
    expected = failing(broken)
    n = len(expected)
    assert n > 20  # DNS on eth0 and eth1 of three VMs, RT-001, ...: the seed's failure is wide
    assert os.readlink(site / "last-good") == good.name  # an unhealthy run does not move it

    done = diff("--format", "json", str(site / "last-good"), str(site / "latest"))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    data = json.loads(done.stdout)
    assert {(c["check_id"], c["target"]) for c in data["new_failures"]} == expected
    assert len(data["new_failures"]) == len(expected)
    assert all(c["before"] == "passed" and c["after"] in ("failed", "error") for c in data["new_failures"])
    # nothing volatile (durations, ports, nonces, timestamps) turned into a change
    assert data["changed"] == data["fixed"] == data["still_failing"] == data["unobserved"] == []
    assert data["flapping"] == data["notes"] == []
    assert data["not_compared"] == 0

    text = diff(str(site / "last-good"), str(site / "latest")).stdout
    listed = [line for line in text.splitlines() if line.startswith("  ")]
    assert len(listed) == len(expected)
    assert f"since last-good ({good.name}): {n} new failures, 0 fixed, 0 still failing" in text

    # the run itself compared with last-good by default, and said so before its cron line
    own = json.loads(((site / "latest") / "diff.json").read_text())
    assert {(c["check_id"], c["target"]) for c in own["new_failures"]} == expected
    assert f"since the last good run {good.name}: {n} new failures, 0 fixed, 0 still failing" in broken.stdout
    index = (site / "index.html").read_text()
    assert good.name in index
    assert (site / "latest").resolve().name in index
