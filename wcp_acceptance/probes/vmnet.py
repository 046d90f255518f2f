"""Return path, clock, NTP and path MTU, observed on a control-plane VM with allow-listed read-only commands.

- return path: one ``cat`` per VM of ``/proc/sys/net/ipv4/conf/{all,<iface>...}/rp_filter`` and
  ``ip -j route get <dst> from <iface address>`` for each pair the VM's routing read (WCP-RT-001's) does
  not ask already, on a channel of its own beside that read; the pairs it does ask are taken from it
  (a ``python3`` wrapper around the route gets cost more in interpreter start-up than the commands);
- clock: ``date +%s.%N``, bracketed by the runner's clock read just before and just after the command
  (the VM read its clock somewhere inside that window: half of it bounds the error);
- NTP: a 48-byte NTP mode 3 query sent *from the VM's management address* by the DNS sender (it moves
  any datagram from a bound source and returns the reply bytes); the runner builds and parses it. From
  the VM, because the VM is what must keep time and its path to the server (policy routing, firewalls)
  is what can break; an answer to the runner proves nothing about the VM;
- path MTU: ``ping -n -M do -s <mtu - 28> -c 1 -W <wait> -I <eth1 address> <target>``. ``-I`` takes the
  interface's *address*, not its name: bound to the device (``-I eth1``) ping skips the Supervisor's
  ``from <eth1 address> lookup 200`` rule, looks the target up in the main table with eth1 forced and
  ARPs for it on the segment, so nothing beyond the edge ever answers; bound to the address, the probe
  takes the workload path the VM's own traffic takes. Only when the expected size fails, a short search
  (the MTU ping reports, else at most five halvings between 576 bytes and the expected size) finds the
  largest size that passes.
"""

from __future__ import annotations

import re
import secrets
import struct
import time
from collections.abc import Callable, Collection, Sequence
from ipaddress import IPv4Address

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory.model import ControlPlaneVm
from wcp_acceptance.probes.routing import RoutingRaw
from wcp_acceptance.probes.script_result import script_record
from wcp_acceptance.targets import ClockProbe, MtuProbe, NtpProbe
from wcp_acceptance.vm_scripts import DNS_QUERY_SCRIPT, icmp_text
from wcp_acceptance.vmnet_records import (
    ClockObservation,
    MtuObservation,
    NtpObservation,
    NtpOutcome,
    PingTry,
    ReturnPathObservation,
    RouteAnswer,
)

NTP_EPOCH = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
MIN_MTU = 576  # every IPv4 path carries this much; the search never goes below it
SEARCH_STEPS = 5  # halvings at most when the expected size fails and the MTU is not reported


# ---- return path ----------------------------------------------------------------------------------------
def observe_return_path(runner: ReadOnlyRunner, vm: ControlPlaneVm, destinations: Sequence[IPv4Address],
                        shared_pairs: Collection[tuple[str, str]] = (),
                        shared_routing: Callable[[], RoutingRaw] | None = None) -> ReturnPathObservation:
    """rp_filter of ``all`` and every interface (one ``cat``) and the kernel's route from each interface address
    to each destination. A (dst, src) pair in ``shared_pairs`` is taken from the VM's one routing read
    (``shared_routing``, which WCP-RT-001 makes anyway) instead of being asked again; the others are asked here,
    while that read runs on another channel."""
    target = f"{vm.name} return path"
    names = ["all", *vm.interfaces]
    files = [f"/proc/sys/net/ipv4/conf/{name}/rp_filter" for name in names]
    result = runner.run(["cat", *files])
    values = result.stdout.split()
    if not result.ok or len(values) != len(files) or not all(v.isdigit() for v in values):
        why = result.stderr.strip().splitlines()[0][:200] if result.stderr.strip() else \
            f"exit {result.exit_status}, {len(values)} values for {len(files)} files"
        raise ObservationError(target, f"cannot read rp_filter: {why}", (result.evidence(),))
    rp: dict[str, int | None] = {name: int(value) for name, value in zip(names, values, strict=True)}
    pairs = list(dict.fromkeys((str(dst), str(spec.address.ip)) for spec in vm.interfaces.values()
                               for dst in destinations))
    shared = set(shared_pairs) if shared_routing is not None else set()
    routes: dict[tuple[str, str], RouteAnswer] = {}
    for dst, src in (p for p in pairs if p not in shared):
        got = runner.run(["ip", "-j", "route", "get", dst, "from", src])
        routes[(dst, src)] = RouteAnswer(got.exit_status, got.stdout, got.stderr)
    if shared_routing is not None and any(p in shared for p in pairs):
        raw = shared_routing()
        for key in (p for p in pairs if p in shared):
            if key in raw.route_gets:
                routes[key] = RouteAnswer(0, raw.route_gets[key], "")
            elif key in raw.route_get_errors:
                routes[key] = RouteAnswer(2, "", raw.route_get_errors[key])
    return ReturnPathObservation(vm.name, rp, routes, result.evidence())


# ---- clock ------------------------------------------------------------------------------------------------
def observe_clock(runner: ReadOnlyRunner, probe: ClockProbe) -> ClockObservation:
    """The VM's clock between two readings of the runner's clock (``time.time`` before and after the command)."""
    before = time.time()
    result = runner.run(["date", "+%s.%N"])
    after = time.time()
    text = result.stdout.strip()
    try:
        vm_time = float(text)
    except ValueError:
        vm_time = float("nan")
    if not result.ok or vm_time != vm_time or not re.fullmatch(r"\d{9,12}(\.\d{1,9})?", text):
        raise ObservationError(str(probe), f"date +%s.%N exited {result.exit_status} and printed {text[:60]!r}, "
                               "not seconds since the epoch", (result.evidence(),))
    return ClockObservation(probe, vm_time, before, after, result.evidence())


