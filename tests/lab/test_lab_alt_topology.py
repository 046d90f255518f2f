"""A second address plan builds and passes unchanged, and still catches the seed's failure."""

from __future__ import annotations

import secrets
from pathlib import Path

from lab.faults import FAULTS
from lab.runtime import open_lab
from lab.topology import DEFAULT_TOPOLOGY
from tests.lab.matrix import MATRIX
from tests.lab.suite_runs import judge, run_in_lab

ALT = DEFAULT_TOPOLOGY.parent / "alt.yaml"


def test_the_alt_topology_passes_healthy_and_catches_shared_dns(tmp_path: Path) -> None:
    with open_lab(ALT, prefix=f"a{secrets.token_hex(2)}") as lab:
        assert str(lab.topology.networks.management) != "192.168.10.0/24"
        healthy = run_in_lab(lab, tmp_path / "healthy")
        MATRIX.record("alt: (healthy)", healthy.tests, healthy.seconds)
        assert healthy.exit_code == 0, healthy.stdout[-4000:]
        assert healthy.summary["totals"]["passed"] == healthy.summary["totals"]["total"]
        lab.inject("seed-shared-dns")
        shared = run_in_lab(lab, tmp_path / "shared")
        MATRIX.record("alt: seed-shared-dns", shared.tests, shared.seconds)
    assert shared.exit_code == 1
    problems = judge(FAULTS["seed-shared-dns"], shared)
    assert not problems, "\n".join(problems)
    rt = [t for t in shared.tests if t["check_id"] == "WCP-RT-001" and t["outcome"] == "failed"]
    mgmt_dns = str(lab.topology.dns.management)
    assert all(f"to {mgmt_dns} lookup 200" in " ".join(t["evidence"]) for t in rt)
