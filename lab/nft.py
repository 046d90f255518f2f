"""The edge's nftables: NCP's NAT rules, the API VIP and the Tier-1 downlink's reverse-path check.

Everything lives in one table, ``ip wcp_lab``, inside the edge's namespace. :func:`edge_ruleset`
renders it from a topology; :func:`apply_ruleset` replaces the whole table atomically (one
``nft -f`` transaction that deletes and re-creates it), so a fault changes NAT or the VIP by
rendering a modified ruleset and applying it, and clearing the fault re-applies the original.

Chains (edge interfaces: eth0 uplink to the router, eth1 downlink on the segment):

``vip``        nat/prerouting: ``<vip> tcp dport P`` -> DNAT round robin (``numgen inc``) to the
               members' workload addresses, same port P; a pinned source (a fault's fixed share for
               one client) is matched first with its own members.
``postrouting``nat/postrouting: hairpin SNAT to the downlink address for DNATed traffic from the
               segment back onto it (NSX's LB SNAT); then NCP's NAT rules in order for traffic
               forwarded from the segment out of the uplink: NO_SNAT -> ``accept``, SNAT -> ``snat to``.
``urpf``       filter/forward and input: the downlink refuses traffic whose source is outside the
               namespace network with ICMP host-unreachable (see seed.yaml: the seed's symptom).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from ipaddress import IPv4Address
from typing import Any

from .topology import NatRule, Topology, netns_name

NFT = "/usr/sbin/nft"
IP = "/usr/sbin/ip"
TABLE = "wcp_lab"
UPLINK = "eth0"
DOWNLINK = "eth1"


class NftError(RuntimeError):
    """nft refused a ruleset or could not be run (the message carries nft's stderr)."""


def _match(field: str, value: object) -> str:
    return "" if value == "any" else f"ip {field} {value} "


def nat_rule_lines(rules: Sequence[NatRule]) -> list[str]:
    """NCP's NAT rules as nftables postrouting statements, in order (first match wins)."""
    lines = []
    for rule in rules:
        where = (f'iifname "{DOWNLINK}" oifname "{UPLINK}" '
                 f'{_match("saddr", rule.source)}{_match("daddr", rule.destination)}')
        label = f"{rule.action} {rule.source} -> {rule.destination}"
        if rule.action == "NO_SNAT":
            lines.append(f'{where}accept comment "{label}"')
        else:
            lines.append(f'{where}snat to {rule.translated} comment "{label} to {rule.translated}"')
    return lines


def _dnat(members: Sequence[IPv4Address]) -> str:
    if len(members) == 1:
        return f"dnat to {members[0]}"
    mapping = ", ".join(f"{index} : {address}" for index, address in enumerate(members))
    return f"dnat to numgen inc mod {len(members)} map {{ {mapping} }}"


def edge_ruleset(
    topology: Topology,
    *,
    nat: Sequence[NatRule] | None = None,
    vip_ports: Sequence[int] | None = None,
    vip_members: Sequence[IPv4Address] | None = None,
    vip_pinned: tuple[IPv4Address, Sequence[IPv4Address]] | None = None,
    urpf: bool = True,
) -> str:
    """The ``nft -f`` text for the edge; keyword arguments override the topology (for faults)."""
    nets = topology.networks
    _, edge = topology.edge
    vip = topology.api_vip.address
    rules = topology.nat if nat is None else tuple(nat)
    ports = topology.api_vip.ports if vip_ports is None else tuple(vip_ports)
    members = [vm.workload for vm in topology.control_planes.values()] if vip_members is None else list(vip_members)

    vip_lines: list[str] = []
    for port in ports:
        if vip_pinned is not None and vip_pinned[1]:  # one client's fixed share of the members, matched first
            source, share = vip_pinned
            vip_lines.append(f'ip daddr {vip} tcp dport {port} ip saddr {source} {_dnat(list(share))} '
                             f'comment "vip {vip}:{port} from {source}"')
        if members:
            vip_lines.append(f'ip daddr {vip} tcp dport {port} {_dnat(members)} comment "vip {vip}:{port}"')
    post_lines = [
        f'oifname "{DOWNLINK}" ct status dnat ip saddr {nets.namespace} snat to {edge.downlink} comment "lb hairpin"',
        *nat_rule_lines(rules),
    ]
    urpf_line = (f'iifname "{DOWNLINK}" ip saddr != {nets.namespace} reject with icmp type host-unreachable '
                 f'comment "urpf {DOWNLINK}"')
    urpf_lines = [urpf_line] if urpf else []

    def chain(name: str, hook: str, body: list[str]) -> str:
        inner = "".join(f"\t\t{line}\n" for line in body)
        return f"\tchain {name} {{\n\t\t{hook}\n{inner}\t}}\n"

    return (
        f"table ip {TABLE} {{}}\n"
        f"delete table ip {TABLE}\n"
        f"table ip {TABLE} {{\n"
        + chain("vip", "type nat hook prerouting priority dstnat; policy accept;", vip_lines)
        + chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", post_lines)
        + chain("urpf_forward", "type filter hook forward priority filter; policy accept;", urpf_lines)
        + chain("urpf_input", "type filter hook input priority filter; policy accept;", urpf_lines)
        + "}\n"
    )


def apply_ruleset(prefix: str, node: str, text: str, *, timeout: float = 10.0) -> None:
    """Replace the table in ``<prefix>-<node>`` with ``text`` (one atomic nft transaction)."""
    argv = [IP, "netns", "exec", netns_name(prefix, node), NFT, "-f", "-"]
    try:
        done = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise NftError(f"nft -f in {netns_name(prefix, node)} did not finish within {timeout} s") from None
    if done.returncode != 0:
        raise NftError(f"nft -f in {netns_name(prefix, node)} failed: {done.stderr.strip()}\n--- ruleset ---\n{text}")


def list_table(prefix: str, node: str, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """``nft -j list table ip wcp_lab`` in the node's namespace (the JSON objects, metainfo dropped)."""
    argv = [IP, "netns", "exec", netns_name(prefix, node), NFT, "-j", "list", "table", "ip", TABLE]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise NftError(f"nft list in {netns_name(prefix, node)} did not finish within {timeout} s") from None
    if done.returncode != 0:
        raise NftError(f"nft list in {netns_name(prefix, node)} failed: {done.stderr.strip()}")
    return [obj for obj in json.loads(done.stdout)["nftables"] if "metainfo" not in obj]
