"""WCP-DNS-001/002/003: names resolve from every interface, PTR round-trips, the VM's resolver works.

Pure functions over :class:`~wcp_acceptance.observations.DnsObservation` and
:class:`~wcp_acceptance.observations.ResolverObservation`. Every outcome other than a good answer
is told precisely (``no answer within 2.0 s``, ``ICMP host unreachable``, ``NXDOMAIN from
192.168.10.10``, ``wrong address 10.0.0.9``) with its likely cause. When a query gets no reply,
the VM's policy routing (:func:`wcp_acceptance.checks.routing.diagnose_path`) says which way it
left: the seed's failure, a rule steering management DNS into the workload table, is named as such.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from ipaddress import IPv4Network

from wcp_acceptance.checks.routing import PathDiagnosis, diagnose_path, is_one_of
from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.iproute import PolicyRouting
from wcp_acceptance.observations import DnsObservation, EgressObservation, ResolverObservation

A_CHECK_ID = "WCP-DNS-001"
PTR_CHECK_ID = "WCP-DNS-002"
RESOLVER_CHECK_ID = "WCP-DNS-003"

_STANDARD_TABLES = ("main", "local", "default")
_NO_PACKET_BACK = ("no_reply", "icmp_unreachable", "send_error")


def _name(value: str) -> str:
    return value.strip().rstrip(".").lower()


def _seconds(value: float) -> str:
    return f"{float(value)} s"


def _target(obs: DnsObservation) -> str:
    probe = obs.probe
    what = probe.name if obs.rtype == "A" else f"{probe.expected_address} (PTR)"
    return f"{what} from {probe.vm}/{probe.iface} ({probe.source.ip}) via {probe.server}"


def _query_evidence(obs: DnsObservation) -> list[str]:
    probe = obs.probe
    how = (
        "python3 on the VM (dnspython-built query, UDP socket bound to the source)"
        if obs.method == "python3"
        else "dig on the VM (-b source)"
    )
    lines = [
        f"query: {obs.rtype} {obs.qname} from {probe.source.ip} to {probe.server}:{probe.port}, "
        f"timeout {_seconds(obs.timeout_s)}, sent with {how}"
    ]
    result = f"result: {obs.outcome}"
    if obs.rcode:
        result += f", rcode {obs.rcode}"
    if obs.answers:
        result += f", answers {', '.join(obs.answers)}"
    if obs.elapsed_s is not None:
        result += f", after {obs.elapsed_s:.3f} s"
    lines.append(result)
    if obs.detail:
        lines.append(f"on the VM: {obs.detail}")
    return lines


def _icmp_kind(detail: str) -> str:
    text = detail.lower()
    if "errno 111" in text or "connection refused" in text or "port unreachable" in text:
        return "port"
    if "errno 101" in text or "network is unreachable" in text or "net unreachable" in text:
        return "network"
    if "errno 13" in text or "permission denied" in text or "prohibited" in text:
        return "administratively prohibited"
    return "host"


_ICMP_FROM = re.compile(r"unreachable from (\d+\.\d+\.\d+\.\d+)")


def _observed(obs: DnsObservation) -> str:
    server = obs.probe.server
    outcome = obs.outcome
    if outcome == "no_reply":
        return f"no answer within {_seconds(obs.timeout_s)}"
    if outcome == "icmp_unreachable":
        kind = _icmp_kind(obs.detail)
        sender = _ICMP_FROM.search(obs.detail or "")
        origin = f" from {sender.group(1)}" if sender else ""
        return (
            f"ICMP {kind} unreachable{origin}" if kind != "administratively prohibited"
            else f"ICMP administratively prohibited{origin}"
        )
    if outcome == "send_error":
        return f"the VM could not send the query ({obs.detail or 'no error text'})"
    if outcome == "nxdomain":
        return f"NXDOMAIN from {server}"
    if outcome in ("servfail", "refused"):
        return f"{outcome.upper()} from {server}"
    if outcome == "other_rcode":
        return f"rcode {obs.rcode or 'unknown'} from {server}"
    if outcome == "bad_reply":
        return f"a reply that is not a DNS answer to the query ({obs.detail or 'unparseable'})"
    return f"outcome {outcome}"


def _routing_cause(diag: PathDiagnosis, obs: DnsObservation, workload_dns: Collection[object]) -> str | None:
    """The cause when policy routing sends the query out another interface than the probe's."""
    probe = obs.probe
    if diag.refused:
        return f"the VM has no usable route to {probe.server} from {probe.source.ip} ({diag.refused})"
    if diag.dev is None or diag.dev == probe.iface:
        return None
    where = f"table {diag.table}" if diag.table else "an unexpected table"
    cause = f"policy routing sends it out {diag.dev} ({where})"
    if diag.steered and is_one_of(str(probe.server), workload_dns):
        cause += (
            f": management and workload DNS share {probe.server}, so the Supervisor's rule for the workload DNS "
            "server captures management DNS too"
        )
    return cause


