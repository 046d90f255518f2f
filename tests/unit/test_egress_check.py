"""WCP-EGR-001: the egress SNAT check's verdicts and messages, with the seed's NAT rules as second evidence."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from wcp_acceptance.checks.egress import address_in, applicable_rule, check_egress_snat
from wcp_acceptance.finding import CheckFailed, expect
from wcp_acceptance.observations import EgressObservation
from wcp_acceptance.targets import EgressProbe

PROBE = EgressProbe("cp-1", "eth1", IPv4Address("10.244.0.2"), IPv4Address("192.168.100.5"), 5599,
                    IPv4Address("172.16.2.1"))


def rule(rule_id: str, action: str, source: str = "", destination: str = "", translated: str | None = None,
         sequence: int = 0, enabled: bool = True) -> dict:
    body = {"resource_type": "PolicyNatRule", "id": rule_id, "display_name": rule_id, "action": action,
            "source_network": source, "destination_network": destination, "sequence_number": sequence,
            "enabled": enabled, "firewall_match": "MATCH_INTERNAL_ADDRESS"}
    if translated is not None:
        body["translated_network"] = translated
    return body


# the seed's three rules (NCP puts the NO_SNAT exemptions before the namespace SNAT)
SEED_RULES = [
    rule("snat-ns", "SNAT", translated="172.16.2.1", sequence=1024),
    rule("nosnat-cluster", "NO_SNAT", "10.244.0.0/20", "10.244.0.0/20", sequence=0),
    rule("nosnat-egress", "NO_SNAT", "10.244.0.0/20", "172.16.2.0/24", sequence=0),
]


def observation(**fields: object) -> EgressObservation:
    values: dict = {"probe": PROBE, "nonce": "wcp-egress-0123456789abcdef", "arrived": False, "timeout_s": 3.0}
    values.update(fields)
    return EgressObservation(**values)


def arrived_from(source: str, probe: EgressProbe = PROBE) -> EgressObservation:
    return observation(probe=probe, arrived=True, seen_source=source, seen_port=40000)


def test_arrival_as_the_egress_ip_passes():
    finding = expect(check_egress_snat(arrived_from("172.16.2.1"), SEED_RULES))
    assert finding.check_id == "WCP-EGR-001"
    assert finding.target == "cp-1/eth1 -> observer 192.168.100.5:5599"
    assert finding.observed == "arrived from 172.16.2.1:40000 (the egress IP), seen by the socket"


def test_untranslated_source_is_snat_missing():
    finding = check_egress_snat(arrived_from("10.244.0.2"))
    assert not finding.ok
    assert finding.expected == ("the datagram to arrive at 192.168.100.5:5599 with source 172.16.2.1 "
                                "(the egress IP)")
    assert finding.observed == "arrived with another source 10.244.0.2 (the VM's own workload address, untranslated)"
    assert finding.cause == "SNAT missing: no SNAT rule translated it"


def test_snat_missing_and_no_rule_in_nsx_says_so():
    rules = [r for r in SEED_RULES if r["action"] != "SNAT"]
    finding = check_egress_snat(arrived_from("10.244.0.2"), rules)
    assert finding.cause == ("SNAT missing: no SNAT rule translated it; "
                             "NSX has no enabled SNAT rule for 10.244.0.2 -> 192.168.100.5")
    assert "no enabled SNAT/NO_SNAT rule matches 10.244.0.2 -> 192.168.100.5" in finding.evidence
    assert "NSX NAT rule nosnat-egress: NO_SNAT source 10.244.0.0/20 destination 172.16.2.0/24 (sequence 0)" \
        in finding.evidence


def test_snat_missing_although_nsx_has_the_rule_blames_realisation():
    finding = check_egress_snat(arrived_from("10.244.0.2"), SEED_RULES)
    assert "NSX SNAT rule snat-ns translates to 172.16.2.1, so the rule is not realised" in finding.cause
    assert ("applies to 10.244.0.2 -> 192.168.100.5: NSX NAT rule snat-ns: SNAT source any destination any "
            "-> 172.16.2.1 (sequence 1024)") in finding.evidence


def test_disabled_snat_rule_does_not_count():
    rules = [rule("snat-ns", "SNAT", translated="172.16.2.1", sequence=1024, enabled=False)]
    finding = check_egress_snat(arrived_from("10.244.0.2"), rules)
    assert finding.cause.endswith("NSX has no enabled SNAT rule for 10.244.0.2 -> 192.168.100.5")
    assert "NSX NAT rule snat-ns: SNAT source any destination any -> 172.16.2.1 (sequence 1024, disabled)" \
        in finding.evidence


def test_observer_inside_a_no_snat_range_is_named():
    probe = EgressProbe("cp-2", "eth1", IPv4Address("10.244.0.3"), IPv4Address("172.16.2.50"), 5599,
                        IPv4Address("172.16.2.1"))
    finding = check_egress_snat(arrived_from("10.244.0.3", probe), SEED_RULES)
    assert not finding.ok
    assert "NSX NO_SNAT rule nosnat-egress (destination 172.16.2.0/24) exempts it" in finding.cause


def test_another_source_is_snat_to_the_wrong_ip():
    finding = check_egress_snat(arrived_from("172.16.2.9"))
    assert finding.observed == "arrived with another source 172.16.2.9"
    assert finding.cause == "SNAT to the wrong IP (rule translates to 172.16.2.9)"


def test_wrong_ip_names_the_rule_translation():
    rules = [rule("snat-ns", "SNAT", translated="172.16.2.7", sequence=1024)]
    finding = check_egress_snat(arrived_from("172.16.2.7"), rules)
    assert finding.cause == "SNAT to the wrong IP (rule translates to 172.16.2.7)"


def test_right_rule_but_other_source_points_past_the_gateway():
    finding = check_egress_snat(arrived_from("203.0.113.9"), SEED_RULES)
    assert finding.cause.startswith("SNAT to the wrong IP: NSX SNAT rule snat-ns translates to 172.16.2.1, "
                                    "so another NAT between the gateway and the observer rewrites it to 203.0.113.9")


def test_icmp_host_unreachable_is_reported_as_such():
    finding = check_egress_snat(observation(icmp_error="host unreachable from 10.244.0.1"))
    assert finding.observed == "never arrived; the VM got host unreachable from 10.244.0.1"
    assert finding.cause.startswith("no route to the observer")
    assert "the VM's socket got ICMP: host unreachable from 10.244.0.1" in finding.evidence


def test_icmp_port_unreachable_blames_the_observer():
    finding = check_egress_snat(observation(icmp_error="port unreachable ([Errno 111] Connection refused)"))
    assert finding.observed == "never arrived; the VM got port unreachable ([Errno 111] Connection refused)"
    assert "nothing listened on port 5599" in finding.cause


def test_nothing_arrived_states_the_timeout_and_the_likely_causes():
    finding = check_egress_snat(observation())
    assert finding.observed == "never arrived: no datagram within 3 s (timeout)"
    for cause in ("egress blackholed", "no route from the workload table",
                  "observer is not reachable from the workload network"):
        assert cause in finding.cause
    assert finding.evidence[0] == ("sent from cp-1/eth1 10.244.0.2 to 192.168.100.5:5599, "
                                   "nonce wcp-egress-0123456789abcdef, egress timeout 3 s")


def test_vm_that_could_not_send_is_named():
    finding = check_egress_snat(observation(sender_error="[Errno 99] Cannot assign requested address"))
    assert finding.observed == ("not sent: the VM could not send from 10.244.0.2 "
                                "([Errno 99] Cannot assign requested address)")
    assert "not configured on cp-1/eth1" in finding.cause


def test_failure_message_reads_expected_observed_cause_evidence():
    obs = observation(arrived=True, seen_source="10.244.0.2", seen_port=40000, method="sniff",
                      other_arrivals=("sniffer on ens192: ICMP host unreachable from 172.16.2.254",))
    with pytest.raises(CheckFailed) as failure:
        expect(check_egress_snat(obs, SEED_RULES))
    lines = str(failure.value).splitlines()
    assert lines[0] == ("cp-1/eth1 -> observer 192.168.100.5:5599: expected the datagram to arrive at "
                        "192.168.100.5:5599 with source 172.16.2.1 (the egress IP); observed arrived with another "
                        "source 10.244.0.2 (the VM's own workload address, untranslated).")
    assert lines[1].startswith("Likely cause: SNAT missing: no SNAT rule translated it; NSX SNAT rule snat-ns")
    assert lines[2] == "Evidence:"
    assert "  the observer (sniff) saw it from 10.244.0.2:40000" in lines
    assert "  sniffer on ens192: ICMP host unreachable from 172.16.2.254" in lines


@pytest.mark.parametrize(("address", "networks", "inside"), [
    ("10.244.0.2", "", True),
    ("10.244.0.2", None, True),
    ("10.244.0.2", "10.244.0.0/20", True),
    ("10.244.16.2", "10.244.0.0/20", False),
    ("172.16.2.5", "10.244.0.0/20, 172.16.2.0/24", True),
    ("172.16.2.5", "172.16.2.1-172.16.2.10", True),
    ("172.16.2.11", "172.16.2.1-172.16.2.10", False),
    ("172.16.2.1", "172.16.2.1", True),
    ("172.16.2.1", "not-a-network", False),
])
def test_nsx_network_fields_are_parsed(address, networks, inside):
    assert address_in(address, networks) is inside


def test_lowest_sequence_number_applies_first():
    applied = applicable_rule(SEED_RULES, "10.244.0.2", "172.16.2.20")
    assert applied is not None
    assert applied["id"] == "nosnat-egress"
    applied = applicable_rule(SEED_RULES, "10.244.0.2", "192.168.100.5")
    assert applied is not None
    assert applied["id"] == "snat-ns"


def test_lost_datagram_with_a_correct_snat_rule_adds_no_nat_cause():
    finding = check_egress_snat(observation(), SEED_RULES)
    assert "NSX" not in finding.cause
    assert "applies to 10.244.0.2 -> 192.168.100.5: NSX NAT rule snat-ns" in " ".join(finding.evidence)


def test_lost_datagram_without_snat_rule_names_the_missing_rule():
    rules = [r for r in SEED_RULES if r["action"] != "SNAT"]
    finding = check_egress_snat(observation(), rules)
    assert finding.cause.endswith("; NSX has no enabled SNAT rule for 10.244.0.2 -> 192.168.100.5: an untranslated "
                                  "workload address is dropped or not routed back upstream")
