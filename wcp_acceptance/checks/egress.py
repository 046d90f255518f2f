"""Egress SNAT check: a pure function ``EgressObservation (+ NSX NAT rules) -> Finding``.

WCP-EGR-001  a datagram from a VM's workload interface reaches the outside observer with
             source = the egress IP (the Tier-1 SNAT rule NCP creates for the namespace network)

The NSX NAT rules (``PolicyNatRule`` dicts, as the Policy API lists them) are optional second
evidence: the rule that applies to this traffic is shown, and its absence is said.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.observations import EgressObservation

EGRESS_SNAT = "WCP-EGR-001"

NatRule = Mapping[str, Any]


def address_in(address: str, networks: str | None) -> bool:
    """Is ``address`` in an NSX network field (IP, CIDR, ``a-b`` range, comma-separated; empty = any)?"""
    if not networks or not str(networks).strip():
        return True
    ip = ipaddress.ip_address(address)
    for item in (part.strip() for part in str(networks).split(",")):
        if not item:
            continue
        try:
            if "-" in item:
                low, high = (ipaddress.ip_address(x.strip()) for x in item.split("-", 1))
                if low.version == ip.version and low <= ip <= high:  # type: ignore[operator]
                    return True
            elif ip in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def describe_rule(rule: NatRule) -> str:
    name = rule.get("display_name") or rule.get("id") or "(unnamed)"
    source = rule.get("source_network") or "any"
    destination = rule.get("destination_network") or "any"
    translated = rule.get("translated_network")
    state = "" if rule.get("enabled", True) else ", disabled"
    to = f" -> {translated}" if translated else ""
    return (f"NSX NAT rule {name}: {rule.get('action')} source {source} destination {destination}{to} "
            f"(sequence {rule.get('sequence_number', '-')}{state})")


def applicable_rule(rules: Sequence[NatRule], source: str, destination: str) -> NatRule | None:
    """The enabled SNAT/NO_SNAT rule NSX applies to ``source -> destination`` (lowest sequence number first)."""
    candidates = [
        rule for rule in rules
        if rule.get("action") in ("SNAT", "NO_SNAT") and rule.get("enabled", True)
        and address_in(source, rule.get("source_network")) and address_in(destination, rule.get("destination_network"))
    ]
    candidates.sort(key=lambda r: int(r.get("sequence_number", 2**31)))
    return candidates[0] if candidates else None


def _nat_context(obs: EgressObservation, rules: Sequence[NatRule] | None) -> tuple[NatRule | None, list[str]]:
    if rules is None:
        return None, []
    probe = obs.probe
    relevant = [r for r in rules if r.get("action") in ("SNAT", "NO_SNAT", "REFLEXIVE")]
    evidence = [describe_rule(r) for r in relevant] or ["NSX NAT rules: no SNAT or NO_SNAT rule at all"]
    rule = applicable_rule(rules, str(probe.source), str(probe.observer))
    if rule is None:
        evidence.append(f"no enabled SNAT/NO_SNAT rule matches {probe.source} -> {probe.observer}")
    else:
        evidence.append(f"applies to {probe.source} -> {probe.observer}: {describe_rule(rule)}")
    return rule, evidence


def _nat_cause(obs: EgressObservation, rule: NatRule | None, rules: Sequence[NatRule] | None) -> str:
    """What the NSX rules say about this traffic, as a clause for the likely cause ("" without rules)."""
    if rules is None:
        return ""
    probe = obs.probe
    if rule is None:
        tail = "" if obs.arrived else ": an untranslated workload address is dropped or not routed back upstream"
        return f"; NSX has no enabled SNAT rule for {probe.source} -> {probe.observer}{tail}"
    name = rule.get("display_name") or rule.get("id")
    if rule.get("action") == "NO_SNAT":
        return (f"; NSX NO_SNAT rule {name} (destination {rule.get('destination_network') or 'any'}) exempts it: "
                f"the observer {probe.observer} is inside a no-SNAT range")
    translated = rule.get("translated_network")
    if translated and address_in(str(probe.egress_ip), str(translated)):
        if not obs.arrived:
            return ""  # the rule is right: the loss is elsewhere
        return (f"; NSX SNAT rule {name} translates to {translated}, so the rule is not realised on the gateway "
                "or the traffic does not pass the Tier-1")
    return f"; NSX SNAT rule {name} translates to {translated}, not the egress IP {probe.egress_ip}"


def check_egress_snat(obs: EgressObservation, nat_rules: Sequence[NatRule] | None = None) -> Finding:
    """WCP-EGR-001: the datagram arrived at the observer with source = the egress IP."""
    probe = obs.probe
    target = str(probe)
    expected = f"the datagram to arrive at {probe.observer}:{probe.port} with source {probe.egress_ip} (the egress IP)"
    rule, nat_evidence = _nat_context(obs, nat_rules)
    evidence = [
        f"sent from {probe.vm}/{probe.iface} {probe.source} to {probe.observer}:{probe.port}, nonce {obs.nonce}, "
        f"egress timeout {obs.timeout_s:g} s",
    ]
    if obs.arrived:
        evidence.append(f"the observer ({obs.method}) saw it from {obs.seen_source}:{obs.seen_port}")
    evidence.extend(obs.other_arrivals)
    if obs.icmp_error:
        evidence.append(f"the VM's socket got ICMP: {obs.icmp_error}")
    evidence.extend(nat_evidence)

    if obs.arrived and obs.seen_source == str(probe.egress_ip):
        return passed(EGRESS_SNAT, target, expected,
                      f"arrived from {obs.seen_source}:{obs.seen_port} (the egress IP), seen by the {obs.method}")
    if obs.arrived:
        seen = obs.seen_source
        if seen == str(probe.source):
            observed = f"arrived with another source {seen} (the VM's own workload address, untranslated)"
            cause = "SNAT missing: no SNAT rule translated it" + _nat_cause(obs, rule, nat_rules)
        else:
            observed = f"arrived with another source {seen}"
            snat = rule if rule is not None and rule.get("action") == "SNAT" else {}
            translated = snat.get("translated_network")
            if translated and address_in(str(probe.egress_ip), str(translated)):
                cause = (f"SNAT to the wrong IP: NSX SNAT rule {snat.get('display_name') or snat.get('id')} "
                         f"translates to {translated}, so another NAT between the gateway and the observer "
                         f"rewrites it to {seen}")
            else:
                cause = f"SNAT to the wrong IP (rule translates to {translated or seen})"
                if nat_rules is not None and rule is None:
                    cause += f"; NSX has no enabled SNAT rule for {probe.source}: another device translates it"
        return failed(EGRESS_SNAT, target, expected, observed, cause, evidence)

    if obs.sender_error:
        return failed(EGRESS_SNAT, target, expected,
                      f"not sent: the VM could not send from {probe.source} ({obs.sender_error})",
                      f"the workload address {probe.source} is not configured on {probe.vm}/{probe.iface}, or the "
                      "VM has no route to the observer from its workload table", evidence)
    if obs.icmp_error:
        icmp = obs.icmp_error
        if "port unreachable" in icmp:
            cause = (f"the datagram reached {probe.observer} but nothing listened on port {probe.port}: the "
                     "observer is not running there, or another host holds the observer address")
        elif "prohibited" in icmp:
            cause = "a firewall on the path rejects it (NSX gateway or distributed firewall)"
        else:
            cause = (f"no route to the observer: the VM's workload table or the Tier-1/Tier-0 has no route to "
                     f"{probe.observer}, or the observer is not reachable from the workload network")
        return failed(EGRESS_SNAT, target, expected, f"never arrived; the VM got {icmp}",
                      cause + _nat_cause(obs, rule, nat_rules), evidence)
    return failed(EGRESS_SNAT, target, expected,
                  f"never arrived: no datagram within {obs.timeout_s:g} s (timeout)",
                  "egress blackholed (a gateway firewall or the upstream router drops it), no route from the "
                  "workload table on the VM, or the observer is not reachable from the workload network"
                  + _nat_cause(obs, rule, nat_rules), evidence)
