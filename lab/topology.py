"""The lab's topology file: a typed, validated model and the per-node network plan derived from it.

A topology (``lab/topologies/seed.yaml`` by default) names the address plan, the nodes (one
network namespace each, ``<prefix>-<node>``), the DNS data, the NAT rules and the API VIP. Nothing
in the lab is hard-coded to the seed's numbers: everything the builder does comes from
:meth:`Topology.plan` and :meth:`Topology.links`, which are pure functions of the file (testable
without root).

Wiring by role (interface names are fixed so that a lab VM looks like a Supervisor VM):

==============  =====================================================================
bridge          ``br0`` inside its own namespace; one port per attached node, named after the node
router          eth0 management, eth1 uplink (point-to-point veth to the edge's eth0)
edge            eth0 uplink, eth1 downlink on the segment bridge (the segment's gateway)
control-plane   eth0 management, eth1 workload (segment), the Supervisor's table 200 and ip rules
dns/vcenter/    eth0 management
nsx/jumpbox
==============  =====================================================================

Bad input raises :class:`TopologyError` with every problem at once, one line each:
``seed.yaml: nodes.cp-1.workload: '10.244.0.300' is not an IPv4 address``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from wcp_acceptance.inventory.load import InventoryError, problem_lines, read_yaml

TOPOLOGIES_DIR = Path(__file__).resolve().parent / "topologies"
DEFAULT_TOPOLOGY = TOPOLOGIES_DIR / "seed.yaml"

WORKLOAD_TABLE = 200
"""The routing table the Supervisor's ip rules point at (``lookup 200``)."""

NODE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,13}[a-z0-9]$")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")

Port = Annotated[int, Field(ge=1, le=65535)]
UplinkRoutes = Literal["static", "bgp"]  # how the router knows the ingress/egress ranges: a static route, or BGP


class TopologyError(Exception):
    """The topology cannot be used; ``problems`` holds one readable line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def netns_name(prefix: str, node: str) -> str:
    """The network namespace of ``node`` in the lab ``prefix``: ``<prefix>-<node>``."""
    return f"{prefix}-{node}"


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can name a lab (lower-case letter, then up to 9 letters/digits)."""
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"lab prefix {prefix!r} must be a lower-case letter followed by up to 9 letters or digits")
    return prefix


# --------------------------------------------------------------------------------------------- the file


_N = TypeVar("_N", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SupervisorSpec(_Model):
    name: str
    cluster_moid: str = Field(pattern=r"^domain-c\d+$")
    vcenter_uuid: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    domain: str

    @property
    def ncp_cluster(self) -> str:
        """NCP's cluster name in this topology's form, ``domain-c<N>:<vCenter UUID>``."""
        return f"{self.cluster_moid}:{self.vcenter_uuid}"


class Networks(_Model):
    management: IPv4Network
    namespace: IPv4Network
    segment: IPv4Network
    service: IPv4Network
    ingress: IPv4Network
    egress: IPv4Network
    egress_ip: IPv4Address
    transit: IPv4Network
    uplink: IPv4Network


class DnsSpec(_Model):
    management: IPv4Address
    workload: IPv4Address
    return_route: IPv4Network | None = None
    records: dict[str, IPv4Address] = Field(default_factory=dict)

    @field_validator("records")
    @classmethod
    def _names(cls, value: dict[str, IPv4Address]) -> dict[str, IPv4Address]:
        for name in value:
            labels = name.rstrip(".").split(".")
            if any(not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label) for label in labels):
                raise ValueError(f"{name!r} is not a DNS name")
        return value


class BridgeNode(_Model):
    role: Literal["bridge"]
    network: Literal["management", "segment"]


class RouterNode(_Model):
    role: Literal["router"]
    management: IPv4Address
    uplink: IPv4Address
    routes_to_edge: tuple[IPv4Network, ...] = Field(min_length=1)


class EdgeNode(_Model):
    role: Literal["edge"]
    uplink: IPv4Address
    downlink: IPv4Address


class DnsNode(_Model):
    role: Literal["dns"]
    management: tuple[IPv4Address, ...] = Field(min_length=1)


class HostNode(_Model):
    role: Literal["vcenter", "nsx", "jumpbox"]
    management: IPv4Address