SEED_RETURN_ROUTE = "172.16.0.0/16"  # the seed's author added this static route on the DNS server


def workload_no_reply_cause(server: object, vm: str, iface: str, egress: EgressObservation | None,
                            egress_range: IPv4Network | None) -> str | None:
    """Why a query from the workload network got nothing back, told apart by the same VM's egress datagram.

    The egress observer (WCP-EGR-001) sees whether workload traffic reaches the management network at all,
    and with which source: arrived as the egress IP means the query reached the server and its reply has no
    way back (the server lacks a return route for the egress range); nothing arrived means the egress path
    drops it before any server. None when the run has no egress observation for this VM."""
    if egress is None or egress.sender_error:
        return None
    egress_ip = egress.probe.egress_ip
    where = f"the egress range {egress_range}" if egress_range is not None else f"the egress IP {egress_ip}"
    if egress.arrived and egress.seen_source == str(egress_ip):
        return (
            f"the query reaches the management network (the egress observer got {vm}/{iface}'s datagram from the "
            f"egress IP {egress_ip}), but {server} sends no reply back: the DNS server has no return route for "
            f"{where} (the seed's author had to add a static route for {SEED_RETURN_ROUTE} on the dual-homed DNS "
            "server, via the router peered with the edge)"
        )
    if egress.arrived:
        return (
            f"workload traffic leaves without SNAT (the egress observer got {vm}/{iface}'s datagram from "
            f"{egress.seen_source}, not the egress IP {egress_ip}): {server} has no return route for that source"
        )
    icmp = f", only {egress.icmp_error}" if egress.icmp_error else ""
    return (
        f"workload traffic from {vm}/{iface} never arrives on the management network (the egress observer got "
        f"nothing from this VM either{icmp}): the egress path drops it (the edge or an NSX gateway firewall, a "
        "missing BGP route), before any DNS server"
    )


def _path_cause(diag: PathDiagnosis | None, obs: DnsObservation, egress: EgressObservation | None = None,
                egress_range: IPv4Network | None = None) -> str:
    """The cause when the query left the probe's own interface and nothing came back."""
    probe = obs.probe
    server = probe.server
    on_workload = diag is not None and diag.table not in _STANDARD_TABLES and diag.dev == probe.iface
    if obs.outcome == "icmp_unreachable":
        kind = _icmp_kind(obs.detail)
        if kind == "port":
            return f"{server} answers ICMP but nothing listens on port {probe.port} (DNS service down or firewalled)"
        if kind == "administratively prohibited":
            return f"a firewall between {probe.iface} and {server} rejects the query"
        gateway = f"the gateway {diag.gateway}" if diag is not None and diag.gateway else "a router on the path"
        return (
            f"{gateway} (or a router beyond it) has no route to {server} for traffic from {probe.iface}: "
            "the seed's 'Destination Host Unreachable' when the workload network cannot reach the DNS server"
        )
    if obs.outcome == "send_error":
        detail = obs.detail.lower()
        if "assign requested address" in detail or "errno 99" in detail:
            return f"the source address {probe.source.ip} is not configured on {probe.vm}"
        return f"the VM refuses to send to {server} from {probe.source.ip}: no route or a local firewall"
    if on_workload:
        told = workload_no_reply_cause(server, probe.vm, probe.iface, egress, egress_range)
        if told is not None:
            return told
        return (
            f"the DNS server {server} has no return route to the egress network the workload traffic is SNATed to "
            f"(or to {probe.source.network} without NAT), or egress from the workload network is blocked "
            "(NSX gateway firewall, missing SNAT rule or BGP route)"
        )
    return (
        f"{server} does not answer queries from {probe.source.ip}: the server is down, a firewall drops "
        "the query or the reply, or the server has no route back to this network"
    )


