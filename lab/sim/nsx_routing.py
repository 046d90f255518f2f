"""The NSX simulator's Tier-0 BGP, NCP IP pools and edge load-balancer usage (hooked into :mod:`lab.sim.nsx`).

Lists (served with NSX's list envelope and cursor, like every other collection of the simulator):

- ``/infra/tier-0s``, ``/infra/tier-0s/<t0>/locale-services`` (with ``edge_cluster_path``),
  ``.../locale-services/<ls>/bgp/neighbors`` (``BgpNeighborConfig``), the edge cluster's
  ``.../edge-nodes``;
- Manager API ``/api/v1/pools/ip-pools``: NCP's ingress and egress pools with ``pool_usage``
  (``total_ids``, ``allocated_ids``, ``free_ids``) and their ``subnets[].allocation_ranges``.

Answered at request time:

- ``.../bgp/neighbors/status`` (``PolicyBgpNeighborsStatusListResult``): with a BIRD control socket
  in the model (the lab), the state is what the edge's BIRD says *now* (``birdc show protocols
  all``), mapped to NSX's ``connection_state``; without one, the model's ``bgp_state``;
- ``.../bgp/neighbors/<id>/advertised-routes`` (``BgpNeighborRoutesListResult``, ``edge_node_routes``
  per edge node): what BIRD exports to the router now (``birdc show route export``);
- ``/infra/lb-node-usage?node_path=<edge node path>`` (``LBEdgeNodeUsage``): the model's SLB
  lb-services, virtual servers, pools and members against the lab's capacity of a LARGE edge.

A BIRD that does not answer makes the status and routes answer 500 (error_code 98, "cannot connect
to server"), as NSX does when it cannot reach the edge: the suite must call that an error, not a
down session.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..bird import NSX_STATE, ServiceError, exported_routes, protocol_state
from ..model import SupervisorModel, stable_uuid
from ..routing import LB_CAPACITY, LB_CREDITS
from .controls import Response


class PolicySim(Protocol):
    """What this module uses of the NSX simulator (passed in, so that the two modules do not import each other)."""

    model: SupervisorModel

    def _collection(self, key: str) -> Any: ...
    def _list(self, key: str, collection: Any, query: dict[str, str]) -> Response: ...
    def _json(self, status: int, payload: bytes) -> Response: ...
    def _error(self, status: int, error_code: int | str, message: str, module: str = ...) -> Response: ...
    def lb_services(self) -> list[dict[str, Any]]: ...


SITE_EP = "/infra/sites/default/enforcement-points/default"
IP_POOLS = "/api/v1/pools/ip-pools"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def tier0_path(model: SupervisorModel) -> str:
    return f"/infra/tier-0s/{model.tier0_gateway}"  # the id vCenter reports as nsx_tier0_gateway


def locale_service_path(model: SupervisorModel) -> str:
    return f"{tier0_path(model)}/locale-services/{model.routing.locale_service}"


def edge_cluster_path(model: SupervisorModel) -> str:
    return f"{SITE_EP}/edge-clusters/{model.routing.edge_cluster}"


def edge_node_paths(model: SupervisorModel) -> list[str]:
    return [f"{edge_cluster_path(model)}/edge-nodes/{node}" for node in model.routing.edge_nodes]


def advertised_default(model: SupervisorModel) -> list[str]:
    """What the Tier-0 advertises without a BIRD: the model's own list, else its ingress and egress ranges."""
    return list(model.routing.advertised) or [model.ingress_cidr, model.egress_cidr]


# ---- objects -------------------------------------------------------------------------------------
def builders(model: SupervisorModel, common: Callable[..., dict[str, Any]]) -> dict[str, Callable[[], Iterable[
        dict[str, Any]]]]:
    """The list endpoints this module adds, keyed like :meth:`NsxPolicySim.refresh`'s builders."""
    r = model.routing
    t0, ls = tier0_path(model), locale_service_path(model)

    def tier0s() -> list[dict[str, Any]]:
        head = {"ha_mode": "ACTIVE_STANDBY", "failover_mode": "NON_PREEMPTIVE", "force_whitelisting": False,
                "default_rule_logging": False, "disable_firewall": False,
                "internal_transit_subnets": ["169.254.0.0/24"], "transit_subnets": ["100.64.0.0/16"]}
        head.update(common(model, "Tier0", model.tier0_gateway, model.tier0_gateway, t0, "/infra", [], user="admin"))
        return [head]

    def locale_services() -> list[dict[str, Any]]:
        head = {"edge_cluster_path": edge_cluster_path(model), "route_redistribution_config": {
            "bgp_enabled": True, "redistribution_rules": [{"name": "ncp", "route_redistribution_types": [
                "TIER1_NAT", "TIER1_LB_VIP", "TIER1_LB_SNAT", "TIER0_STATIC"]}]}}
        head.update(common(model, "LocaleServices", r.locale_service, r.locale_service, ls, t0, [], user="admin"))
        return [head]

    def neighbors() -> list[dict[str, Any]]:
        head: dict[str, Any] = {"neighbor_address": r.neighbor_address, "remote_as_num": str(r.remote_as),
                                "source_addresses": [r.source_address], "hold_down_time": 9, "keep_alive_time": 3,
                                "allow_as_in": False, "maximum_hop_limit": 1, "graceful_restart_mode": "HELPER_ONLY"}
        head.update(common(model, "BgpNeighborConfig", r.neighbor_id, r.neighbor_id,
                           f"{ls}/bgp/neighbors/{r.neighbor_id}", f"{ls}/bgp", [], user="admin"))
        return [head]

    def edge_nodes() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for node, path in zip(r.edge_nodes, edge_node_paths(model), strict=True):
            head: dict[str, Any] = {"member_index": len(out), "nsx_id": stable_uuid("edge", node)}
            head.update(common(model, "PolicyEdgeNode", node, node, path, edge_cluster_path(model), [],
                               user="system"))
            out.append(head)
        return out

    return {"/infra/tier-0s": tier0s, f"{t0}/locale-services": locale_services, f"{ls}/bgp/neighbors": neighbors,
            f"{edge_cluster_path(model)}/edge-nodes": edge_nodes, IP_POOLS: lambda: ip_pools_json(model)}