# ---- NTP ------------------------------------------------------------------------------------------------------
def ntp_query(nonce: bytes) -> bytes:
    """A client (mode 3, version 4) request whose transmit timestamp is ``nonce``: the server copies it back
    as the originate timestamp, which ties the reply to this query."""
    return bytes([0x23]) + bytes(39) + nonce


def parse_ntp_reply(reply: bytes, nonce: bytes) -> tuple[int, int, float] | str:
    """``(leap, stratum, transmit time in Unix seconds)``, or why the bytes are no answer to our query."""
    if len(reply) < 48:
        return f"{len(reply)} bytes, shorter than an NTP header (48)"
    mode = reply[0] & 7
    if mode != 4:
        return f"mode {mode}, not a server reply (4)"
    if reply[24:32] != nonce:
        return "its originate timestamp is not our query's transmit timestamp"
    seconds, fraction = struct.unpack("!II", reply[40:48])
    return reply[0] >> 6, reply[1], seconds - NTP_EPOCH + fraction / 2**32


def observe_ntp(runner: ReadOnlyRunner, probe: NtpProbe, timeout: float) -> NtpObservation:
    """One NTP query from the VM's management address to the server, through the DNS sender."""
    nonce = secrets.token_bytes(8)
    wait = f"{max(timeout, 0.001):.3f}".rstrip("0").rstrip(".")
    before = time.time()
    result = runner.run(["python3", "-c", DNS_QUERY_SCRIPT, str(probe.source), str(probe.server), str(probe.port),
                         ntp_query(nonce).hex(), wait])
    after = time.time()
    record = script_record(result, str(probe))

    def made(outcome: NtpOutcome, detail: str = "", stratum: int | None = None, leap: int | None = None,
             server_time: float | None = None) -> NtpObservation:
        return NtpObservation(probe, outcome, stratum, leap, server_time, before, after, detail, timeout)

    if not record.get("ok"):
        error, text = record.get("error"), str(record.get("text") or "")
        if error == "timeout":
            return made("no_reply", f"no reply within {timeout:g} s (egress timeout)")
        if error == "icmp":
            code = record.get("errno")
            detail = icmp_text(code if isinstance(code, int) else 0, text, record.get("from"))
            return made("icmp_unreachable", detail)
        return made("send_error", text or str(error))
    try:
        reply = bytes.fromhex(str(record.get("reply", "")))
    except ValueError:
        return made("bad_reply", "the sender returned no reply bytes")
    parsed = parse_ntp_reply(reply, nonce)
    if isinstance(parsed, str):
        return made("bad_reply", parsed)
    leap, stratum, server_time = parsed
    return made("answer", stratum=stratum, leap=leap, server_time=server_time)


# ---- path MTU ------------------------------------------------------------------------------------------------
_MTU_RE = re.compile(r"mtu ?= ?(\d{2,5})")


def _ping(runner: ReadOnlyRunner, probe: MtuProbe, size: int, wait: int) -> PingTry:
    result = runner.run(["ping", "-n", "-M", "do", "-s", str(size - 28), "-c", "1", "-W", str(wait),
                         "-I", str(probe.source), str(probe.target)])
    if result.exit_status not in (0, 1) and "bytes from" not in result.stdout:
        if result.exit_status == 127:
            raise ObservationError(str(probe), "ping is not installed on the VM (exit 127)", (result.evidence(),))
        stderr = result.stderr.strip().splitlines()
        raise ObservationError(str(probe), f"ping exited {result.exit_status}"
                               + (f": {stderr[-1][:200]}" if stderr else ""), (result.evidence(),))
    text = "\n".join((result.stdout, result.stderr))
    ok = result.exit_status == 0 and "bytes from" in result.stdout
    said = [line.strip() for line in text.splitlines()
            if re.search(r"(?i)frag|too long|unreachable|error", line) and "statistics" not in line]
    found = _MTU_RE.search(text)
    detail = "a reply" if ok else (said[0][:200] if said else f"no reply within {wait} s")
    return PingTry(size, ok, detail, int(found.group(1)) if found else None)


def observe_mtu(runner: ReadOnlyRunner, probe: MtuProbe, wait: int) -> MtuObservation:
    """The expected size, DF set; when it fails, the largest size that passes (a short search)."""
    tries = [_ping(runner, probe, probe.mtu, wait)]
    if tries[0].ok:
        return MtuObservation(probe, tuple(tries), wait)
    good, bad = 0, probe.mtu
    reported = tries[0].reported_mtu
    if reported is not None and MIN_MTU <= reported < probe.mtu:
        tries.append(_ping(runner, probe, reported, wait))
        if tries[-1].ok:
            return MtuObservation(probe, tuple(tries), wait)
        bad = reported
    if bad > MIN_MTU:
        tries.append(_ping(runner, probe, MIN_MTU, wait))
        if not tries[-1].ok:
            return MtuObservation(probe, tuple(tries), wait)  # nothing passes: no path, not an MTU finding
        good = MIN_MTU
    for _ in range(SEARCH_STEPS):
        if bad - good <= 1 or good == 0:
            break
        middle = (good + bad) // 2
        tries.append(_ping(runner, probe, middle, wait))
        good, bad = (middle, bad) if tries[-1].ok else (good, middle)
    return MtuObservation(probe, tuple(tries), wait)


