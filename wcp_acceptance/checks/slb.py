"""The API VIP on the NSX side: the SLB virtual servers, their pools, and the LoadBalancer Service.

WCP-SLB-001  for each API VIP port an SLB virtual server exists on the Supervisor's lb-service, is
             enabled and points at a pool NSX lists; and ``kube-system/kube-apiserver-lb-svc`` has
             ``status.loadBalancer.ingress[].ip`` equal to the inventory's VIP
WCP-SLB-002  that pool's members are exactly the control-plane VMs' workload addresses on the VIP
             port, each ``admin_state`` ENABLED

Pure functions over what the readers returned: the virtual servers (the compact
:class:`~wcp_acceptance.checks.dlb.DlbVirtualServer` list the DLB checks use too), the
lb-services, the pools the VIP's virtual servers point at, and the Service.

Not read: the run-time member status (UP/DOWN) of ``GET /infra/lb-services/<id>/detailed-status``.
NSX's reference documents its schema (``LBServiceStatus`` -> ``pools[]`` ``LBPoolStatus`` ->
``members[]`` with ``ip_address``, ``port``, ``status``), but no real response is in our public
samples, so the envelope it arrives in is not grounded; WCP-SLB-002 judges the configured members
and their ``admin_state`` from the pool only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from wcp_acceptance.checks.dlb import DlbVirtualServer
from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.targets import ServiceRef, VipPort

CHECK_VS = "WCP-SLB-001"
CHECK_MEMBERS = "WCP-SLB-002"
APISERVER_SERVICE = ("kube-system", "kube-apiserver-lb-svc")
_POOL_KEYS = ("id", "display_name", "path", "algorithm", "members", "min_active_members", "_last_modified_time")
_SERVICE_KEYS = ("id", "display_name", "path", "size", "enabled", "connectivity_path")


def _tags(obj: Mapping[str, Any]) -> dict[str, str]:
    tags = obj.get("tags")
    if not isinstance(tags, list):
        return {}
    return {str(t.get("scope")): str(t.get("tag")) for t in tags if isinstance(t, Mapping)}


def _trim(obj: Mapping[str, Any], keys: Sequence[str]) -> str:
    return json.dumps({k: obj[k] for k in keys if k in obj}, separators=(", ", ": "))


def slb_service_path(lb_services: Iterable[Mapping[str, Any]], cluster: str | None,
                     vip_servers: Iterable[DlbVirtualServer] = ()) -> tuple[str | None, str]:
    """The Supervisor's SLB lb-service path and how it was found.

    As the DLB one is found: by its tags (``ncp/cluster=<cluster>``, not size DLB; one tagged
    ``ncp/created_for=SLB`` first); else, as NCP's own naming of it is not public, the lb-service
    the VIP's virtual servers name."""
    services = list(lb_services)
    if cluster:
        mine = [s for s in services if s.get("size") != "DLB" and _tags(s).get("ncp/cluster") == cluster]
        mine.sort(key=lambda s: _tags(s).get("ncp/created_for") != "SLB")
        if mine:
            found = mine[0]
            return str(found.get("path") or f"/infra/lb-services/{found.get('id')}"), \
                f"tagged ncp/cluster={cluster}"
    paths = sorted({vs.lb_service_path for vs in vip_servers if vs.lb_service_path and vs.created_for != "DLB"})
    if paths:
        return paths[0], "named by the VIP's virtual servers (no lb-service tagged with the cluster)"
    return None, "none tagged with the cluster, and no virtual server on the VIP names one"


@dataclass(frozen=True)
class PoolMember:
    """One ``LBPoolMember``: its address, port (a string in NSX) and admin state."""

    ip: str
    port: str
    admin_state: str
    name: str = ""

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PoolMember:
        return cls(str(obj.get("ip_address", "")), str(obj.get("port", "")),
                   str(obj.get("admin_state") or "ENABLED"), str(obj.get("display_name", "")))

    def __str__(self) -> str:
        return f"{self.ip}:{self.port or '(virtual server port)'}"


