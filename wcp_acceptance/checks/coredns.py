"""WCP-DNS-004: CoreDNS's upstreams answer from the workload network.

The Supervisor's CoreDNS forwards names outside the cluster to the upstreams of ``forward .`` in
its Corefile (``kube-system/coredns``; the exact Supervisor contents are not public, see
:mod:`wcp_acceptance.corefile`). Each upstream is asked from each control-plane VM's workload
address, as CoreDNS's own queries leave. A reply of any kind that answers the question (NOERROR or
NXDOMAIN) means the upstream is reachable and its answer comes back; anything else fails, told
apart as WCP-DNS-001 tells it: the query arrived and the reply has no way back, or it never left
the egress path (the same VM's egress datagram, WCP-EGR-001, when the run made it), or the Corefile
names an upstream the inventory does not know as a workload DNS server.
"""

from __future__ import annotations

from collections.abc import Collection
from ipaddress import IPv4Address, IPv4Network

from wcp_acceptance.checks.dns import _observed, _query_evidence, egress_evidence, workload_no_reply_cause
from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.observations import DnsObservation, UpstreamObservation

CHECK_ID = "WCP-DNS-004"
_ANSWERED = ("answer", "nxdomain")


def _one_cause(obs: UpstreamObservation, query: DnsObservation, known: bool,
               workload_dns: Collection[IPv4Address], egress_range: IPv4Network | None) -> str:
    server = query.probe.server
    probe = obs.probe
    listed = ", ".join(str(s) for s in workload_dns) or "none"
    if not known:
        return (
            f"the Corefile forwards to {server}, which is not a workload DNS server the inventory names ({listed}), "
            f"and nothing answers there: CoreDNS was given a wrong upstream (the workload DNS entered at enablement, "
            "or an edit of the coredns ConfigMap), so names outside the cluster do not resolve in pods"
        )
    if query.outcome == "no_reply":
        told = workload_no_reply_cause(server, probe.vm, probe.iface, obs.egress, egress_range)
        if told is not None:
            return told
        return (f"{server} sends nothing back to {probe.source.ip}: the DNS server has no return route for the "
                "egress range, or the egress path drops the query (no egress observation this run to tell which)")
    if query.outcome == "refused":
        return (f"{server} refuses queries from the workload network: its ACL (allow-query / allow-recursion) "
                "does not include the egress range the queries are SNATed to")
    if query.outcome == "servfail":
        return f"{server} cannot resolve {query.qname} itself: its own forwarder or the zone's server failed"
    if query.outcome == "icmp_unreachable":
        return f"the path from {probe.iface} to {server} answers ICMP unreachable: {_observed(query)}"
    if query.outcome == "send_error":
        return f"the VM cannot send from {probe.source.ip} to {server} ({query.detail or 'no error text'})"
    return f"{server} answers with something that is not a DNS reply to the query ({query.detail or 'unparseable'})"


def check_coredns_upstreams(obs: UpstreamObservation, workload_dns: Collection[IPv4Address] = (),
                            egress_range: IPv4Network | None = None) -> Finding:
    """WCP-DNS-004: every ``forward .`` upstream answers the VM's workload address."""
    probe = obs.probe
    target = str(probe)
    names = ", ".join(str(u) for u in obs.corefile.upstreams)
    expected = (f"each CoreDNS upstream ({names}, forward . in kube-system/coredns) answers {probe.name} asked from "
                f"{probe.vm}/{probe.iface} ({probe.source.ip})")
    if len(obs.queries) != len(obs.corefile.upstreams) or not obs.queries:
        raise ValueError(f"{target}: {len(obs.queries)} queries for {len(obs.corefile.upstreams)} upstreams")
    seen: list[str] = []
    causes: list[str] = []
    evidence = [f"Corefile: {obs.corefile.forward_line}"]
    known_servers = {IPv4Address(str(s)) for s in workload_dns}
    for query in obs.queries:
        server = query.probe.server
        if query.outcome in _ANSWERED:
            what = f"A {', '.join(query.answers)}" if query.answers else query.outcome.upper()
            seen.append(f"{server} answered ({what})")
            continue
        seen.append(f"{server}: {_observed(query)}")
        causes.append(_one_cause(obs, query, server in known_servers or not known_servers, sorted(known_servers),
                                 egress_range))
        evidence += _query_evidence(query)
    if not causes:
        return passed(CHECK_ID, target, expected, "; ".join(seen))
    if obs.egress is not None:
        evidence += egress_evidence(obs.egress)
    return failed(CHECK_ID, target, expected, "; ".join(seen), "; ".join(dict.fromkeys(causes)), evidence)
