"""A DNS reply with TC set is named as truncated, never as "no A record": the answer did not fit UDP."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface

import dns.flags
import dns.message
import dns.rrset

from wcp_acceptance.checks.dns import check_a_record, check_ptr_round_trip
from wcp_acceptance.observations import DnsObservation
from wcp_acceptance.probes.dns import build_query, read_reply
from wcp_acceptance.targets import DnsProbe

SERVER = IPv4Address("192.168.10.10")
VCENTER = IPv4Address("192.168.10.20")
PROBE = DnsProbe("cp-1", "eth0", IPv4Interface("192.168.10.45/24"), SERVER, "vcenter.corp.local", VCENTER)


def _truncated_reply(qname: str, rtype: str, records: list[str]) -> DnsObservation:
    query = build_query(qname, rtype)  # type: ignore[arg-type]
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.TC
    if records:
        reply.answer.append(dns.rrset.from_text_list(qname + ".", 300, "IN", rtype, records))
    reading = read_reply(query, reply.to_wire(), rtype)  # type: ignore[arg-type]
    return DnsObservation(PROBE, qname, rtype, reading.outcome, reading.answers, reading.rcode, 0.01, 2.0,  # type: ignore[arg-type]
                          "python3", reading.detail, reading.truncated)


def test_the_reader_marks_a_tc_reply_truncated() -> None:
    obs = _truncated_reply("vcenter.corp.local", "A", [])
    assert obs.truncated
    assert obs.outcome == "answer"


def test_an_empty_truncated_a_reply_names_the_truncation_not_a_missing_record() -> None:
    finding = check_a_record(_truncated_reply("vcenter.corp.local", "A", []))
    assert not finding.ok
    assert finding.observed == f"a truncated reply (TC) from {SERVER} with no record"
    assert "NODATA" not in finding.observed
    assert "no A record" not in finding.cause
    assert "did not fit in one UDP datagram" in finding.cause
    assert "a resolver would retry over TCP" in finding.cause


def test_a_truncated_reply_without_the_expected_address_says_what_it_held() -> None:
    finding = check_a_record(_truncated_reply("vcenter.corp.local", "A", ["10.0.0.1", "10.0.0.2"]))
    assert not finding.ok
    assert finding.observed.startswith(f"a truncated reply (TC) from {SERVER} holding only A ")
    assert set(finding.observed.rsplit(" A ", 1)[1].split(", ")) == {"10.0.0.1", "10.0.0.2"}


def test_a_truncated_reply_that_holds_the_expected_address_passes() -> None:
    assert check_a_record(_truncated_reply("vcenter.corp.local", "A", [str(VCENTER)])).ok


def test_an_empty_truncated_ptr_reply_names_the_truncation() -> None:
    qname = "20.10.168.192.in-addr.arpa"
    query = build_query(qname, "PTR")
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.TC
    reading = read_reply(query, reply.to_wire(), "PTR")
    obs = DnsObservation(PROBE, qname, "PTR", reading.outcome, reading.answers, reading.rcode, 0.01, 2.0, "python3",
                         reading.detail, reading.truncated)
    finding = check_ptr_round_trip(obs)
    assert not finding.ok
    assert "truncated reply (TC)" in finding.observed
    assert "a resolver would retry over TCP" in finding.cause