@dataclass(frozen=True)
class SlbPool:
    """The fields of one ``LBPool`` the SLB checks need (a pool without endpoints has no ``members`` key)."""

    path: str
    members: tuple[PoolMember, ...]
    trimmed: str = field(compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SlbPool:
        raw = obj.get("members") or []
        members = tuple(PoolMember.from_json(m) for m in raw if isinstance(m, Mapping))
        return cls(pool_path_of(obj), members, _trim(obj, _POOL_KEYS))


def pool_path_of(obj: Mapping[str, Any]) -> str:
    return str(obj.get("path") or f"/infra/lb-pools/{obj.get('id')}")


def vip_pool_paths(vip: IPv4Address, virtual_servers: Iterable[DlbVirtualServer]) -> frozenset[str]:
    """The pools the VIP's (non-DLB) virtual servers name: the only pools a run keeps of the whole list."""
    return frozenset(vs.pool_path for vs in virtual_servers
                     if vs.ip == str(vip) and vs.created_for != "DLB" and vs.pool_path)


@dataclass(frozen=True)
class SlbComparison:
    """What NSX holds for the API VIP, gathered once for both SLB checks."""

    vip: IPv4Address
    lb_service_path: str | None
    lb_service_how: str
    lb_service_trimmed: str | None
    on_vip: tuple[DlbVirtualServer, ...]  # every non-DLB virtual server whose ip_address is the VIP
    pools: Mapping[str, SlbPool]  # the pools those virtual servers point at, by path
    control_plane: Mapping[str, str]  # VM name -> workload (eth1) address

    def _lb_service_text(self) -> str:
        return self.lb_service_path or "the Supervisor's lb-service"

    def server_for(self, port: int) -> tuple[DlbVirtualServer | None, list[DlbVirtualServer]]:
        """The virtual server on the VIP port on the Supervisor's lb-service, and those on that port elsewhere."""
        listening = [vs for vs in self.on_vip if port in vs.ports]
        here = [vs for vs in listening if vs.lb_service_path == self.lb_service_path]
        return (here[0] if here else None), [vs for vs in listening if vs not in here]

    # ---- WCP-SLB-001 ---------------------------------------------------------------------------------
    def virtual_server(self, target: VipPort) -> Finding:
        port = target.port
        expected = (f"an enabled SLB virtual server for {self.vip}:{port} on {self._lb_service_text()} "
                    "pointing at a pool")
        vs, elsewhere = self.server_for(port)
        if vs is None:
            evidence = [v.trimmed_json() for v in elsewhere[:3]]
            if self.lb_service_path is None:
                cause = (f"NSX lists no lb-service for the Supervisor ({self.lb_service_how}): NCP has not realised "
                         "the Supervisor's load balancer (look at nsx-ncp in vmware-system-nsx)")
            elif elsewhere:
                other = elsewhere[0]
                cause = (f"virtual server {other.id} listens on {self.vip}:{port} but is on lb-service "
                         f"{other.lb_service_path or '(none)'}, not {self.lb_service_path}")
            else:
                ports = sorted({p for v in self.on_vip for p in v.ports})
                seen = f" (the VIP has virtual servers on {', '.join(map(str, ports))})" if ports else \
                    " (no virtual server has the VIP at all)"
                cause = (f"the virtual server for {self.vip}:{port} is missing{seen}: NCP has not realised "
                         f"{'/'.join(APISERVER_SERVICE)} port {port}; look at its ncp/error.loadbalancer "
                         "annotation and the nsx-ncp logs")
            if self.lb_service_trimmed:
                evidence.append(f"lb-service ({self.lb_service_how}): {self.lb_service_trimmed}")
            return failed(CHECK_VS, str(target), expected, f"no virtual server for {self.vip}:{port} on "
                          f"{self._lb_service_text()}", cause, evidence)
        problems: list[str] = []
        if not vs.enabled:
            problems.append(f"virtual server {vs.id} is disabled (enabled: false): the VIP port answers nothing")
        if not vs.pool_path:
            problems.append(f"virtual server {vs.id} has no pool_path: no pool to forward to")
        elif vs.pool_path not in self.pools:
            problems.append(f"virtual server {vs.id} points at pool {vs.pool_path}, which NSX does not list")
        if problems:
            observed = "; ".join(problems)
            return failed(CHECK_VS, str(target), expected, observed,
                          "the SLB virtual server of the API VIP is not serving: " + observed, [vs.trimmed_json()])
        return passed(CHECK_VS, str(target), expected, f"{vs!r} enabled, pool {vs.pool_path}")

    # ---- WCP-SLB-002 ---------------------------------------------------------------------------------
    def members(self, target: VipPort) -> Finding:
        port = str(target.port)
        wanted = {ip: name for name, ip in self.control_plane.items()}
        listed = ", ".join(f"{name} {ip}:{port}" for name, ip in self.control_plane.items())
        expected = (f"the pool of {self.vip}:{port} to hold exactly the control-plane VMs' workload addresses "
                    f"({listed}), admin_state ENABLED")
        vs, _elsewhere = self.server_for(target.port)
        pool = self.pools.get(vs.pool_path) if vs is not None else None
        if vs is None or pool is None:
            return failed(CHECK_MEMBERS, str(target), expected, "no pool to judge",
                          f"the VIP port has no SLB virtual server with a pool NSX lists (see {CHECK_VS})",
                          [vs.trimmed_json()] if vs is not None else [])
        seen_ips = {m.ip for m in pool.members}
        causes: list[str] = []
        for ip, name in wanted.items():
            if ip not in seen_ips:
                causes.append(f"{name}'s workload address {ip}:{port} is not a member: the VIP still answers "
                              f"through the other VMs but never reaches {name}")
        for member in pool.members:
            owner = wanted.get(member.ip)
            if owner is None:
                causes.append(f"member {member} is not a control-plane VM's workload address (a dead or foreign "
                              "address): the VIP then only half works, a connection the load balancer sends to "
                              "that member fails")
            elif member.port not in ("", port):
                causes.append(f"member {member} ({owner}) is on port {member.port}, not {port}: connections sent "
                              "to it reach no kube-apiserver")
            elif member.admin_state != "ENABLED":
                causes.append(f"member {member} ({owner}) has admin_state {member.admin_state}: the load balancer "
                              "sends it nothing")
        shown = ", ".join(f"{m} {m.admin_state}" for m in pool.members) or "no members (the pool has no members key)"
        if causes:
            return failed(CHECK_MEMBERS, str(target), expected, f"pool {pool.path} holds {shown}", "; ".join(causes),
                          [pool.trimmed])
        return passed(CHECK_MEMBERS, str(target), expected,
                      f"pool {pool.path} holds {shown} (admin_state from the pool; run-time UP/DOWN not read)")


def compare_slb(vip: IPv4Address, control_plane: Mapping[str, str],
                virtual_servers: Iterable[DlbVirtualServer], lb_services: Iterable[Mapping[str, Any]],
                pools: Iterable[Mapping[str, Any] | SlbPool], cluster: str | None) -> SlbComparison:
    """Gather the VIP's virtual servers, the Supervisor's lb-service and the pools, in one pass each."""
    services = list(lb_services)
    on_vip = tuple(vs for vs in virtual_servers if vs.ip == str(vip) and vs.created_for != "DLB")
    path, how = slb_service_path(services, cluster, on_vip)
    trimmed = next((_trim(s, _SERVICE_KEYS) for s in services
                    if path and str(s.get("path") or f"/infra/lb-services/{s.get('id')}") == path), None)
    wanted = {vs.pool_path for vs in on_vip if vs.pool_path}
    kept: dict[str, SlbPool] = {}
    for pool in pools:
        compact = pool if isinstance(pool, SlbPool) else SlbPool.from_json(pool)
        if compact.path in wanted:
            kept[compact.path] = compact
    return SlbComparison(vip, path, how, trimmed, on_vip, kept, dict(control_plane))


def check_slb_virtual_server(target: VipPort, comparison: SlbComparison) -> Finding:
    """WCP-SLB-001 for one VIP port."""
    return comparison.virtual_server(target)


def check_slb_members(target: VipPort, comparison: SlbComparison) -> Finding:
    """WCP-SLB-002 for one VIP port."""
    return comparison.members(target)


def check_apiserver_ingress(service: Mapping[str, Any] | None, vip: IPv4Address) -> Finding:
    """WCP-SLB-001 on the Kubernetes side: the Service's ``status.loadBalancer.ingress[].ip`` is the VIP."""
    namespace, name = APISERVER_SERVICE
    target = f"{namespace}/{name}"
    expected = f"Service {target} of type LoadBalancer with status.loadBalancer.ingress[].ip {vip}"
    if service is None:
        return failed(CHECK_VS, target, expected, "the Service does not exist",
                      "the Supervisor's API Service was deleted or never created (WCP creates it at enablement)")
    spec = service.get("spec") or {}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ips = [str(i.get("ip")) for i in ingress if isinstance(i, Mapping) and i.get("ip")]
    evidence = [json.dumps({"spec.type": spec.get("type"), "spec.loadBalancerIP": spec.get("loadBalancerIP"),
                            "status.loadBalancer": (service.get("status") or {}).get("loadBalancer")},
                           separators=(", ", ": "))]
    if str(vip) in ips:
        return passed(CHECK_VS, target, expected, f"ingress {', '.join(ips)}")
    if not ips:
        return failed(CHECK_VS, target, expected, "no status.loadBalancer.ingress IP",
                      "NCP has not realised the Service's load balancer (the VIP was not allocated): look at its "
                      "ncp/error.loadbalancer annotation and the nsx-ncp logs", evidence)
    return failed(CHECK_VS, target, expected, f"ingress IP {', '.join(ips)}, not {vip}",
                  f"the Service's ingress names {', '.join(ips)}, a different VIP than the inventory's {vip}: clients "
                  "told the inventory's VIP reach another address (or the inventory's api_vip is stale)", evidence)


@dataclass(frozen=True)
class SlbInputs:
    """What the SLB checks judge, read once per run: NSX's side and the Service (None: it does not exist)."""

    comparison: SlbComparison | None
    service: Mapping[str, Any] | None
    vip: IPv4Address


def check_slb_target(target: VipPort | ServiceRef, inputs: SlbInputs) -> Finding:
    """WCP-SLB-001 for one target: a VIP port's SLB virtual server, or the LoadBalancer Service's ingress."""
    if isinstance(target, VipPort):
        if inputs.comparison is None:
            raise ValueError(f"{target}: NSX's side was not read")
        return inputs.comparison.virtual_server(target)
    return check_apiserver_ingress(inputs.service, inputs.vip)