def _allocated(model: SupervisorModel, kind: str, total: int) -> int:
    r = model.routing
    if kind == "egress":
        own = 1  # the Supervisor's SNAT IP
        extra = r.egress_allocated
    else:
        own = len({vs.ip_address for vs in model.virtual_servers if vs.created_for == "SLB"})
        extra = r.ingress_allocated
    return max(0, min(total, own if extra is None else extra))


def ip_pools_json(model: SupervisorModel) -> list[dict[str, Any]]:
    """NCP's two external pools (Manager API ``IpPool``), one per range, with ``pool_usage``."""
    out = []
    for kind, cidr in (("ingress", model.ingress_cidr), ("egress", model.egress_cidr)):
        network = ipaddress.ip_network(cidr)
        hosts = list(network.hosts())
        first, last = str(hosts[0]), str(hosts[-1])
        total = len(hosts)
        allocated = _allocated(model, kind, total)
        pool_id = stable_uuid("ippool", model.ncp_cluster, kind)
        out.append({
            "subnets": [{"allocation_ranges": [{"start": first, "end": last}], "cidr": cidr}],
            "pool_usage": {"total_ids": total, "allocated_ids": allocated, "free_ids": total - allocated},
            "resource_type": "IpPool",
            "id": pool_id,
            "display_name": f"{model.ncp_cluster}-ippool-{first.replace('.', '-')}-{last.replace('.', '-')}",
            "tags": [{"scope": "ncp/cluster", "tag": model.ncp_cluster}, {"scope": "ncp/external", "tag": "true"}],
            "_create_user": "admin",
            "_create_time": 1760500000000,
            "_last_modified_user": "admin",
            "_last_modified_time": 1760500000000,
            "_system_owned": False,
            "_protection": "NOT_PROTECTED",
            "_revision": 0,
        })
    return out


def lb_node_usage_json(model: SupervisorModel, node_path: str, lb_services: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``LBEdgeNodeUsage`` of one edge node: the model's SLB objects (``lb_services``, as the simulator serves
    them) against the lab's LARGE edge capacity."""
    slb = [s for s in lb_services if s.get("size") != "DLB"]
    sizes = [str(s.get("size")) for s in slb]
    servers = [vs for vs in model.virtual_servers if vs.created_for == "SLB"]
    credits = sum(LB_CREDITS.get(size, 1) for size in sizes) + model.routing.lb_extra_credits
    current = {"credits": credits, "virtual_servers": len(servers), "pools": len(servers),
               "pool_members": sum(len(vs.pool_members) for vs in servers)}
    percent = max(100.0 * current[k] / LB_CAPACITY[k] for k in LB_CAPACITY)
    severity = "RED" if percent >= 90 else "ORANGE" if percent >= 75 else "GREEN"
    return {
        "resource_type": "LBEdgeNodeUsage",
        "node_path": node_path,
        "form_factor": model.routing.lb_form_factor,
        "current_small_load_balancer_count": sizes.count("SMALL"),
        "current_medium_load_balancer_count": sizes.count("MEDIUM"),
        "current_large_load_balancer_count": sizes.count("LARGE"),
        "current_xlarge_load_balancer_count": sizes.count("XLARGE"),
        "current_load_balancer_credits": current["credits"],
        "load_balancer_credit_capacity": LB_CAPACITY["credits"],
        "current_virtual_server_count": current["virtual_servers"],
        "virtual_server_capacity": LB_CAPACITY["virtual_servers"],
        "current_pool_count": current["pools"],
        "pool_capacity": LB_CAPACITY["pools"],
        "current_pool_member_count": current["pool_members"],
        "pool_member_capacity": LB_CAPACITY["pool_members"],
        "usage_percentage": round(percent, 1),
        "severity": severity,
    }


