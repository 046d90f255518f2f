"""WCP-CAP-001: NCP's ingress and egress IP pools have free addresses, and the edge load balancer has room.

Targets: ``ingress IP pool``, ``egress IP pool``, ``edge load balancer``. Thresholds from the
inventory, ``capacity: {ip_pool_free_min: 5, lb_usage_max_percent: 80}`` (the defaults).

How the pools are found (a decision, FIELD-FACTS "NSX"): NCP's external pools are the Manager API's
IP pools (``GET /api/v1/pools/ip-pools``, one list) whose allocation ranges (or subnet CIDR) lie
inside the inventory's ``networks.ingress`` / ``networks.egress``. ncp.ini's ``external_ip_pools``
(egress) and ``external_ip_pools_lb`` (ingress) name the same pools, but reading them needs the
Kubernetes API and they may hold names or ids; the inventory's ranges need nothing else, and a pool
that serves the range is the one whose exhaustion breaks it. The Manager pool's ``pool_usage``
(``total_ids``, ``allocated_ids``, ``free_ids``) is documented [doc]; the Policy API's
``/infra/ip-pools/<id>`` usage field is not verified, so it is not read. A pool without a whole
``pool_usage`` is an error naming the API, never a full pool.

The edge load balancer: ``GET /policy/api/v1/infra/lb-node-usage?node_path=<edge node>`` for each
edge node of the Tier-0's edge cluster (``LBEdgeNodeUsage`` [doc]: ``current_load_balancer_credits``
against ``load_balancer_credit_capacity``, and the virtual server, pool and pool member counts
against their capacities). The ``*_capacity`` field names of the per-node type are read from the
summary type's reference, not from a captured answer: a node answer with no known (current,
capacity) pair is an error, never a pass.

Severity: 0 free addresses is critical (NCP cannot give the next Namespace or LoadBalancer an
address); fewer than ``ip_pool_free_min`` but some, and a load balancer over
``lb_usage_max_percent``, are major (plan it before it breaks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from typing import Any, Literal

from wcp_acceptance.finding import Finding, ObservationError, failed, passed
from wcp_acceptance.targets import CapacityTarget

CHECK_ID = "WCP-CAP-001"
IP_POOLS_API = "/api/v1/pools/ip-pools"  # Manager API: pool_usage is documented there (not on Policy's)
PoolRole = Literal["ingress", "egress"]

POOL_CAUSES = {
    "egress": "NCP takes each new vSphere Namespace's SNAT IP from the egress pool: with no address left the "
              "Namespace gets none (ncp/error.snat, IP_POOL_EXHAUSTED) and its workloads cannot leave the cluster; "
              "add a range to the pool (and the egress CIDR in Workload Management)",
    "ingress": "NCP takes each LoadBalancer Service's VIP from the ingress pool: with no address left new Services "
               "stay pending (ncp/error.loadbalancer, IP_POOL_EXHAUSTED); add a range to the pool (and the ingress "
               "CIDR in Workload Management)",
}
# (current, capacity) pairs of LBEdgeNodeUsage
LB_PAIRS = (("load balancer credits", "current_load_balancer_credits", "load_balancer_credit_capacity"),
            ("virtual servers", "current_virtual_server_count", "virtual_server_capacity"),
            ("pools", "current_pool_count", "pool_capacity"),
            ("pool members", "current_pool_member_count", "pool_member_capacity"))


CAPACITY_READS = ("nsx_ip_pools", "lb_node_usage")


@dataclass(frozen=True)
class CapacityReads:
    """The two capacity reads of a run, each (True, answer) or (False, the ObservationError it raised): kept
    apart, so a broken pool list errors only the pool targets and a broken lb-node-usage only the LB's."""

    outcomes: Mapping[str, tuple[bool, object]]

    def value(self, name: str) -> object:
        ok, value = self.outcomes[name]
        if not ok:
            error = value if isinstance(value, ObservationError) else ObservationError(name, str(value))
            raise ObservationError(error.target, error.cause, error.evidence)  # a fresh copy per test
        return value


@dataclass(frozen=True)
class IpPoolUsage:
    id: str
    name: str
    ranges: tuple[str, ...]
    total: int
    allocated: int
    free: int

    def __str__(self) -> str:
        return (f"pool {self.name or self.id} ({', '.join(self.ranges) or 'no range'}): {self.free} free, "
                f"{self.allocated} of {self.total} allocated")


@dataclass(frozen=True)
class LbNodeUsage:
    node: str
    form_factor: str
    usage: tuple[tuple[str, int, int], ...]  # (what, current, capacity)
    severity: str

    @property
    def percent(self) -> float:
        return max((100.0 * cur / cap for _w, cur, cap in self.usage if cap > 0), default=0.0)

    @property
    def worst(self) -> tuple[str, int, int]:
        return max(self.usage, key=lambda u: (u[1] / u[2]) if u[2] > 0 else 0.0)

    def __str__(self) -> str:
        parts = ", ".join(f"{what} {cur}/{cap}" for what, cur, cap in self.usage)
        node = self.node.rsplit("/", 1)[-1]
        return f"{node} ({self.form_factor or '?'}, NSX severity {self.severity or '?'}): {parts}"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _ranges(pool: Mapping[str, Any]) -> list[tuple[IPv4Address, IPv4Address]]:
    out: list[tuple[IPv4Address, IPv4Address]] = []
    for subnet in pool.get("subnets") or []:
        if not isinstance(subnet, Mapping):
            continue
        for item in subnet.get("allocation_ranges") or []:
            try:
                start, end = ip_address(str(item["start"])), ip_address(str(item["end"]))
            except (KeyError, TypeError, ValueError):
                continue
            if isinstance(start, IPv4Address) and isinstance(end, IPv4Address):
                out.append((start, end))
        if not subnet.get("allocation_ranges") and subnet.get("cidr"):
            try:
                net = ip_network(str(subnet["cidr"]), strict=False)
            except ValueError:
                continue
            if isinstance(net, IPv4Network):
                out.append((net.network_address, net.broadcast_address))
    return out