def egress_evidence(egress: EgressObservation | None) -> list[str]:
    """The egress datagram's fate, as evidence for a workload query that got nothing back."""
    if egress is None:
        return []
    if egress.sender_error:
        return [f"egress datagram from {egress.probe.vm}/{egress.probe.iface}: not sent ({egress.sender_error})"]
    seen = f"arrived from {egress.seen_source}" if egress.arrived else "never arrived"
    icmp = f", ICMP {egress.icmp_error}" if egress.icmp_error else ""
    return [f"egress datagram from {egress.probe.vm}/{egress.probe.iface} to the observer {egress.probe.observer}: "
            f"{seen} (egress IP {egress.probe.egress_ip}{icmp})"]


def _failure_cause(
    obs: DnsObservation, routing: PolicyRouting | None, workload_dns: Collection[object], route_get_raw: str | None,
    egress: EgressObservation | None = None, egress_range: IPv4Network | None = None,
) -> tuple[str, list[str]]:
    """Likely cause and routing evidence for an outcome with no DNS reply."""
    probe = obs.probe
    diag = diagnose_path(routing, probe.server, probe.source.ip, route_get_raw) if routing is not None else None
    evidence = list(diag.evidence()) if diag is not None else []
    if diag is not None:
        steering = _routing_cause(diag, obs, workload_dns)
        if steering is not None:
            return steering, evidence
    cause = _path_cause(diag, obs, egress, egress_range)
    if egress is not None and egress.probe.iface == obs.probe.iface and obs.outcome == "no_reply":
        evidence += egress_evidence(egress)
    if diag is None:
        cause += " (ip rule and ip route were not read, so policy routing is not ruled out)"
    return cause, evidence


def _rcode_cause(obs: DnsObservation) -> str:
    probe = obs.probe
    server = probe.server
    qname = obs.qname
    if obs.outcome == "nxdomain":
        if obs.rtype == "PTR":
            return (
                f"{server} has no PTR record for {probe.expected_address}: the reverse zone is missing, "
                "not delegated to this server, or lacks the entry"
            )
        return f"the zone on {server} has no record for {qname}, or the inventory's name is misspelt"
    if obs.outcome == "servfail":
        return (
            f"{server} could not resolve {qname}: its forwarder or the zone's authoritative server failed, "
            "or DNSSEC validation failed"
        )
    if obs.outcome == "refused":
        return (
            f"{server} refuses queries from {probe.source.ip}: its ACL (allow-query / allow-recursion) does not "
            f"include {probe.source.network}, or it does not serve this zone"
        )
    if obs.outcome == "bad_reply":
        return f"something other than a DNS server answers on {server}:{probe.port}, or a middlebox rewrites replies"
    return f"{server} answered with rcode {obs.rcode or 'unknown'}"


def _truncated(check_id: str, obs: DnsObservation, expected: str, records: str) -> Finding:
    """A reply with TC set and without the expected record: the answer did not fit in UDP."""
    server = obs.probe.server
    held = f"holding only {records}" if records else "with no record"
    return failed(
        check_id,
        _target(obs),
        expected,
        f"a truncated reply (TC) from {server} {held}",
        f"the answer did not fit in one UDP datagram, so {server} set TC; a resolver would retry over TCP, which "
        f"this probe does not: the record set is too large for UDP, or a middlebox caps DNS over UDP at 512 "
        f"bytes; check that TCP/53 to {server} is allowed and the answer's size",
        _query_evidence(obs),
    )


