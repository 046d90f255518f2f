"""WCP-EGR-002 over NSX PolicyNatRule bodies: SNAT leaving the cluster, NO_SNAT inside it."""

from __future__ import annotations

from ipaddress import IPv4Address as A

from wcp_acceptance.checks.nat import check_nat_case
from wcp_acceptance.targets import NatCase

SNAT = {"id": "snat", "action": "SNAT", "source_network": "", "destination_network": "",
        "translated_network": "172.16.2.1", "sequence_number": 1024, "enabled": True}
NO_SNAT_NS = {"id": "ns", "action": "NO_SNAT", "source_network": "10.244.0.0/20",
              "destination_network": "10.244.0.0/20", "sequence_number": 0, "enabled": True}
NO_SNAT_EG = {"id": "eg", "action": "NO_SNAT", "source_network": "10.244.0.0/20",
              "destination_network": "172.16.2.0/24", "sequence_number": 0, "enabled": True}
SEED = [SNAT, NO_SNAT_NS, NO_SNAT_EG]

OUT = NatCase("leaving the cluster", A("10.244.0.2"), A("192.168.10.5"), A("172.16.2.1"))
INSIDE = NatCase("inside the cluster", A("10.244.0.2"), A("10.244.0.16"), None)
EGRESS = NatCase("to the egress range", A("10.244.0.2"), A("172.16.2.2"), None)


def test_the_seeds_three_rules_pass_every_case() -> None:
    for case in (OUT, INSIDE, EGRESS):
        finding = check_nat_case(case, SEED)
        assert finding.ok, finding.message()
    assert str(INSIDE) == "10.244.0.2 -> 10.244.0.16 (inside the cluster)"


def test_without_the_snat_rule_leaving_traffic_fails() -> None:
    finding = check_nat_case(OUT, [NO_SNAT_NS, NO_SNAT_EG], tier1s=["t1_x_rtr"])
    assert not finding.ok
    assert finding.observed == "no enabled SNAT or NO_SNAT rule on Tier-1 t1_x_rtr applies"
    assert "SNAT rule for the Supervisor is missing" in finding.cause


def test_snat_to_another_address_names_it() -> None:
    finding = check_nat_case(OUT, [{**SNAT, "translated_network": "172.16.2.9"}, NO_SNAT_NS, NO_SNAT_EG])
    assert not finding.ok
    assert "translates to 172.16.2.9, not the egress IP 172.16.2.1" in finding.cause


def test_without_no_snat_inside_traffic_is_translated() -> None:
    finding = check_nat_case(INSIDE, [SNAT, NO_SNAT_EG])
    assert not finding.ok
    assert "NO_SNAT rule for traffic inside the cluster is missing" in finding.cause
    assert "translated to 172.16.2.1" in finding.cause


def test_a_disabled_no_snat_rule_does_not_count() -> None:
    finding = check_nat_case(EGRESS, [SNAT, NO_SNAT_NS, {**NO_SNAT_EG, "enabled": False}])
    assert not finding.ok
    assert any("disabled" in line for line in finding.evidence)


def test_a_no_snat_that_swallows_everything_breaks_egress() -> None:
    everything = {**NO_SNAT_NS, "destination_network": ""}
    finding = check_nat_case(OUT, [SNAT, everything])
    assert not finding.ok
    assert "NO_SNAT rule matching 192.168.10.5 comes first" in finding.cause