def pools_in(pools: Iterable[Mapping[str, Any]], network: IPv4Network, api: str) -> list[IpPoolUsage]:
    """The pools whose every range lies inside ``network``, with their usage; a matching pool without a whole
    ``pool_usage`` is an error."""
    found: list[IpPoolUsage] = []
    for pool in pools:
        ranges = _ranges(pool)
        if not ranges or not all(start in network and end in network for start, end in ranges):
            continue
        name, pool_id = str(pool.get("display_name") or ""), str(pool.get("id") or "")
        usage = pool.get("pool_usage")
        numbers = [_int(usage.get(k)) if isinstance(usage, Mapping) else None
                   for k in ("total_ids", "allocated_ids", "free_ids")]
        total, allocated, free = numbers
        if total is None or allocated is None or free is None:
            raise ObservationError(api, f"IP pool {name or pool_id} has no whole pool_usage (total_ids, "
                                        f"allocated_ids, free_ids as counts): {usage!r}", (repr(pool)[:400],))
        found.append(IpPoolUsage(pool_id, name, tuple(f"{s}-{e}" for s, e in ranges), total, allocated, free))
    return found


def parse_lb_usage(obj: object, node: str, api: str) -> LbNodeUsage:
    """``LBEdgeNodeUsage`` -> the (current, capacity) pairs it holds; none known is an error."""
    if not isinstance(obj, Mapping):
        raise ObservationError(api, f"lb-node-usage of {node} is not an object", (repr(obj)[:300],))
    usage = []
    for what, current_key, capacity_key in LB_PAIRS:
        current, capacity = _int(obj.get(current_key)), _int(obj.get(capacity_key))
        if current is not None and capacity is not None:
            usage.append((what, current, capacity))
    if not usage:
        raise ObservationError(api, f"lb-node-usage of {node} holds no usage against a capacity "
                                    f"({', '.join(f'{c}/{k}' for _w, c, k in LB_PAIRS)})", (repr(obj)[:400],))
    return LbNodeUsage(node, str(obj.get("form_factor") or ""), tuple(usage), str(obj.get("severity") or ""))


def check_pool(target: CapacityTarget, network: IPv4Network, pools: list[IpPoolUsage], free_min: int,
               listed: int) -> Finding:
    """The pools inside ``network`` together have at least ``free_min`` free addresses."""
    role = target.kind
    expected = f"at least {free_min} free addresses (capacity.ip_pool_free_min) in the IP pools within {network}"
    evidence = [str(p) for p in pools]
    if not pools:
        raise ObservationError(str(target), f"none of the {listed} IP pools NSX lists (GET /api/v1/pools/ip-pools) "
                                            f"has its ranges inside the {role} range {network}; the pool cannot be "
                                            "judged (is networks." + role + " the range Workload Management uses?)")
    free = sum(p.free for p in pools)
    total = sum(p.total for p in pools)
    observed = f"{free} free ({total - free} of {total} allocated) in {', '.join(str(p) for p in pools)}"
    if free >= free_min:
        return passed(CHECK_ID, str(target), expected, observed)
    cause = POOL_CAUSES.get(role, "") + ("" if free == 0 else f" before the last {free} go")
    return failed(CHECK_ID, str(target), expected, observed, cause, evidence,
                  severity="critical" if free == 0 else "major")


def check_lb(target: CapacityTarget, nodes: list[LbNodeUsage], max_percent: float) -> Finding:
    """No edge node's load balancer uses more than ``max_percent`` of any capacity it reports."""
    expected = f"every edge node's load balancer at most {max_percent:g}% used (capacity.lb_usage_max_percent)"
    if not nodes:
        raise ObservationError(str(target), "the Tier-0's edge cluster lists no edge node, so no lb-node-usage "
                                            "could be read")
    evidence = [str(n) for n in nodes]
    over = [n for n in nodes if n.percent > max_percent]
    if not over:
        worst = max(nodes, key=lambda n: n.percent)
        return passed(CHECK_ID, str(target), expected, f"highest {worst.percent:.0f}% ({worst})")
    parts = []
    for node in over:
        what, cur, cap = node.worst
        parts.append(f"{node.node.rsplit('/', 1)[-1]} at {node.percent:.0f}% ({what} {cur} of {cap})")
    return failed(CHECK_ID, str(target), expected, "; ".join(parts),
                  "the edge's load balancer is nearly full: NCP cannot realise new LoadBalancer Services or "
                  "vSphere Namespaces' lb-services past its capacity (NSX alarm 'LB Edge Capacity In Use High'); "
                  "use a larger edge form factor (Supervisor edges should be LARGE) or more edge nodes",
                  evidence, severity="major")