class ControlPlaneNode(_Model):
    role: Literal["control-plane"]
    management: IPv4Address
    workload: IPv4Address


Node = Annotated[
    BridgeNode | RouterNode | EdgeNode | DnsNode | HostNode | ControlPlaneNode, Field(discriminator="role")
]
ROLES = ("bridge", "router", "edge", "dns", "vcenter", "nsx", "jumpbox", "control-plane")


class ApiVip(_Model):
    address: IPv4Address
    ports: tuple[Port, ...] = Field(default=(443, 6443), min_length=1)


class ObserverSpec(_Model):
    port: Port = 40123


class NatRule(_Model):
    """One NSX NAT rule on the Supervisor's Tier-1, as NCP creates it (applied in list order)."""

    action: Literal["SNAT", "NO_SNAT"]
    source: IPv4Network | Literal["any"] = "any"
    destination: IPv4Network | Literal["any"] = "any"
    translated: IPv4Address | None = None

    @model_validator(mode="after")
    def _translation(self) -> NatRule:
        if self.action == "SNAT" and self.translated is None:
            raise ValueError("@translated: an SNAT rule needs the address it translates to")
        if self.action == "NO_SNAT" and self.translated is not None:
            raise ValueError("@translated: a NO_SNAT rule translates nothing")
        return self


