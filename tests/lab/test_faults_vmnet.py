"""The VM-side faults as data: which VM, which ESXi host, which rp_filter values, and what they expect."""

from __future__ import annotations

import re

from lab import faults
from lab.topology import load_topology

SEED = load_topology()


def test_the_vm_side_faults_name_vms_and_roles_never_addresses() -> None:
    for name in ("rp-filter-strict", "cp-clock-skew", "ntp-server-down", "mtu-small"):
        fault = faults.FAULTS[name]
        assert fault.expect, name
        assert not [e.targets for e in fault.expect if re.search(r"\d+\.\d+", e.targets)], name


def test_rp_filter_strict_leaves_eth0_strict_and_eth1_loose() -> None:
    strict = faults.rp_filter_sysctls(strict=True)
    assert max(int(strict["net.ipv4.conf.all.rp_filter"]), int(strict["net.ipv4.conf.eth0.rp_filter"])) == 1
    assert max(int(strict["net.ipv4.conf.all.rp_filter"]), int(strict["net.ipv4.conf.eth1.rp_filter"])) == 2
    assert set(faults.rp_filter_sysctls(strict=False).values()) == {"2"}
    assert str(faults.steered_esxi(SEED)) == "192.168.10.31"
    assert faults.skewed_vm(SEED) == "cp-1"


def test_the_new_checks_join_the_faults_that_honestly_reach_them() -> None:
    def checks(name: str) -> set[str]:
        return set(faults.FAULTS[name].checks)

    for name in ("cp-vm-unreachable", "cp-vm-silent", "cp-vms-silent"):
        assert {"WCP-RT-002", "WCP-TIME-001", "WCP-MTU-001"} <= checks(name)
    for name in ("snat-missing", "egress-blackholed", "bgp-down"):
        assert "WCP-MTU-001" in checks(name)
    assert checks("rp-filter-strict") == {"WCP-RT-002"}  # the ESXi host is no WCP-RT-001 dependency
