"""WCP-DNS-001/002/003 messages: every outcome says what was expected, what was seen, why, and the evidence."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

import pytest

from wcp_acceptance.checks.dns import check_a_record, check_ptr_round_trip, check_vm_resolver
from wcp_acceptance.finding import CheckFailed, expect
from wcp_acceptance.iproute import PolicyRouting
from wcp_acceptance.observations import DnsObservation, ResolverObservation
from wcp_acceptance.targets import DnsProbe, ResolverProbe

DATA = Path(__file__).resolve().parent.parent / "data" / "iproute"
SERVER = IPv4Address("192.168.10.10")
VCENTER = IPv4Address("192.168.10.20")


def _routing(variant: str) -> PolicyRouting:
    return PolicyRouting.from_json(
        (DATA / variant / "rule.json").read_text(), (DATA / variant / "route-table-all.json").read_text()
    )


def _probe(iface: str = "eth0", name: str = "vcenter.corp.local") -> DnsProbe:
    source = IPv4Interface("192.168.10.45/24") if iface == "eth0" else IPv4Interface("10.244.0.2/28")
    return DnsProbe("cp-1", iface, source, SERVER, name, VCENTER)


def _a(outcome: str, iface: str = "eth0", **kwargs: Any) -> DnsObservation:
    kwargs.setdefault("timeout_s", 2.0)
    return DnsObservation(_probe(iface), "vcenter.corp.local", "A", outcome, **kwargs)  # type: ignore[arg-type]


def _ptr(outcome: str, **kwargs: Any) -> DnsObservation:
    kwargs.setdefault("timeout_s", 2.0)
    return DnsObservation(_probe(), "20.10.168.192.in-addr.arpa", "PTR", outcome, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ WCP-DNS-001


def test_a_record_with_expected_address_passes() -> None:
    finding = check_a_record(_a("answer", answers=("192.168.10.20",), rcode="NOERROR"))
    assert finding.ok
    assert finding.check_id == "WCP-DNS-001"
    assert finding.target == "vcenter.corp.local from cp-1/eth0 (192.168.10.45) via 192.168.10.10"
    assert finding.observed == "A 192.168.10.20"


def test_seed_failure_names_policy_routing_with_rule_and_route_get() -> None:
    raw = (DATA / "seed-shared-dns" / "route-get_192.168.10.10_from_192.168.10.45.json").read_text()
    finding = check_a_record(_a("no_reply"), _routing("seed-shared-dns"), [SERVER], route_get_raw=raw)
    assert not finding.ok
    assert finding.expected == "an A record 192.168.10.20"
    assert finding.observed == "no answer within 2.0 s"
    assert finding.cause.startswith("policy routing sends it out eth1 (table 200)")
    assert "management and workload DNS share 192.168.10.10" in finding.cause
    assert 'ip rule "0: from all to 192.168.10.10 lookup 200"' in finding.evidence
    assert "ip route get 192.168.10.10 from 192.168.10.45 -> dev eth1 via 10.244.0.1" in finding.evidence
    message = finding.message()
    assert message.startswith(
        "vcenter.corp.local from cp-1/eth0 (192.168.10.45) via 192.168.10.10: expected an A record 192.168.10.20; "
        "observed no answer within 2.0 s.\nLikely cause: policy routing sends it out eth1 (table 200)"
    )
    with pytest.raises(CheckFailed):
        expect(finding)


def test_steering_without_shared_dns_list_still_names_the_table() -> None:
    finding = check_a_record(_a("icmp_unreachable", detail="[Errno 113] No route to host"), _routing("seed-shared-dns"))
    assert finding.observed == "ICMP host unreachable"
    assert finding.cause == "policy routing sends it out eth1 (table 200)"
    assert any(
        "(predicted from ip rule and ip route) -> dev eth1 via 10.244.0.1 (table 200)" in e for e in finding.evidence
    )


def test_no_reply_on_healthy_management_path_blames_server_or_firewall() -> None:
    finding = check_a_record(_a("no_reply", timeout_s=1.5), _routing("healthy"), [IPv4Address("192.168.10.11")])
    assert finding.observed == "no answer within 1.5 s"
    assert "192.168.10.10 does not answer queries from 192.168.10.45" in finding.cause
    assert "policy routing" not in finding.cause
    assert 'ip rule "32766: from all lookup main"' in finding.evidence


def test_no_reply_on_workload_interface_blames_return_route_or_egress() -> None:
    finding = check_a_record(_a("no_reply", iface="eth1", method="dig"), _routing("healthy"))
    assert finding.target == "vcenter.corp.local from cp-1/eth1 (10.244.0.2) via 192.168.10.10"
    assert "no return route to the egress network" in finding.cause
    assert "egress from the workload network is blocked" in finding.cause
    assert any("sent with dig on the VM" in line for line in finding.evidence)


def test_icmp_host_unreachable_on_workload_interface_names_the_gateway() -> None:
    obs = _a("icmp_unreachable", iface="eth1", detail="[Errno 113] No route to host")
    finding = check_a_record(obs, _routing("healthy"))
    assert finding.observed == "ICMP host unreachable"
    assert "the gateway 10.244.0.1 (or a router beyond it) has no route to 192.168.10.10" in finding.cause
    assert "on the VM: [Errno 113] No route to host" in finding.evidence


@pytest.mark.parametrize(
    ("detail", "observed", "cause_part"),
    [
        ("[Errno 111] Connection refused", "ICMP port unreachable", "nothing listens on port 53"),
        ("[Errno 101] Network is unreachable", "ICMP network unreachable", "has no route to 192.168.10.10"),
    ],
)
def test_icmp_kinds_are_told_apart(detail: str, observed: str, cause_part: str) -> None:
    finding = check_a_record(_a("icmp_unreachable", detail=detail), _routing("healthy"))
    assert finding.observed == observed
    assert cause_part in finding.cause


def test_no_routing_read_says_policy_routing_is_not_ruled_out() -> None:
    finding = check_a_record(_a("no_reply"))
    assert "policy routing is not ruled out" in finding.cause
    assert any(
        line.startswith("query: A vcenter.corp.local from 192.168.10.45 to 192.168.10.10:53")
        for line in finding.evidence
    )
    assert any("sent with python3 on the VM" in line for line in finding.evidence)


def test_send_error_for_a_missing_source_address() -> None:
    finding = check_a_record(_a("send_error", detail="[Errno 99] Cannot assign requested address"), _routing("healthy"))
    assert finding.observed == "the VM could not send the query ([Errno 99] Cannot assign requested address)"
    assert finding.cause == "the source address 192.168.10.45 is not configured on cp-1"


@pytest.mark.parametrize(
    ("outcome", "rcode", "observed", "cause_part"),
    [
        ("nxdomain", "NXDOMAIN", "NXDOMAIN from 192.168.10.10", "has no record for vcenter.corp.local"),
        ("servfail", "SERVFAIL", "SERVFAIL from 192.168.10.10", "its forwarder or the zone's authoritative server"),
        ("refused", "REFUSED", "REFUSED from 192.168.10.10", "does not include 192.168.10.0/24"),
        ("other_rcode", "NOTIMP", "rcode NOTIMP from 192.168.10.10", "answered with rcode NOTIMP"),
        ("bad_reply", None, "a reply that is not a DNS answer to the query (id mismatch)", "something other than"),
    ],
)
def test_rcode_outcomes(outcome: str, rcode: str | None, observed: str, cause_part: str) -> None:
    obs = _a(outcome, rcode=rcode, detail="id mismatch" if outcome == "bad_reply" else "")
    finding = check_a_record(obs, _routing("seed-shared-dns"), [SERVER])
    assert not finding.ok
    assert finding.observed == observed
    assert cause_part in finding.cause
    assert not any(line.startswith("ip rule") for line in finding.evidence)  # a reply came: routing is not the cause


def test_wrong_address_and_nodata() -> None:
    wrong = check_a_record(_a("answer", answers=("10.0.0.9",)))
    assert wrong.observed == "wrong address 10.0.0.9"
    assert "stale or different A record" in wrong.cause
    nodata = check_a_record(_a("answer", answers=()))
    assert nodata.observed == "an answer with no A record (NODATA) from 192.168.10.10"


def test_a_check_refuses_a_ptr_observation() -> None:
    with pytest.raises(ValueError, match="needs an A observation"):
        check_a_record(_ptr("answer"))


# ------------------------------------------------------------------------------ WCP-DNS-002


def test_ptr_round_trip_is_case_insensitive_and_ignores_trailing_dot() -> None:
    finding = check_ptr_round_trip(_ptr("answer", answers=("VCenter.Corp.Local.",)))
    assert finding.ok, finding.message()
    assert finding.check_id == "WCP-DNS-002"
    assert finding.expected == "PTR 20.10.168.192.in-addr.arpa -> vcenter.corp.local"
    assert finding.target == "192.168.10.20 (PTR) from cp-1/eth0 (192.168.10.45) via 192.168.10.10"


def test_ptr_pointing_elsewhere_fails() -> None:
    finding = check_ptr_round_trip(_ptr("answer", answers=("old-vc.corp.local",)))
    assert not finding.ok
    assert finding.observed == "PTR points to old-vc.corp.local"
    assert "A and PTR disagree" in finding.cause


def test_ptr_nxdomain_blames_the_reverse_zone() -> None:
    finding = check_ptr_round_trip(_ptr("nxdomain", rcode="NXDOMAIN"))
    assert finding.observed == "NXDOMAIN from 192.168.10.10"
    assert "no PTR record for 192.168.10.20" in finding.cause
    assert "reverse zone" in finding.cause


def test_ptr_no_reply_gets_the_routing_diagnosis() -> None:
    finding = check_ptr_round_trip(_ptr("no_reply"), _routing("seed-shared-dns"), [SERVER])
    assert finding.observed == "no answer within 2.0 s"
    assert finding.cause.startswith("policy routing sends it out eth1 (table 200)")


def test_ptr_needs_an_expected_address() -> None:
    probe = DnsProbe("cp-1", "eth0", IPv4Interface("192.168.10.45/24"), SERVER, "vcenter.corp.local")
    with pytest.raises(ValueError, match="needs the probe's expected_address"):
        check_ptr_round_trip(DnsObservation(probe, "x.in-addr.arpa", "PTR", "answer"))


# ------------------------------------------------------------------------------ WCP-DNS-003

RESOLVED = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.local\n"


def _resolver(addresses: tuple[str, ...], status: int, resolv_conf: str = RESOLVED) -> ResolverObservation:
    return ResolverObservation(ResolverProbe("cp-1", "vcenter.corp.local", VCENTER), addresses, status, resolv_conf)


def test_vm_resolver_passes_with_expected_address() -> None:
    finding = check_vm_resolver(_resolver(("192.168.10.20",), 0))
    assert finding.ok
    assert finding.check_id == "WCP-DNS-003"
    assert finding.target == "cp-1 resolver -> vcenter.corp.local"


def test_vm_resolver_not_found_through_systemd_resolved() -> None:
    finding = check_vm_resolver(_resolver((), 2))
    assert not finding.ok
    assert finding.observed == "getent hosts found no address (exit 2)"
    assert "systemd-resolved (127.0.0.53)" in finding.cause
    assert "WCP-DNS-001" in finding.cause
    assert "/etc/resolv.conf: nameserver 127.0.0.53" in finding.evidence
    assert "getent hosts vcenter.corp.local: exit 2, addresses none" in finding.evidence


def test_vm_resolver_with_explicit_nameservers_lists_them() -> None:
    finding = check_vm_resolver(_resolver((), 2, "nameserver 192.168.10.10 # mgmt\nnameserver 10.244.0.2\n"))
    assert "none of the VM's resolvers (192.168.10.10, 10.244.0.2) answered" in finding.cause


def test_vm_resolver_without_nameserver_or_with_wrong_address() -> None:
    empty = check_vm_resolver(_resolver((), 2, ""))
    assert empty.cause == "/etc/resolv.conf lists no nameserver, so the VM cannot resolve names at all"
    assert "/etc/resolv.conf: (empty or not read)" in empty.evidence
    wrong = check_vm_resolver(_resolver(("10.0.0.9",), 0))
    assert wrong.observed == "wrong address 10.0.0.9"
    assert "/etc/hosts" in wrong.cause
    other = check_vm_resolver(_resolver((), 1))
    assert other.observed == "getent hosts failed with exit 1"


def test_the_router_that_answered_unreachable_is_named() -> None:
    from ipaddress import IPv4Address, IPv4Interface

    from wcp_acceptance.checks.dns import check_a_record
    from wcp_acceptance.observations import DnsObservation
    from wcp_acceptance.targets import DnsProbe

    probe = DnsProbe("cp-1", "eth0", IPv4Interface("192.168.10.45/24"), IPv4Address("192.168.10.10"),
                     "vcenter.corp.local", IPv4Address("192.168.10.20"))
    obs = DnsObservation(probe, "vcenter.corp.local", "A", "icmp_unreachable", timeout_s=2.0,
                         detail="host unreachable from 10.244.0.1 ([Errno 113] No route to host)")
    assert check_a_record(obs).observed == "ICMP host unreachable from 10.244.0.1"