class Topology(_Model):
    """A whole lab: address plan, nodes, DNS, NAT, API VIP (see ``lab/topologies/seed.yaml``)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    supervisor: SupervisorSpec
    networks: Networks
    dns: DnsSpec
    nodes: dict[str, Node]
    api_vip: ApiVip
    observer: ObserverSpec = ObserverSpec()
    nat: tuple[NatRule, ...] = ()
    services: Literal["seed"] = "seed"
    # ESXi hosts' management addresses: only routed to (WCP-RT-002 reads the VMs' routes to them, sends nothing)
    esxi_hosts: tuple[IPv4Address, ...] = ()

    @field_validator("nodes")
    @classmethod
    def _node_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not NODE_NAME_RE.match(name):
                raise ValueError(f"{name!r} is not a node name (lower-case letters, digits, '-'; 2 to 15 long)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        problems = _cross_check(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ------------------------------------------------------------------------------ node lookups

    def node_names(self) -> list[str]:
        """Every node, in file order."""
        return list(self.nodes)

    def names_by_role(self, role: str) -> list[str]:
        return [name for name, node in self.nodes.items() if node.role == role]

    def namespaces(self, prefix: str) -> dict[str, str]:
        """``{node: <prefix>-<node>}`` for every node."""
        return {name: netns_name(prefix, name) for name in self.nodes}

    @property
    def control_planes(self) -> dict[str, ControlPlaneNode]:
        return {n: node for n, node in self.nodes.items() if isinstance(node, ControlPlaneNode)}

    def _one(self, role: str) -> str:
        return self.names_by_role(role)[0]

    def _node_of(self, role: str, kind: type[_N]) -> tuple[str, _N]:
        """The one node with ``role``, typed (validation guarantees there is exactly one, of ``kind``)."""
        name = self._one(role)
        node = self.nodes[name]
        if not isinstance(node, kind):
            raise TypeError(f"node {name} with role {role} is not a {kind.__name__}")
        return name, node

    @property
    def router(self) -> tuple[str, RouterNode]:
        return self._node_of("router", RouterNode)

    @property
    def edge(self) -> tuple[str, EdgeNode]:
        return self._node_of("edge", EdgeNode)

    @property
    def dns_node(self) -> tuple[str, DnsNode]:
        return self._node_of("dns", DnsNode)

    def host(self, role: Literal["vcenter", "nsx", "jumpbox"]) -> tuple[str, HostNode]:
        return self._node_of(role, HostNode)

    @property
    def jumpbox(self) -> tuple[str, HostNode]:
        return self.host("jumpbox")

    def bridge(self, network: Literal["management", "segment"]) -> str:
        return next(n for n, node in self.nodes.items() if isinstance(node, BridgeNode) and node.network == network)

    # ------------------------------------------------------------------------------ the Supervisor's routing

    @property
    def shared_dns(self) -> bool:
        """Management and workload DNS are one address (the seed's failing deployment)."""
        return self.dns.workload == self.dns.management

    def with_shared_dns(self) -> Topology:
        """The seed's failing variant: workload DNS = management DNS, and no return route on the DNS server."""
        dns = self.dns.model_copy(update={"workload": self.dns.management, "return_route": None})
        return self.model_copy(update={"dns": dns})

    def cp_rules(self, node: str, shared_dns: bool | None = None) -> tuple[PolicyRule, ...]:
        """The priority-0 ip rules of control-plane VM ``node``, in the order the seed prints them.

        Healthy (workload DNS of its own): ingress, namespace, service, ``from <eth1>``, transit,
        workload DNS. Shared DNS (the seed's failure): the DNS address first, then ingress,
        namespace, ``from <eth1>``, transit, service. ``shared_dns=None`` derives it from the file.
        """
        vm = self.control_planes[node]
        nets = self.networks
        shared = self.shared_dns if shared_dns is None else shared_dns
        to = PolicyRule.to
        if shared:
            return (to(IPv4Network(self.dns.management)), to(nets.ingress), to(nets.namespace),
                    PolicyRule.from_(IPv4Network(vm.workload)), to(nets.transit), to(nets.service))
        return (to(nets.ingress), to(nets.namespace), to(nets.service), PolicyRule.from_(IPv4Network(vm.workload)),
                to(nets.transit), to(IPv4Network(self.dns.workload)))

    def cp_table200(self) -> tuple[RouteSpec, ...]:
        """Table 200 of every control-plane VM: ``default via <segment gw> dev eth1 proto static`` and the segment."""
        gateway = self.edge[1].downlink
        return (
            RouteSpec("default", via=gateway, dev="eth1", table=WORKLOAD_TABLE, proto="static"),
            RouteSpec(str(self.networks.segment), dev="eth1", table=WORKLOAD_TABLE, proto="static", scope="link"),
        )

    # ------------------------------------------------------------------------------ the network plan

    def links(self) -> tuple[LinkSpec, ...]:
        """Every veth pair: (node, interface) <-> (node, interface); a bridge end becomes a port of ``br0``."""
        mgmt, segment = self.bridge("management"), self.bridge("segment")
        router, _ = self.router
        edge, _ = self.edge
        out: list[LinkSpec] = []
        for name, node in self.nodes.items():
            if isinstance(node, (HostNode, DnsNode, ControlPlaneNode, RouterNode)):
                out.append(LinkSpec(name, "eth0", mgmt, name, bridge_port=True))
            if isinstance(node, ControlPlaneNode):
                out.append(LinkSpec(name, "eth1", segment, name, bridge_port=True))
        out.append(LinkSpec(router, "eth1", edge, "eth0"))
        out.append(LinkSpec(edge, "eth1", segment, edge, bridge_port=True))
        return tuple(out)

    def plan(self, node: str, *, uplink_routes: UplinkRoutes = "static") -> NodePlan:
        """What ``node``'s namespace holds: addresses, routes, ip rules, sysctls (no NAT: see lab.nft).

        ``uplink_routes="bgp"``: the router gets no static route for ``routes_to_edge``; it learns them
        from the edge by BGP (a running lab, :mod:`lab.bird`). ``"static"`` (a network-only build) keeps
        the static routes that stand for that peering."""
        spec = self.nodes[node]
        nets = self.networks
        plan = NodePlan(node, spec.role)
        plan.sysctls.update({"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"})
        rp_filter = "0"
        _, router = self.router
        _, edge = self.edge
        if isinstance(spec, BridgeNode):
            plan.bridge = "br0"
        elif isinstance(spec, RouterNode):
            plan.addresses["eth0"] = [_iface(spec.management, nets.management)]
            plan.addresses["eth1"] = [_iface(spec.uplink, nets.uplink)]
            if uplink_routes == "static":
                plan.routes.extend(RouteSpec(str(net), via=edge.uplink) for net in spec.routes_to_edge)
            plan.sysctls["net.ipv4.ip_forward"] = "1"
            # every packet it cannot route gets its "network unreachable" (bgp-down): the kernel's per-peer
            # limit (6, then 1 a second) would turn the runner's later connects into timeouts, by chance
            plan.sysctls["net.ipv4.icmp_ratelimit"] = "0"
        elif isinstance(spec, EdgeNode):
            plan.addresses["eth0"] = [_iface(spec.uplink, nets.uplink)]
            plan.addresses["eth1"] = [_iface(spec.downlink, nets.segment)]
            # The Tier-1/Tier-0 owns the ingress and egress ranges: the VIP and the SNAT IP answer on
            # the edge itself, anything else in those ranges is unreachable (never routed back up).
            plan.addresses["lo"] = [IPv4Interface(f"{self.api_vip.address}/32"), IPv4Interface(f"{nets.egress_ip}/32")]
            plan.routes.append(RouteSpec("default", via=router.uplink))
            plan.routes.append(RouteSpec(str(nets.ingress), type="unreachable"))
            if nets.egress != nets.ingress:
                plan.routes.append(RouteSpec(str(nets.egress), type="unreachable"))
            plan.sysctls["net.ipv4.ip_forward"] = "1"
            # ICMP errors leave from the interface the offending packet came in on (10.244.0.1 in
            # the seed's "From 10.244.0.1 ... Destination Host Unreachable").
            plan.sysctls["net.ipv4.icmp_errors_use_inbound_ifaddr"] = "1"
        elif isinstance(spec, DnsNode):
            plan.addresses["eth0"] = [_iface(a, nets.management) for a in spec.management]
            if self.dns.return_route is not None:
                plan.routes.append(RouteSpec(str(self.dns.return_route), via=router.management))
        elif isinstance(spec, HostNode):
            plan.addresses["eth0"] = [_iface(spec.management, nets.management)]
            plan.routes.append(RouteSpec("default", via=router.management))
        elif isinstance(spec, ControlPlaneNode):
            plan.addresses["eth0"] = [_iface(spec.management, nets.management)]
            plan.addresses["eth1"] = [_iface(spec.workload, nets.segment)]
            plan.routes.append(RouteSpec("default", via=router.management, dev="eth0"))
            plan.routes.extend(self.cp_table200())
            plan.rules.extend(self.cp_rules(node))
            # Replies and ICMP errors come back on the other interface than the reverse route
            # (policy routing): loose reverse-path filtering, as on the VMs.
            rp_filter = "2"
        plan.sysctls["net.ipv4.conf.all.rp_filter"] = rp_filter
        plan.sysctls["net.ipv4.conf.default.rp_filter"] = rp_filter
        return plan


def _iface(address: IPv4Address, network: IPv4Network) -> IPv4Interface:
    return IPv4Interface(f"{address}/{network.prefixlen}")


# --------------------------------------------------------------------------------------------- plan objects


@dataclass(frozen=True)
class PolicyRule:
    """One ``ip rule``: ``pref <priority> (to|from) <prefix> lookup <table>``."""

    selector: Literal["to", "from"]
    prefix: IPv4Network
    table: int = WORKLOAD_TABLE
    priority: int = 0

    @classmethod
    def to(cls, prefix: IPv4Network) -> PolicyRule:
        return cls("to", prefix)

    @classmethod
    def from_(cls, prefix: IPv4Network) -> PolicyRule:
        return cls("from", prefix)

    def _addr(self) -> str:
        return str(self.prefix.network_address) if self.prefix.prefixlen == 32 else str(self.prefix)

    def ip_args(self) -> list[str]:
        """Arguments after ``ip rule add``."""
        return ["pref", str(self.priority), self.selector, self._addr(), "lookup", str(self.table)]

    def text(self) -> str:
        """As ``ip rule show`` prints it: ``0:\tfrom all to 172.16.1.0/24 lookup 200``."""
        sel = f"from {self._addr()}" if self.selector == "from" else f"from all to {self._addr()}"
        return f"{self.priority}:\t{sel} lookup {self.table}"

    def as_json(self) -> dict[str, object]:
        """As ``ip -j rule show`` prints it."""
        out: dict[str, object] = {"priority": self.priority}
        host = self.prefix.prefixlen == 32
        if self.selector == "from":
            out["src"] = str(self.prefix.network_address)
            if not host:
                out["srclen"] = self.prefix.prefixlen
        else:
            out["src"] = "all"
            out["dst"] = str(self.prefix.network_address)
            if not host:
                out["dstlen"] = self.prefix.prefixlen
        out["table"] = str(self.table)
        return out


@dataclass(frozen=True)
class RouteSpec:
    """One route: ``[type] <dst> [via <gw>] [dev <dev>] [table <t>] [proto <p>] [scope <s>]``."""

    dst: str
    via: IPv4Address | None = None
    dev: str | None = None
    table: int | None = None
    proto: str | None = None
    scope: str | None = None
    type: Literal["unicast", "unreachable"] = "unicast"

    def ip_args(self) -> list[str]:
        """Arguments after ``ip route add``."""
        args: list[str] = [] if self.type == "unicast" else [self.type]
        args.append(self.dst)
        for key, value in (("via", self.via), ("dev", self.dev), ("table", self.table), ("proto", self.proto),
                           ("scope", self.scope)):
            if value is not None:
                args += [key, str(value)]
        return args


@dataclass(frozen=True)
class LinkSpec:
    """A veth pair ``a_node:a_if`` <-> ``b_node:b_if``; with ``bridge_port`` the b end joins ``br0``."""

    a_node: str
    a_if: str
    b_node: str
    b_if: str
    bridge_port: bool = False


@dataclass
class NodePlan:
    """Everything inside one node's namespace except NAT (lab.nft renders the edge's nftables)."""

    node: str
    role: str
    bridge: str | None = None
    addresses: dict[str, list[IPv4Interface]] = field(default_factory=dict)
    routes: list[RouteSpec] = field(default_factory=list)
    rules: list[PolicyRule] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- validation


def _cross_check(topo: Topology) -> list[str]:
    """Every cross-field problem as ``@field.path: reason``."""
    problems: list[str] = []
    nets = topo.networks
    counts = {role: topo.names_by_role(role) for role in ROLES}
    for role in ("router", "edge", "dns", "vcenter", "nsx", "jumpbox"):
        if len(counts[role]) != 1:
            problems.append(f"@nodes: needs exactly one node with role {role!r} (found {len(counts[role])})")
    if not counts["control-plane"]:
        problems.append("@nodes: needs at least one node with role 'control-plane'")
    for bridged in ("management", "segment"):
        found = [n for n, x in topo.nodes.items() if isinstance(x, BridgeNode) and x.network == bridged]
        if len(found) != 1:
            problems.append(f"@nodes: needs exactly one bridge for the {bridged} network (found {len(found)})")

    if not nets.segment.subnet_of(nets.namespace):
        problems.append(f"@networks.segment: {nets.segment} is outside the namespace network {nets.namespace}")
    if nets.egress_ip not in nets.egress:
        problems.append(f"@networks.egress_ip: {nets.egress_ip} is outside the egress network {nets.egress}")
    if topo.api_vip.address not in nets.ingress:
        problems.append(f"@api_vip.address: {topo.api_vip.address} is outside the ingress network {nets.ingress}")
    if topo.dns.management not in nets.management:
        problems.append(f"@dns.management: {topo.dns.management} is outside the management network {nets.management}")

    problems += _address_problems(nets, topo.nodes)

    if len(counts["dns"]) == 1:
        dns_name = counts["dns"][0]
        dns_node = topo.nodes[dns_name]
        assert isinstance(dns_node, DnsNode)  # noqa: S101 - by its role
        for key in ("management", "workload"):
            address = getattr(topo.dns, key)
            if address not in dns_node.management:
                problems.append(f"@dns.{key}: {address} is not an address of the DNS node {dns_name!r}")
    if len(counts["router"]) == 1 and topo.dns.return_route is not None:
        router = topo.nodes[counts["router"][0]]
        assert isinstance(router, RouterNode)  # noqa: S101 - by its role
        if not any(topo.dns.return_route.subnet_of(net) for net in router.routes_to_edge):
            problems.append(
                f"@dns.return_route: {topo.dns.return_route} is not routed to the edge by the router "
                f"(routes_to_edge: {', '.join(map(str, router.routes_to_edge))})"
            )
    if len(counts["router"]) == 1:
        router = topo.nodes[counts["router"][0]]
        assert isinstance(router, RouterNode)  # noqa: S101 - by its role
        for net in (nets.ingress, nets.egress):
            if not any(net.subnet_of(r) for r in router.routes_to_edge):
                problems.append(f"@nodes.{counts['router'][0]}.routes_to_edge: no route for {net} (ingress/egress)")
    for index, rule in enumerate(topo.nat):
        if rule.action == "SNAT" and rule.translated is not None and rule.translated not in nets.egress:
            problems.append(f"@nat[{index}].translated: {rule.translated} is outside the egress network {nets.egress}")
    for index, host in enumerate(topo.esxi_hosts):
        if host not in nets.management:
            problems.append(f"@esxi_hosts[{index}]: {host} is outside the management network {nets.management}")
    if len(set(topo.api_vip.ports)) != len(topo.api_vip.ports):
        problems.append("@api_vip.ports: a port is listed twice")
    return problems


# --------------------------------------------------------------------------------------------- loading


def _address_problems(nets: Networks, nodes: dict[str, Any]) -> list[str]:
    """Each node address inside its network, not a network/broadcast address, and used once."""
    problems: list[str] = []
    where = {"management": nets.management, "workload": nets.segment, "downlink": nets.segment, "uplink": nets.uplink}
    seen: dict[IPv4Address, str] = {}
    for name, node in nodes.items():
        for key, network in where.items():
            value = getattr(node, key, None)
            if value is None:
                continue
            for index, address in enumerate(value if isinstance(value, tuple) else (value,)):
                path = f"nodes.{name}.{key}" + (f"[{index}]" if isinstance(value, tuple) else "")
                if address not in network:
                    problems.append(f"@{path}: {address} is outside the {key} network {network}")
                elif address in (network.network_address, network.broadcast_address) and network.prefixlen < 31:
                    problems.append(f"@{path}: {address} is the network or broadcast address of {network}")
                if address in seen:
                    problems.append(f"@{path}: {address} is already used by {seen[address]}")
                seen.setdefault(address, path)
    return problems


def _partial_problems(data: dict[str, Any]) -> list[str]:
    """Address checks over the parts that are valid on their own, when the whole file is not.

    Pydantic skips a model's cross-field validator once a field failed; this keeps "every problem
    at once" true for the address plan (a bad address elsewhere does not hide an out-of-range one).
    """
    try:
        nets = Networks.model_validate(data.get("networks"))
    except ValidationError:
        return []
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, dict):
        return []
    adapter: TypeAdapter[Any] = TypeAdapter(Node)
    nodes = {}
    for name, raw in raw_nodes.items():
        try:
            nodes[name] = adapter.validate_python(raw)
        except ValidationError:
            continue
    return [f"{line[1:].partition(': ')[0]}: {line.partition(': ')[2]}" for line in _address_problems(nets, nodes)]