def _non_answer(
    check_id: str,
    obs: DnsObservation,
    expected: str,
    routing: PolicyRouting | None,
    workload_dns: Collection[object],
    route_get_raw: str | None,
    egress: EgressObservation | None = None,
    egress_range: IPv4Network | None = None,
) -> Finding:
    evidence = _query_evidence(obs)
    if obs.outcome in _NO_PACKET_BACK:
        cause, routing_evidence = _failure_cause(obs, routing, workload_dns, route_get_raw, egress, egress_range)
        evidence += routing_evidence
    else:
        cause = _rcode_cause(obs)
    return failed(check_id, _target(obs), expected, _observed(obs), cause, evidence)


def check_a_record(
    obs: DnsObservation,
    routing: PolicyRouting | None = None,
    workload_dns: Collection[object] = (),
    route_get_raw: str | None = None,
    egress: EgressObservation | None = None,
    egress_range: IPv4Network | None = None,
) -> Finding:
    """WCP-DNS-001: the A query from the interface's address gets an answer holding the expected address.

    ``routing`` (the VM's rules and tables) and ``route_get_raw`` (the VM's ``ip -j route get
    SERVER from SOURCE``) explain a query that got nothing back; ``workload_dns`` lets the cause
    name a management DNS server that is also a workload DNS server. ``egress`` (the same VM's
    WCP-EGR-001 datagram, when the run made it) and ``egress_range`` tell a workload query with no reply
    apart: the query arrived and the DNS server has no return route, or it never left the egress path.
    """
    if obs.rtype != "A":
        raise ValueError(f"check_a_record needs an A observation, got {obs.rtype} for {obs.qname}")
    probe = obs.probe
    want = probe.expected_address
    expected = f"an A record {want}" if want is not None else "an A record"
    if obs.outcome != "answer":
        return _non_answer(A_CHECK_ID, obs, expected, routing, workload_dns, route_get_raw, egress, egress_range)
    target = _target(obs)
    addresses = tuple(a.strip() for a in obs.answers)
    if obs.truncated and (want is None and not addresses or want is not None and str(want) not in addresses):
        return _truncated(A_CHECK_ID, obs, expected, f"A {', '.join(addresses)}" if addresses else "")
    if not addresses:
        return failed(
            A_CHECK_ID,
            target,
            expected,
            f"an answer with no A record (NODATA) from {probe.server}",
            f"{probe.name} exists in the zone on {probe.server} but has no A record (only other types)",
            _query_evidence(obs),
        )
    if want is None or str(want) in addresses:
        return passed(A_CHECK_ID, target, expected, f"A {', '.join(addresses)}")
    wrong = "wrong address" if len(addresses) == 1 else "wrong addresses"
    return failed(
        A_CHECK_ID,
        target,
        expected,
        f"{wrong} {', '.join(addresses)}",
        f"the zone on {probe.server} holds a stale or different A record for {probe.name}, "
        "or the inventory's expected address is out of date",
        _query_evidence(obs),
    )