def _since_ms(since: str) -> int | None:
    """Milliseconds since BIRD's ``since`` column (a time of day today, or a date)."""
    now = dt.datetime.now()
    for fmt in ("%H:%M:%S.%f", "%H:%M:%S"):
        try:
            clock = dt.datetime.strptime(since, fmt).time()
        except ValueError:
            continue
        then = dt.datetime.combine(now.date(), clock)
        if then > now:
            then -= dt.timedelta(days=1)
        return int((now - then).total_seconds() * 1000)
    return None


def neighbor_status(model: SupervisorModel) -> dict[str, Any]:
    """``PolicyBgpNeighborsStatusListResult`` as the Tier-0 sees its neighbour now (BIRD when it runs)."""
    r = model.routing
    established_ms: int | None = 86_400_000
    if r.bird_socket:
        state = protocol_state(r.bird_socket, r.bird_protocol)
        connection_state = NSX_STATE.get(state.state, "UNKNOWN")
        established_ms = _since_ms(state.since) if connection_state == "ESTABLISHED" else None
        routes = exported_routes(r.bird_socket, r.bird_protocol) if connection_state == "ESTABLISHED" else []
    else:
        connection_state = r.bgp_state
        routes = advertised_default(model) if connection_state == "ESTABLISHED" else []
    entry: dict[str, Any] = {
        "neighbor_address": r.neighbor_address,
        "source_address": r.source_address,
        "remote_as_number": str(r.remote_as),
        "connection_state": connection_state,
        "edge_path": edge_node_paths(model)[0],
        "tier0_path": tier0_path(model),
        "remote_site": {"path": "", "display_name": ""},
        "established_connection_count": 1 if connection_state == "ESTABLISHED" else 0,
        "hold_time": 9,
        "keep_alive_interval": 3,
        "total_in_prefix_count": 0,
        "total_out_prefix_count": len(routes),
    }
    if established_ms is not None:
        entry["time_since_established"] = established_ms
    return {"results": [entry], "result_count": 1,
            "last_update_timestamp": int(dt.datetime.now(dt.UTC).timestamp() * 1000)}


def advertised_routes(model: SupervisorModel) -> dict[str, Any]:
    """``BgpNeighborRoutesListResult``: what the Tier-0 advertises to its neighbour, per edge node."""
    r = model.routing
    networks = exported_routes(r.bird_socket, r.bird_protocol) if r.bird_socket else (
        advertised_default(model) if r.bgp_state == "ESTABLISHED" else [])
    routes = [{"network": net, "next_hop": r.source_address, "as_path": str(r.local_as), "local_pref": 100,
               "med": 0, "weight": 0} for net in networks]
    return {"results": [{
        "neighbor_path": f"{locale_service_path(model)}/bgp/neighbors/{r.neighbor_id}",
        "enforcement_point_path": SITE_EP,
        "edge_node_routes": [{"transport_node_id": stable_uuid("edge", r.edge_nodes[0]),
                              "source_address": r.source_address, "routes": routes}],
    }], "result_count": 1}


# ---- the hook --------------------------------------------------------------------------------------
def route(sim: PolicySim, path: str, query: dict[str, str]) -> Response | None:
    """This module's answer to an authenticated GET, or None for the simulator's own routing."""
    model = sim.model
    if path == IP_POOLS or path.startswith(IP_POOLS + "/"):
        collection = sim._collection(IP_POOLS)  # noqa: SLF001 - the simulator's own list machinery
        if collection is None:
            return None
        if path == IP_POOLS:
            return sim._list(IP_POOLS, collection, query)  # noqa: SLF001
        pool_id = path[len(IP_POOLS) + 1:]
        if pool_id in collection.by_id:
            return sim._json(200, collection.by_id[pool_id])  # noqa: SLF001
        return sim._error(404, 600, f"The requested object : {pool_id} could not be found.")  # noqa: SLF001
    prefix = "/policy/api/v1"
    if not path.startswith(prefix + "/"):
        return None
    policy = path[len(prefix):].rstrip("/")
    ls = locale_service_path(model)
    try:
        if policy == f"{ls}/bgp/neighbors/status":
            return sim._json(200, _dumps(neighbor_status(model)))  # noqa: SLF001
        if policy == f"{ls}/bgp/neighbors/{model.routing.neighbor_id}/advertised-routes":
            return sim._json(200, _dumps(advertised_routes(model)))  # noqa: SLF001
    except (ServiceError, subprocess.SubprocessError, OSError) as exc:
        return sim._error(500, 98, f"Cannot connect to the edge's routing process: {exc}",  # noqa: SLF001
                          module="routing")
    if policy == "/infra/lb-node-usage":
        node_path = query.get("node_path", "")
        if not node_path:
            return sim._error(400, 255, "Field level validation errors: {node_path: required}")  # noqa: SLF001
        if node_path not in edge_node_paths(model):
            return sim._error(404, 600, f"The requested object : {node_path} could not be found.")  # noqa: SLF001
        return sim._json(200, _dumps(lb_node_usage_json(model, node_path, sim.lb_services())))  # noqa: SLF001
    return None
