"""DNS from a control-plane VM interface, with that interface's own address as the source.

The runner builds the query with dnspython (random id) and parses the reply; the VM only sends
the bytes (``python3`` running :data:`~wcp_acceptance.vm_scripts.DNS_QUERY_SCRIPT`), or,
when the VM has no python3, ``dig -b <source>`` whose text output is parsed instead. The method
used is recorded in the observation.

A DNS failure (no reply, ICMP error, NXDOMAIN, a reply that is not ours) is an *observation*;
:class:`~wcp_acceptance.finding.ObservationError` is raised only when the command itself could
not run (SSH down, command timeout, neither python3 nor dig on the VM).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.reversename

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.observations import DnsObservation, DnsOutcome
from wcp_acceptance.probes.script_result import script_record
from wcp_acceptance.targets import DnsProbe
from wcp_acceptance.vm_scripts import DNS_QUERY_SCRIPT, icmp_text

RType = Literal["A", "PTR"]
Method = Literal["auto", "python3", "dig"]

_RCODE_OUTCOME: dict[str, DnsOutcome] = {
    "NOERROR": "answer",
    "NXDOMAIN": "nxdomain",
    "SERVFAIL": "servfail",
    "REFUSED": "refused",
}


@dataclass(frozen=True)
class ReplyReading:
    """What a reply (or its absence) says, independent of how it was obtained."""

    outcome: DnsOutcome
    answers: tuple[str, ...] = ()
    rcode: str | None = None
    detail: str = ""
    truncated: bool = False  # TC set: the answer did not fit in UDP (a resolver would ask again over TCP)


def query_name(probe: DnsProbe, rtype: RType) -> str:
    """The name asked: the probe's name for A, the in-addr.arpa name of the expected address for PTR."""
    if rtype == "A":
        return probe.name.rstrip(".")
    if probe.expected_address is None:
        raise ValueError(f"{probe}: a PTR probe needs expected_address")
    return dns.reversename.from_address(str(probe.expected_address)).to_text(omit_final_dot=True)


def build_query(qname: str, rtype: RType) -> dns.message.QueryMessage:
    """A recursive query with a random id (dnspython picks it)."""
    return dns.message.make_query(qname, rtype)


def _seconds(value: float) -> str:
    text = f"{max(value, 0.001):.3f}".rstrip("0").rstrip(".")
    return text


def _rdata_text(rdata: Any, rtype: RType) -> str:
    if rtype == "A":
        return str(rdata.address)
    return str(rdata.target.to_text(omit_final_dot=True))


def read_reply(query: dns.message.Message, wire: bytes, rtype: RType) -> ReplyReading:
    """Parse ``wire`` as the reply to ``query``: id and question must match, then rcode and answers."""
    try:
        reply = dns.message.from_wire(wire)
    except dns.exception.DNSException as exc:
        return ReplyReading("bad_reply", detail=f"{len(wire)} bytes that are not a DNS message ({type(exc).__name__})")
    if not query.is_response(reply):
        if reply.id != query.id:
            why = f"reply id {reply.id} does not match query id {query.id}"
        else:
            why = "reply does not answer the question asked"
        return ReplyReading("bad_reply", rcode=dns.rcode.to_text(reply.rcode()), detail=why)
    rcode = dns.rcode.to_text(reply.rcode())
    wanted = dns.rdatatype.from_text(rtype)
    answers: list[str] = []
    for rrset in reply.answer:
        if rrset.rdtype != wanted:
            continue
        for rdata in rrset:
            text = _rdata_text(rdata, rtype)
            if text not in answers:
                answers.append(text)
    truncated = bool(reply.flags & dns.flags.TC)
    detail = "truncated reply (TC set)" if truncated else ""
    return ReplyReading(_RCODE_OUTCOME.get(rcode, "other_rcode"), tuple(answers), rcode, detail, truncated)


_DIG_STATUS = re.compile(r"->>HEADER<<-.*\bstatus:\s*([A-Z0-9]+)")
_DIG_ICMP = re.compile(r"(connection refused|host unreachable|network unreachable)", re.IGNORECASE)


