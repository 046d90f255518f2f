"""WCP-DNS-004 and the workload-DNS causes: the Corefile parser, the check's messages, "no reply" vs "never arrived"."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

import pytest

from wcp_acceptance.checks.coredns import check_coredns_upstreams
from wcp_acceptance.checks.dns import check_a_record
from wcp_acceptance.corefile import corefile_upstreams
from wcp_acceptance.iproute import PolicyRouting
from wcp_acceptance.observations import DnsObservation, EgressObservation, UpstreamObservation
from wcp_acceptance.targets import DnsProbe, EgressProbe, UpstreamProbe

DATA = Path(__file__).resolve().parent.parent / "data" / "iproute"
WORKLOAD_DNS = IPv4Address("192.168.10.11")
WRONG = IPv4Address("192.168.10.99")
EGRESS_RANGE = IPv4Network("172.16.2.0/24")
SOURCE = IPv4Interface("10.244.0.2/28")
UPSTREAM = UpstreamProbe("cp-1", "eth1", SOURCE, "vcenter.corp.local", IPv4Address("192.168.10.20"))

SUPERVISOR_LIKE = """\
.:53 {
    errors
    health
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }
    forward . 192.168.10.11 192.168.10.12:5353 {
       max_fails 3   # a block of its own
    }
    cache 30
}
"""


# ------------------------------------------------------------------------------ the Corefile


def test_the_root_blocks_forward_upstreams_are_read_with_ports() -> None:
    read = corefile_upstreams(SUPERVISOR_LIKE)
    assert not read.problem
    assert [str(u) for u in read.upstreams] == ["192.168.10.11", "192.168.10.12:5353"]
    assert read.forward_line == "forward . 192.168.10.11 192.168.10.12:5353"


def test_other_server_blocks_and_comments_do_not_count() -> None:
    text = ("corp.local:53 {\n  forward . 10.0.0.1\n}\n# forward . 10.9.9.9\n"
            "dns://.:53 {\n  forward . dns://192.168.10.11   # the workload DNS\n}\n")
    assert [str(u) for u in corefile_upstreams(text).upstreams] == ["192.168.10.11"]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "empty"),
    ("corp.local {\n forward . 10.0.0.1\n}\n", "no server block for the root zone"),
    (".:53 {\n  cache 30\n}\n", "no forward directive"),
    (".:53 {\n  forward corp.local 10.0.0.1\n}\n", "does not forward the root zone"),
    (".:53 {\n  forward . /etc/resolv.conf\n}\n", "'/etc/resolv.conf' is not an IPv4 address"),
    (".:53 {\n  forward . tls://9.9.9.9\n}\n", "tls://9.9.9.9"),
    (".:53 {\n  forward . 10.0.0.1:99999\n}\n", "10.0.0.1:99999"),
])
def test_what_the_parser_cannot_read_is_a_problem_not_a_guess(text: str, problem: str) -> None:
    read = corefile_upstreams(text)
    assert not read.upstreams
    assert problem in read.problem


# ------------------------------------------------------------------------------ WCP-DNS-004


def _query(server: IPv4Address, outcome: str, **kwargs: Any) -> DnsObservation:
    kwargs.setdefault("timeout_s", 1.0)
    return DnsObservation(UPSTREAM.dns_probe(server), "vcenter.corp.local", "A", outcome,  # type: ignore[arg-type]
                          **kwargs)


def _egress(arrived: bool, seen: str | None = "172.16.2.1", icmp: str | None = None) -> EgressObservation:
    probe = EgressProbe("cp-1", "eth1", SOURCE.ip, IPv4Address("192.168.10.5"), 40123, IPv4Address("172.16.2.1"))
    return EgressObservation(probe, "n1", arrived, seen_source=seen if arrived else None, icmp_error=icmp)


def _observation(*queries: DnsObservation, egress: EgressObservation | None = None) -> UpstreamObservation:
    text = ".:53 {\n  forward . " + " ".join(str(q.probe.server) for q in queries) + "\n}\n"
    return UpstreamObservation(UPSTREAM, corefile_upstreams(text), queries, egress)


def test_every_upstream_answering_passes_and_says_what_came_back() -> None:
    obs = _observation(_query(WORKLOAD_DNS, "answer", answers=("192.168.10.20",), rcode="NOERROR"))
    finding = check_coredns_upstreams(obs, [WORKLOAD_DNS], EGRESS_RANGE)
    assert finding.ok, finding.message()
    assert finding.check_id == "WCP-DNS-004"
    assert finding.target == "cp-1/eth1 -> CoreDNS upstreams"
    assert finding.observed == "192.168.10.11 answered (A 192.168.10.20)"
    assert "forward . in kube-system/coredns" in finding.expected


def test_nxdomain_still_proves_the_answer_comes_back() -> None:
    assert check_coredns_upstreams(_observation(_query(WORKLOAD_DNS, "nxdomain", rcode="NXDOMAIN")),
                                   [WORKLOAD_DNS]).ok


def test_an_upstream_the_inventory_does_not_name_is_called_a_wrong_upstream() -> None:
    obs = _observation(_query(WRONG, "no_reply"), egress=_egress(True))
    finding = check_coredns_upstreams(obs, [WORKLOAD_DNS], EGRESS_RANGE)
    assert not finding.ok
    assert finding.observed == "192.168.10.99: no answer within 1.0 s"
    assert "forwards to 192.168.10.99, which is not a workload DNS server the inventory names (192.168.10.11)" \
        in finding.cause
    assert "return route" not in finding.cause
    assert "Corefile: forward . 192.168.10.99" in finding.evidence


def test_no_reply_while_egress_arrives_names_the_missing_return_route() -> None:
    obs = _observation(_query(WORKLOAD_DNS, "no_reply"), egress=_egress(True))
    finding = check_coredns_upstreams(obs, [WORKLOAD_DNS], EGRESS_RANGE)
    assert "has no return route for the egress range 172.16.2.0/24" in finding.cause
    assert "172.16.0.0/16" in finding.cause
    assert "egress path" not in finding.cause
    assert any("arrived from 172.16.2.1" in line for line in finding.evidence)


def test_no_reply_while_egress_never_arrives_names_the_egress_path() -> None:
    obs = _observation(_query(WORKLOAD_DNS, "no_reply"), egress=_egress(False))
    finding = check_coredns_upstreams(obs, [WORKLOAD_DNS], EGRESS_RANGE)
    assert "never arrives on the management network" in finding.cause
    assert "the egress path drops it" in finding.cause
    assert "return route" not in finding.cause


def test_egress_without_snat_is_named() -> None:
    obs = _observation(_query(WORKLOAD_DNS, "no_reply"), egress=_egress(True, seen="10.244.0.2"))
    assert "leaves without SNAT" in check_coredns_upstreams(obs, [WORKLOAD_DNS], EGRESS_RANGE).cause


def test_without_an_egress_observation_both_causes_stay_open() -> None:
    finding = check_coredns_upstreams(_observation(_query(WORKLOAD_DNS, "no_reply")), [WORKLOAD_DNS])
    assert "no return route for the egress range, or the egress path drops the query" in finding.cause


@pytest.mark.parametrize(("outcome", "kwargs", "part"), [
    ("refused", {"rcode": "REFUSED"}, "refuses queries from the workload network"),
    ("servfail", {"rcode": "SERVFAIL"}, "cannot resolve vcenter.corp.local itself"),
    ("icmp_unreachable", {"detail": "port unreachable ([Errno 111] Connection refused)"}, "ICMP port unreachable"),
    ("send_error", {"detail": "[Errno 101] Network is unreachable"}, "cannot send from 10.244.0.2"),
    ("bad_reply", {"detail": "reply id 1 does not match query id 2"}, "not a DNS reply"),
])
def test_each_failed_outcome_has_its_cause(outcome: str, kwargs: dict[str, Any], part: str) -> None:
    finding = check_coredns_upstreams(_observation(_query(WORKLOAD_DNS, outcome, **kwargs)), [WORKLOAD_DNS])
    assert not finding.ok
    assert part in finding.cause


def test_one_bad_upstream_of_two_fails_and_names_only_it() -> None:
    obs = _observation(_query(WORKLOAD_DNS, "answer", answers=("192.168.10.20",)), _query(WRONG, "no_reply"))
    finding = check_coredns_upstreams(obs, [WORKLOAD_DNS], EGRESS_RANGE)
    assert finding.observed == "192.168.10.11 answered (A 192.168.10.20); 192.168.10.99: no answer within 1.0 s"
    assert "192.168.10.11" not in finding.cause.split("names (")[0]


def test_queries_must_match_the_upstreams() -> None:
    obs = UpstreamObservation(UPSTREAM, corefile_upstreams(".:53 {\n forward . 10.0.0.1\n}\n"), ())
    with pytest.raises(ValueError, match="0 queries for 1 upstreams"):
        check_coredns_upstreams(obs, [WORKLOAD_DNS])


# ------------------------------------------------------------------------------ WCP-DNS-001 on eth1


def _routing() -> PolicyRouting:
    return PolicyRouting.from_json((DATA / "healthy" / "rule.json").read_text(),
                                   (DATA / "healthy" / "route-table-all.json").read_text())


def _workload_a() -> DnsObservation:
    probe = DnsProbe("cp-1", "eth1", SOURCE, WORKLOAD_DNS, "vcenter.corp.local", IPv4Address("192.168.10.20"))
    return DnsObservation(probe, "vcenter.corp.local", "A", "no_reply", timeout_s=1.0)


def test_dns_001_no_reply_with_egress_arriving_is_the_return_route() -> None:
    finding = check_a_record(_workload_a(), _routing(), egress=_egress(True), egress_range=EGRESS_RANGE)
    assert "the DNS server has no return route for the egress range 172.16.2.0/24" in finding.cause
    assert any(line.startswith("egress datagram from cp-1/eth1") for line in finding.evidence)


def test_dns_001_no_reply_with_egress_never_arriving_is_the_egress_path() -> None:
    finding = check_a_record(_workload_a(), _routing(), egress=_egress(False, icmp="host unreachable from 10.244.0.1"))
    assert "the egress path drops it" in finding.cause
    assert "only host unreachable from 10.244.0.1" in finding.cause
    assert "return route" not in finding.cause