def _clean_loc(error: dict[str, Any]) -> dict[str, Any]:
    """Drop the discriminator tag pydantic inserts into a node's path (``nodes.cp-1.control-plane.x``)."""
    loc = list(error["loc"])
    if len(loc) >= 3 and loc[0] == "nodes" and loc[2] in ROLES:
        del loc[2]
    return {**error, "loc": tuple(loc)}


_NODE_REASONS = {
    "union_tag_invalid": "role {tag!r} is not one of " + ", ".join(repr(r) for r in ROLES),
    "union_tag_not_found": "needs a role (one of " + ", ".join(repr(r) for r in ROLES) + ")",
    "string_pattern_mismatch": "{input!r} does not match {pattern}",
}


def parse_topology(data: Any, source: str) -> Topology:
    """Validate already-parsed YAML; raise :class:`TopologyError` with every problem."""
    if not isinstance(data, dict):
        raise TopologyError([f"{source}: (top level): must be a mapping of keys to values"])
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for raw in exc.errors(include_url=False):
            error = _clean_loc(dict(raw))
            template = _NODE_REASONS.get(error["type"])
            if template is not None:
                ctx = error.get("ctx") or {}
                reason = template.format(tag=ctx.get("tag"), input=error.get("input"), pattern=ctx.get("pattern"))
                error = {**error, "type": "value_error", "msg": reason}
            problems.extend(p for p in problem_lines(source, error) if p not in problems)
        problems.extend(f"{source}: {p}" for p in _partial_problems(data) if f"{source}: {p}" not in problems)
        raise TopologyError(problems) from None


def load_topology(path: str | Path = DEFAULT_TOPOLOGY) -> Topology:
    """Read and validate a topology file, or raise :class:`TopologyError` listing every problem."""
    try:
        data = read_yaml(path, "topology")
    except InventoryError as exc:
        raise TopologyError(exc.problems) from None
    return parse_topology(data, str(path))
