"""DNS on the wire, without SSH: query building, reply parsing (dnspython and dig text), outcome mapping."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Interface

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.probes.dns import build_query, query_name, read_dig_output, read_reply, resolve_from_vm
from wcp_acceptance.targets import DnsProbe

PROBE = DnsProbe(
    vm="cp-1",
    iface="eth0",
    source=IPv4Interface("192.168.10.45/24"),
    server=IPv4Address("192.168.10.10"),
    name="vcenter.corp.local",
    expected_address=IPv4Address("192.168.10.20"),
)


def _reply(query: dns.message.Message, rcode: int = dns.rcode.NOERROR, *records: str) -> dns.message.Message:
    reply = dns.message.make_response(query)
    reply.set_rcode(rcode)
    for record in records:
        name, rtype, value = record.split()
        reply.answer.append(dns.rrset.from_text(name, 60, "IN", rtype, value))
    return reply


def test_query_names() -> None:
    assert query_name(PROBE, "A") == "vcenter.corp.local"
    assert query_name(PROBE, "PTR") == "20.10.168.192.in-addr.arpa"
    with pytest.raises(ValueError, match="needs expected_address"):
        query_name(DnsProbe("cp-1", "eth0", PROBE.source, PROBE.server, "x.corp.local"), "PTR")


def test_queries_are_recursive_with_random_ids() -> None:
    queries = [build_query("vcenter.corp.local", "A") for _ in range(8)]
    assert len({q.id for q in queries}) > 1
    assert all(q.flags & dns.flags.RD for q in queries)
    assert str(queries[0].question[0]) == "vcenter.corp.local. IN A"


def test_a_answers_in_order_without_cname() -> None:
    query = build_query("api.corp.local", "A")
    reply = _reply(
        query,
        dns.rcode.NOERROR,
        "api.corp.local. CNAME lb.corp.local.",
        "lb.corp.local. A 10.0.0.7",
    )
    reply.answer.append(dns.rrset.from_text("lb.corp.local.", 60, "IN", "A", "10.0.0.8", "10.0.0.7"))
    seen = read_reply(query, reply.to_wire(), "A")
    assert (seen.outcome, seen.answers, seen.rcode, seen.detail) == ("answer", ("10.0.0.7", "10.0.0.8"), "NOERROR", "")


def test_ptr_targets_without_trailing_dot() -> None:
    query = build_query("20.10.168.192.in-addr.arpa", "PTR")
    reply = _reply(query, dns.rcode.NOERROR, "20.10.168.192.in-addr.arpa. PTR vcenter.corp.local.")
    assert read_reply(query, reply.to_wire(), "PTR").answers == ("vcenter.corp.local",)


def test_nodata_is_an_answer_with_nothing_in_it() -> None:
    query = build_query("vcenter.corp.local", "A")
    seen = read_reply(query, _reply(query).to_wire(), "A")
    assert (seen.outcome, seen.answers) == ("answer", ())


@pytest.mark.parametrize(
    ("rcode", "outcome"),
    [
        (dns.rcode.NXDOMAIN, "nxdomain"),
        (dns.rcode.SERVFAIL, "servfail"),
        (dns.rcode.REFUSED, "refused"),
        (dns.rcode.NOTIMP, "other_rcode"),
    ],
    ids=["NXDOMAIN", "SERVFAIL", "REFUSED", "NOTIMP"],
)
def test_rcodes(rcode: int, outcome: str) -> None:
    query = build_query("vcenter.corp.local", "A")
    seen = read_reply(query, _reply(query, rcode).to_wire(), "A")
    assert (seen.outcome, seen.rcode) == (outcome, dns.rcode.to_text(rcode))


def test_reply_to_another_query_is_bad() -> None:
    query = build_query("vcenter.corp.local", "A")
    other = dns.message.make_query("vcenter.corp.local", "A")
    other.id = (query.id + 1) % 65536
    seen = read_reply(query, _reply(other, dns.rcode.NOERROR, "vcenter.corp.local. A 10.9.9.9").to_wire(), "A")
    assert seen.outcome == "bad_reply"
    assert seen.answers == ()
    assert seen.detail == f"reply id {other.id} does not match query id {query.id}"


def test_reply_for_another_question_is_bad() -> None:
    query = build_query("vcenter.corp.local", "A")
    other = dns.message.make_query("nsx.corp.local", "A")
    other.id = query.id
    seen = read_reply(query, _reply(other).to_wire(), "A")
    assert (seen.outcome, seen.detail) == ("bad_reply", "reply does not answer the question asked")


def test_garbage_is_bad() -> None:
    query = build_query("vcenter.corp.local", "A")
    seen = read_reply(query, b"\x00\x01hello", "A")
    assert seen.outcome == "bad_reply"
    assert seen.detail.startswith("7 bytes that are not a DNS message")


def test_truncated_reply_says_so() -> None:
    query = build_query("vcenter.corp.local", "A")
    reply = _reply(query, dns.rcode.NOERROR, "vcenter.corp.local. A 192.168.10.20")
    reply.flags |= dns.flags.TC
    assert read_reply(query, reply.to_wire(), "A").detail == "truncated reply (TC set)"


# dig 9.18 output, captured from real runs against dnsmasq on loopback
DIG_ANSWER = """;; Got answer:
;; WARNING: .local is reserved for Multicast DNS
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 39521
;; flags: qr aa rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
;; ANSWER SECTION:
api.corp.local.\t0\tIN\tCNAME\tlb.corp.local.
lb.corp.local.\t0\tIN\tA\t192.168.10.20
"""
DIG_PTR = """;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 45861
;; ANSWER SECTION:
20.10.168.192.in-addr.arpa. 0\tIN\tPTR\tvcenter.corp.local.
"""
DIG_NXDOMAIN = ";; Got answer:\n;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1\n"
DIG_REFUSED_ICMP = """;; communications error to 127.0.0.1#35354: connection refused

; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> -b 127.0.0.1 @127.0.0.1 -p 35354 vcenter.corp.local A
;; no servers could be reached
"""
DIG_TIMEOUT = ";; communications error to 127.0.0.1#35355: timed out\n;; no servers could be reached\n"
DIG_OLD_TIMEOUT = ";; connection timed out; no servers could be reached\n"
DIG_HOST_UNREACH = ";; communications error to 10.1.1.10#53: host unreachable\n"
DIG_BIND = (
    ";; UDP setup with 127.0.0.1#35353(127.0.0.1) for vcenter.corp.local failed: address not available.\n"
    ";; no servers could be reached\n"
)
DIG_NET_UNREACH_SETUP = ";; UDP setup with 10.1.1.10#53(10.1.1.10) for x.corp.local failed: network unreachable.\n"


@pytest.mark.parametrize(
    ("text", "rtype", "outcome", "answers", "rcode"),
    [
        (DIG_ANSWER, "A", "answer", ("192.168.10.20",), "NOERROR"),
        (DIG_PTR, "PTR", "answer", ("vcenter.corp.local",), "NOERROR"),
        (DIG_NXDOMAIN, "A", "nxdomain", (), "NXDOMAIN"),
        (DIG_REFUSED_ICMP, "A", "icmp_unreachable", (), None),
        (DIG_HOST_UNREACH, "A", "icmp_unreachable", (), None),
        (DIG_TIMEOUT, "A", "no_reply", (), None),
        (DIG_OLD_TIMEOUT, "A", "no_reply", (), None),
        (DIG_BIND, "A", "send_error", (), None),
        (DIG_NET_UNREACH_SETUP, "A", "send_error", (), None),
        ("dig: command not understood\n", "A", "bad_reply", (), None),
    ],
    ids=["a", "ptr", "nxdomain", "port-unreachable", "host-unreachable", "timeout", "old-timeout", "bind",
         "no-route", "garbage"],
)
def test_dig_output(text: str, rtype: str, outcome: str, answers: tuple[str, ...], rcode: str | None) -> None:
    seen = read_dig_output(text, rtype)  # type: ignore[arg-type]
    assert (seen.outcome, seen.answers, seen.rcode) == (outcome, answers, rcode)


def test_dig_problem_line_is_the_detail() -> None:
    detail = read_dig_output(DIG_REFUSED_ICMP, "A").detail
    assert detail == "communications error to 127.0.0.1#35354: connection refused"


# -- the python3 sender's JSON, mapped by resolve_from_vm ------------------------------------------------


class FakeVm:
    """Answers ``command -v`` and the DNS script with ``respond(query) -> stdout``; records argv."""

    def __init__(self, respond: Callable[[dns.message.Message], str], exit_status: int = 0) -> None:
        self.respond = respond
        self.exit_status = exit_status
        self.argvs: list[list[str]] = []

    def exec_line(self, line: str, timeout: float) -> tuple[int, bytes, bytes]:
        argv = shlex.split(line)
        self.argvs.append(argv)
        if argv[0] == "command":
            return 0, b"/usr/bin/python3\n", b""
        query = dns.message.from_wire(bytes.fromhex(argv[6]))
        return self.exit_status, self.respond(query).encode(), b"Traceback: boom\n" if self.exit_status else b""


def _resolve(vm: FakeVm, rtype: str = "A", timeout: float = 2.0):  # noqa: ANN202
    return resolve_from_vm(ReadOnlyRunner(vm, "cp-1", 5), PROBE, rtype, timeout)  # type: ignore[arg-type]


def test_script_gets_source_server_port_query_and_timeout() -> None:
    vm = FakeVm(lambda q: json.dumps({"ok": True, "reply": _reply(q).to_wire().hex(), "elapsed": 0.01}))
    _resolve(vm, "PTR", timeout=1.5)
    script_argv = vm.argvs[-1]
    assert script_argv[3:6] == ["192.168.10.45", "192.168.10.10", "53"]
    assert script_argv[7] == "1.5"
    asked = dns.message.from_wire(bytes.fromhex(script_argv[6]))
    assert str(asked.question[0]) == "20.10.168.192.in-addr.arpa. IN PTR"


def test_script_reply_becomes_an_answer() -> None:
    record = "vcenter.corp.local. A 192.168.10.20"
    vm = FakeVm(lambda q: json.dumps({"ok": True, "reply": _reply(q, 0, record).to_wire().hex(), "elapsed": 0.004}))
    seen = _resolve(vm)
    assert (seen.outcome, seen.answers, seen.rcode, seen.elapsed_s, seen.method) == (
        "answer",
        ("192.168.10.20",),
        "NOERROR",
        0.004,
        "python3",
    )


@pytest.mark.parametrize(
    ("error", "outcome"),
    [("timeout", "no_reply"), ("icmp", "icmp_unreachable"), ("send", "send_error")],
)
def test_script_errors_are_observations(error: str, outcome: str) -> None:
    text = {"timeout": "no reply within 2 s", "icmp": "[Errno 113] No route to host", "send": "[Errno 99] x"}[error]
    vm = FakeVm(lambda q: json.dumps({"ok": False, "error": error, "errno": 113, "text": text, "elapsed": 2.0}))
    seen = _resolve(vm)
    detail = "host unreachable ([Errno 113] No route to host)" if error == "icmp" else text
    assert (seen.outcome, seen.answers, seen.detail, seen.timeout_s) == (outcome, (), detail, 2.0)


def test_an_icmp_error_names_the_router_that_sent_it() -> None:
    record = {"ok": False, "error": "icmp", "errno": 113, "text": "[Errno 113] No route to host",
              "from": "10.244.0.1", "elapsed": 0.001}
    seen = _resolve(FakeVm(lambda q: json.dumps(record)))
    assert seen.outcome == "icmp_unreachable"
    assert seen.detail == "host unreachable from 10.244.0.1 ([Errno 113] No route to host)"


def test_script_that_prints_nothing_is_an_observation_error() -> None:
    with pytest.raises(ObservationError) as info:
        _resolve(FakeVm(lambda q: "", exit_status=1))
    assert info.value.cause == "the python3 sender exited 1 without a result line: Traceback: boom"
    assert info.value.target == str(PROBE)