def check_ptr_round_trip(
    obs: DnsObservation,
    routing: PolicyRouting | None = None,
    workload_dns: Collection[object] = (),
    route_get_raw: str | None = None,
    egress: EgressObservation | None = None,
    egress_range: IPv4Network | None = None,
) -> Finding:
    """WCP-DNS-002: the PTR of ``probe.expected_address`` names ``probe.name``.

    Names compare case-insensitively, a trailing dot ignored.
    """
    if obs.rtype != "PTR":
        raise ValueError(f"check_ptr_round_trip needs a PTR observation, got {obs.rtype} for {obs.qname}")
    probe = obs.probe
    if probe.expected_address is None:
        raise ValueError(f"{probe}: a PTR round trip needs the probe's expected_address")
    expected = f"PTR {obs.qname} -> {probe.name}"
    if obs.outcome != "answer":
        return _non_answer(PTR_CHECK_ID, obs, expected, routing, workload_dns, route_get_raw, egress, egress_range)
    target = _target(obs)
    names = tuple(_name(a) for a in obs.answers if a.strip())
    if obs.truncated and _name(probe.name) not in names:
        return _truncated(PTR_CHECK_ID, obs, expected, f"PTR {', '.join(names)}" if names else "")
    if not names:
        return failed(
            PTR_CHECK_ID,
            target,
            expected,
            f"an answer with no PTR record (NODATA) from {probe.server}",
            f"the reverse zone on {probe.server} has {obs.qname} but no PTR record for it",
            _query_evidence(obs),
        )
    if _name(probe.name) in names:
        return passed(PTR_CHECK_ID, target, expected, f"PTR {', '.join(names)}")
    return failed(
        PTR_CHECK_ID,
        target,
        expected,
        f"PTR points to {', '.join(names)}",
        f"A and PTR disagree: the reverse zone on {probe.server} names {probe.expected_address} "
        f"{names[0]}, not {probe.name} (a stale PTR, or the address was reused)",
        _query_evidence(obs),
    )


def _nameservers(resolv_conf: str) -> list[str]:
    servers = []
    for line in resolv_conf.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def check_vm_resolver(obs: ResolverObservation) -> Finding:
    """WCP-DNS-003: the VM's own resolver (``getent hosts``: nsswitch, /etc/hosts, resolv.conf) resolves the name."""
    probe = obs.probe
    target = str(probe)
    want = probe.expected_address
    expected = f"{probe.name} resolves to {want}" if want is not None else f"{probe.name} resolves"
    addresses = tuple(a.strip() for a in obs.addresses if a.strip())
    servers = _nameservers(obs.resolv_conf)
    evidence = [f"getent hosts {probe.name}: exit {obs.exit_status}, addresses {', '.join(addresses) or 'none'}"]
    evidence += [f"/etc/resolv.conf: {line}" for line in obs.resolv_conf.splitlines() if line.strip()]
    if not obs.resolv_conf.strip():
        evidence.append("/etc/resolv.conf: (empty or not read)")

    if obs.exit_status == 0 and addresses:
        if want is None or str(want) in addresses:
            return passed(RESOLVER_CHECK_ID, target, expected, f"{', '.join(addresses)}")
        return failed(
            RESOLVER_CHECK_ID,
            target,
            expected,
            f"wrong address {', '.join(addresses)}",
            "the VM's resolver gets a different answer than the inventory expects: an /etc/hosts entry, or a "
            f"resolver listed first ({', '.join(servers) or 'none listed'}) holds a different record",
            evidence,
        )

    if obs.timed_out:
        observed = f"no answer within {obs.timeout_s:g} s (getent was still waiting)"
    elif obs.exit_status == 2 or (obs.exit_status == 0 and not addresses):
        observed = f"getent hosts found no address (exit {obs.exit_status})"
    else:
        observed = f"getent hosts failed with exit {obs.exit_status}"
    if not servers:
        cause = "/etc/resolv.conf lists no nameserver, so the VM cannot resolve names at all"
    elif servers == ["127.0.0.53"]:
        cause = (
            "systemd-resolved (127.0.0.53) got no answer from the per-link DNS servers "
            "(10-eth0.network, 10-eth1.network): see the per-interface DNS checks (WCP-DNS-001) for the one that "
            "fails, typically management DNS steered out the workload interface"
        )
    else:
        cause = (
            f"none of the VM's resolvers ({', '.join(servers)}) answered for {probe.name}: the name is missing on "
            "them, or they are unreachable from the VM (see the per-interface DNS checks, WCP-DNS-001)"
        )
    return failed(RESOLVER_CHECK_ID, target, expected, observed, cause, evidence)