def read_dig_output(text: str, rtype: RType) -> ReplyReading:
    """Parse ``dig ... +noall +answer +comments`` output (stdout and stderr together)."""
    status = _DIG_STATUS.search(text)
    if status is None:
        lines = text.splitlines()
        problem = next((line.strip("; ") for line in lines if "error" in line or "failed" in line), "")
        if "UDP setup" in text or "couldn't bind" in text or "not available" in text:
            return ReplyReading("send_error", detail=problem or text.strip()[:200])  # before any packet left
        icmp = _DIG_ICMP.search(text)
        if icmp is not None:
            return ReplyReading("icmp_unreachable", detail=problem or icmp.group(1))
        if "timed out" in text:
            return ReplyReading("no_reply", detail=problem or "connection timed out")
        return ReplyReading("bad_reply", detail=f"dig printed no reply header: {text.strip()[:200]!r}")
    rcode = status.group(1)
    answers: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        fields = line.split()
        if len(fields) >= 5 and fields[3] == rtype:
            value = fields[4].rstrip(".") if rtype == "PTR" else fields[4]
            if value not in answers:
                answers.append(value)
    return ReplyReading(_RCODE_OUTCOME.get(rcode, "other_rcode"), tuple(answers), rcode)


def _via_python(runner: ReadOnlyRunner, probe: DnsProbe, qname: str, rtype: RType, timeout: float) -> DnsObservation:
    query = build_query(qname, rtype)
    argv = [
        "python3",
        "-c",
        DNS_QUERY_SCRIPT,
        str(probe.source.ip),
        str(probe.server),
        str(probe.port),
        query.to_wire().hex(),
        _seconds(timeout),
    ]
    record = script_record(runner.run(argv), str(probe))
    elapsed = record.get("elapsed")
    elapsed_s = float(elapsed) if isinstance(elapsed, int | float) else None
    if record.get("ok"):
        try:
            wire = bytes.fromhex(str(record.get("reply", "")))
        except ValueError:
            reading = ReplyReading("bad_reply", detail="the sender returned a reply that is not hex")
        else:
            reading = read_reply(query, wire, rtype)
    else:
        kind = record.get("error")
        text = str(record.get("text", ""))
        if kind == "icmp" and isinstance(record.get("errno"), int):
            text = icmp_text(int(record["errno"]), text, record.get("from"))
        outcome: DnsOutcome = {"timeout": "no_reply", "icmp": "icmp_unreachable"}.get(  # type: ignore[assignment]
            str(kind), "send_error"
        )
        reading = ReplyReading(outcome, detail=text)
    return DnsObservation(
        probe=probe,
        qname=qname,
        rtype=rtype,
        outcome=reading.outcome,
        answers=reading.answers,
        rcode=reading.rcode,
        elapsed_s=elapsed_s,
        timeout_s=timeout,
        method="python3",
        detail=reading.detail,
        truncated=reading.truncated,
    )


def _via_dig(runner: ReadOnlyRunner, probe: DnsProbe, qname: str, rtype: RType, timeout: float) -> DnsObservation:
    seconds = min(60, max(1, math.ceil(timeout)))  # dig waits in whole seconds
    argv = [
        "dig",
        "-b",
        str(probe.source.ip),
        f"@{probe.server}",
        "-p",
        str(probe.port),
        qname,
        rtype,
        "+tries=1",
        f"+time={seconds}",
        "+noall",
        "+answer",
        "+comments",
    ]
    result = runner.run(argv)
    reading = read_dig_output(result.stdout + "\n" + result.stderr, rtype)
    if result.exit_status not in (0, 9) and reading.outcome == "bad_reply":
        raise ObservationError(str(probe), f"dig exited {result.exit_status}", (result.evidence(),))
    return DnsObservation(
        probe=probe,
        qname=qname,
        rtype=rtype,
        outcome=reading.outcome,
        answers=reading.answers,
        rcode=reading.rcode,
        elapsed_s=result.elapsed_s,  # includes the SSH round trip: dig prints no timing with +noall
        timeout_s=float(seconds),
        method="dig",
        detail=reading.detail,
    )


def resolve_from_vm(
    runner: ReadOnlyRunner, probe: DnsProbe, rtype: RType, timeout: float, *, method: Method = "auto"
) -> DnsObservation:
    """Ask ``probe.server`` for ``probe.name`` (A) or its reverse name (PTR) from ``probe.source``.

    ``method="auto"`` uses python3 on the VM when it has one, dig otherwise.
    """
    qname = query_name(probe, rtype)
    if method == "auto":
        if runner.available("python3"):
            method = "python3"
        elif runner.available("dig"):
            method = "dig"
        else:
            raise ObservationError(str(probe), f"{runner.vm_name} has neither python3 nor dig to send a DNS query")
    if method == "python3":
        return _via_python(runner, probe, qname, rtype, timeout)
    return _via_dig(runner, probe, qname, rtype, timeout)
