"""The SLB faults' edge side: the VIP's DNAT matches the pools NSX reports, and the dead member's share
is fixed so the runner's connections never reach it (no namespaces needed: the rendered ruleset)."""

from __future__ import annotations

from lab import faults
from lab.nft import edge_ruleset
from lab.topology import TOPOLOGIES_DIR, load_topology


def test_healthy_the_vip_goes_round_robin_to_the_three_vms() -> None:
    topo = load_topology()
    assert faults.vip_dnat(topo, set()) == (None, None)


def test_slb_member_missing_drops_cp3_from_the_dnat() -> None:
    topo = load_topology()
    members, pinned = faults.vip_dnat(topo, {"slb-member-missing"})
    text = edge_ruleset(topo, vip_members=members, vip_pinned=pinned)
    assert "ip daddr 172.16.1.2 tcp dport 6443 dnat to numgen inc mod 2 map { 0 : 10.244.0.2, 1 : 10.244.0.3 }" in text
    assert "10.244.0.4" not in text.split("chain postrouting")[0]


def test_slb_member_dead_pins_the_runner_to_the_live_vms_and_sends_others_to_four() -> None:
    for topo in (load_topology(), load_topology(TOPOLOGIES_DIR / "alt.yaml")):
        dead = faults.slb_dead_member(topo)
        used = {topo.edge[1].downlink, *(vm.workload for vm in topo.control_planes.values())}
        assert dead in topo.networks.segment
        assert dead not in used
        members, pinned = faults.vip_dnat(topo, {"slb-member-dead"})
        text = edge_ruleset(topo, vip_members=members, vip_pinned=pinned)
        vip, runner = topo.api_vip.address, topo.jumpbox[1].management
        for port in topo.api_vip.ports:
            lines = [line.strip() for line in text.splitlines() if f"ip daddr {vip} tcp dport {port} " in line]
            assert len(lines) == 2
            assert lines[0].startswith(f"ip daddr {vip} tcp dport {port} ip saddr {runner} dnat to numgen inc mod 3")
            assert str(dead) not in lines[0]  # matched first: the runner never reaches the dead member
            assert "mod 4" in lines[1]
            assert str(dead) in lines[1]


def test_slb_ingress_wrong_names_an_ingress_address_that_is_not_the_vip() -> None:
    topo = load_topology()
    wrong = faults.slb_wrong_ingress(topo)
    assert wrong in topo.networks.ingress
    assert wrong != topo.api_vip.address
    assert faults.FAULTS["slb-ingress-wrong"].checks == ["WCP-SLB-001"]
    assert faults.FAULTS["slb-member-dead"].checks == faults.FAULTS["slb-member-missing"].checks == ["WCP-SLB-002"]
