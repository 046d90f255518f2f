"""What the API checks read, as plain functions of the readers: the session fixtures call them, and so
does :class:`wcp_acceptance.prefetch.ApiPrefetch` in its background thread (no pytest in here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from wcp_acceptance import discovery
from wcp_acceptance.checks.bgp import (
    BgpNeighbour,
    BgpObservation,
    Tier0,
    parse_advertised,
    parse_status,
    tier0_from_tier1s,
)
from wcp_acceptance.checks.capacity import IP_POOLS_API, LbNodeUsage, parse_lb_usage
from wcp_acceptance.checks.dlb import DlbComparison, DlbVirtualServer, compare_dlb, dlb_lb_service_path
from wcp_acceptance.checks.namespaces import ROUTER
from wcp_acceptance.checks.ncp import NCP_ERROR_PREFIX, NCP_NAMESPACE, ncp_error_annotations, ncp_status_from_json
from wcp_acceptance.checks.slb import (
    APISERVER_SERVICE,
    SlbComparison,
    SlbPool,
    compare_slb,
    pool_path_of,
    vip_pool_paths,
)
from wcp_acceptance.checks.vcenter import choose_cluster, wanted_moid
from wcp_acceptance.corefile import COREDNS_CONFIGMAP, CorefileUpstreams, corefile_upstreams
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.observations import (
    NamespaceEgress,
    NamespaceInfo,
    NcpErrorAnnotation,
    NcpErrors,
    NcpStatus,
    VcenterCluster,
)
from wcp_acceptance.targets import ServicePort
from wcp_acceptance.transport.http import ApiError, HttpObservationError
from wcp_acceptance.transport.kube import KubeApiError, KubeReader
from wcp_acceptance.transport.nsx import NsxReader, path_id
from wcp_acceptance.transport.vcenter import VcenterReader


def ncp_cluster(inventory: Inventory, kube: KubeReader) -> str:
    """The NCP cluster name (the ``ncp/cluster`` tag): from the inventory, or discovered."""
    if not inventory.nsx.discover_cluster:
        return inventory.nsx.cluster
    namespace, name = discovery.NCP_CONFIGMAP
    try:
        config_map = kube.config_map(namespace, name)
    except ObservationError:
        config_map = {}
    cluster = discovery.cluster_from_ncp_ini(str((config_map.get("data") or {}).get("ncp.ini", "")))
    if cluster:
        return cluster
    annotations = [(ns.get("metadata") or {}).get("annotations") or {} for ns in kube.namespaces()]
    cluster = discovery.cluster_from_extpoolid(annotations)
    if cluster:
        return cluster
    raise ObservationError(
        "NCP cluster name",
        f"not found: no [coe] cluster in {namespace}/{name} ncp.ini and no Namespace with an ncp/extpoolid "
        "annotation; set nsx.cluster in the inventory (domain-c<N>:<vCenter UUID>)",
    )


def service_ports(kube: KubeReader) -> list[ServicePort]:
    """Every (Service, port, protocol) with a ClusterIP, from one paginated list of Services."""
    return kube.cluster_ip_service_ports()


def lb_services(nsx: NsxReader) -> list[dict[str, object]]:
    """Every lb-service (one list), shared by the DLB and SLB checks."""
    return nsx.lb_services()


def virtual_servers(nsx: NsxReader) -> list[DlbVirtualServer]:
    """Every virtual server from one cursor-paginated list, each page made compact as it arrives
    (:class:`DlbVirtualServer`: their raw JSON is never held all at once); shared by the DLB and SLB checks."""
    return nsx.collect("/infra/lb-virtual-servers", DlbVirtualServer.from_json)


def dlb_comparison(services: list[dict[str, object]], servers: list[DlbVirtualServer], cluster: str,
                   ports: list[ServicePort]) -> DlbComparison:
    """The Service ports matched against the cluster's DLB virtual servers, once for both DLB checks."""
    path = discovery.dlb_service_path(services, cluster) or dlb_lb_service_path(cluster)
    return compare_dlb(ports, servers, path, cluster)


def slb_comparison(inventory: Inventory, nsx: NsxReader, services: list[dict[str, object]],
                   servers: list[DlbVirtualServer], cluster: str | None) -> SlbComparison:
    """The API VIP's SLB virtual servers, the Supervisor's lb-service and the pools they name, once for both
    SLB checks. The pools are one list, only those the VIP's virtual servers name kept, page by page. The NCP
    cluster name only picks the lb-service by its tags: without it (it may need Kubernetes), the lb-service
    the VIP's virtual servers name is used."""
    control_plane = {vm.name: str(vm.workload_interfaces[0][1].address.ip)
                     for vm in inventory.supervisor.control_plane}
    wanted = vip_pool_paths(inventory.api_vip.address, servers)
    kept = nsx.collect("/infra/lb-pools", lambda obj: SlbPool.from_json(obj) if pool_path_of(obj) in wanted else None)
    pools = [pool for pool in kept if pool is not None]  # other pools' JSON is dropped as it arrives
    return compare_slb(inventory.api_vip.address, control_plane, servers, services, pools, cluster)


def apiserver_lb_service(kube: KubeReader) -> dict[str, object] | None:
    """``kube-system/kube-apiserver-lb-svc`` (one GET); None when it does not exist."""
    namespace, name = APISERVER_SERVICE
    try:
        return kube.service(namespace, name)
    except KubeApiError as error:
        if error.status == 404:
            return None
        raise


def nsx_nat(nsx: NsxReader, cluster: str, tier1s_listed: list[dict[str, object]] | None = None) -> dict[str, object]:
    """The NAT rules on the Supervisor's Tier-1 gateways (those tagged with the NCP cluster); ``by_tier1`` keeps
    each Tier-1's own, for WCP-NS-001. ``tier1s_listed``: the Tier-1 list when the run already read it (the BGP
    and capacity checks find the Tier-0 in it)."""
    tier1s = discovery.supervisor_tier1s(nsx.tier1s() if tier1s_listed is None else tier1s_listed, cluster)
    rules: list[dict[str, object]] = []
    by_tier1: dict[str, list[dict[str, object]]] = {}
    for tier1 in tier1s:
        by_tier1[tier1] = nsx.nat_rules(tier1)
        rules.extend(by_tier1[tier1])
    return {"rules": rules, "tier1s": tier1s, "by_tier1": by_tier1}


def ncp_namespace_pods(kube: KubeReader) -> list[dict[str, object]]:
    """Every pod of NCP's namespace (one paginated list)."""
    return kube.pods(NCP_NAMESPACE)


def ncp_ini_managers(kube: KubeReader) -> list[str]:
    """``[nsx_v3] nsx_api_managers`` from ncp.ini in the nsx-ncp-config ConfigMap."""
    namespace, name = discovery.NCP_CONFIGMAP
    config_map = kube.config_map(namespace, name)
    return discovery.nsx_managers_from_ncp_ini(str((config_map.get("data") or {}).get("ncp.ini", "")))


def vcenter_cluster(inventory: Inventory, vcenter: VcenterReader) -> VcenterCluster:
    """The Supervisor's cluster Info, once per run for the three vCenter checks: one GET when the inventory
    names the cluster (vcenter.cluster, or nsx.cluster's domain-cN), else the list first."""
    spec = inventory.vcenter
    url = spec.url if spec is not None else ""
    wanted = wanted_moid(inventory)
    if wanted is not None:
        moid, name, how = wanted, None, f"named by the inventory ({wanted})"
    else:
        moid, name, how = choose_cluster(vcenter.clusters(), inventory.supervisor.name, None, f"vCenter {url}")
    return VcenterCluster(moid, name, vcenter.cluster(moid), how, url)


def coredns_upstreams(kube: KubeReader) -> CorefileUpstreams:
    """The ``forward .`` upstreams of CoreDNS's root block, from the ``Corefile`` of ``kube-system/coredns``
    (one GET). The Supervisor's Corefile contents are not public: what this cannot read as ``forward .
    <IPv4>[:port]...`` is an error naming the ConfigMap, never a guess."""
    namespace, name = COREDNS_CONFIGMAP
    config_map = kube.config_map(namespace, name)
    data = config_map.get("data")
    text = data.get("Corefile") if isinstance(data, dict) else None
    where = f"Kubernetes ConfigMap {namespace}/{name}"
    if not isinstance(text, str):
        raise ObservationError(where, "has no Corefile key (the Supervisor's CoreDNS configuration is not public; "
                                      "this suite reads the forward upstreams from data.Corefile)")
    read = corefile_upstreams(text)
    if read.problem:
        raise ObservationError(where, f"{read.problem}; only 'forward . <IPv4>[:port]...' in the '.:53' block is "
                                      "read (the Supervisor's Corefile contents are not public)",
                               [f"Corefile: {line}" for line in text.splitlines()[:40]])
    return read


# ---- namespaces and ncp: the Service list the DLB checks read, Namespaces, pods, NSX's ncpstatus ------------
@dataclass(frozen=True)
class ServicesRead:
    """One paginated list of Services, kept as what the checks need of it: the DLB checks' ClusterIP ports
    and NCP's error annotations (WCP-NCP-003)."""

    ports: list[ServicePort]
    errors: list[NcpErrorAnnotation]
    count: int


def kube_services(kube: KubeReader) -> ServicesRead:
    errors: list[NcpErrorAnnotation] = []
    count = [0]

    def keep(items: list[dict[str, object]]) -> None:
        count[0] += len(items)
        errors.extend(ncp_error_annotations("Service", items))

    ports = kube.cluster_ip_service_ports(also=keep)
    return ServicesRead(ports, errors, count[0])


def kube_namespaces(kube: KubeReader) -> list[NamespaceInfo]:
    """Every Namespace (one paginated list), only NCP's annotations and WCP's vSphereClusterID label kept."""
    infos: list[NamespaceInfo] = []
    kube.each_page("/api/v1/namespaces", lambda items: infos.extend(NamespaceInfo.from_json(i) for i in items))
    return infos


def pod_ncp_errors(kube: KubeReader) -> tuple[list[NcpErrorAnnotation], int]:
    """NCP's error annotations on every pod (one paginated list; the pods' JSON is dropped page by page)."""
    errors: list[NcpErrorAnnotation] = []
    count = [0]

    def keep(items: list[dict[str, object]]) -> None:
        count[0] += len(items)
        errors.extend(ncp_error_annotations("Pod", items))

    kube.each_page("/api/v1/pods", keep)
    return errors, count[0]


def ncp_errors(services: ServicesRead, namespaces: list[NamespaceInfo],
               pods: tuple[list[NcpErrorAnnotation], int]) -> NcpErrors:
    on_namespaces = [NcpErrorAnnotation("Namespace", "", ns.name, key, value) for ns in namespaces
                     for key, value in sorted(ns.annotations.items()) if key.startswith(NCP_ERROR_PREFIX)]
    return NcpErrors((*services.errors, *on_namespaces, *pods[0]), services.count, len(namespaces), pods[1])


def ncpstatus_path(site: str, enforcement_point: str, cluster: str) -> str:
    """Where NSX keeps the status NCP posts; the container cluster's id is taken to be the NCP cluster name (the
    ncp/cluster tag): that NSX names it so is our reading, not a published fact (README)."""
    return (f"/infra/sites/{path_id(site)}/enforcement-points/{path_id(enforcement_point)}/container-cluster/"
            f"{path_id(cluster)}/ncpstatus")


def ncp_status(inventory: Inventory, nsx: NsxReader, cluster: str) -> NcpStatus:
    """NSX's ncpstatus of the container cluster (one GET); UNKNOWN or no status raises ObservationError."""
    path = ncpstatus_path(inventory.nsx.site, inventory.nsx.enforcement_point, cluster)
    return ncp_status_from_json(path, nsx.get(path))


def _tier1_rules(nsx: NsxReader, tier1: str) -> tuple[dict[str, object], ...] | None:
    """A Tier-1's USER NAT rules; None when NSX holds no such Tier-1 (404, or 400 with 500012 'path invalid')."""
    try:
        return tuple(nsx.nat_rules(tier1))
    except ApiError as error:
        if error.status == 404 or (error.status == 400 and str(error.error_code) == "500012"):
            return None
        raise


def namespace_egress(inventory: Inventory, nsx: NsxReader, namespaces: list[NamespaceInfo],
                     nat: dict[str, object] | None) -> NamespaceEgress:
    """Every Namespace and the USER NAT rules of each Tier-1 they name: the Tier-1s the egress checks read
    (``nat``, when it was read) are not asked again."""
    known = nat.get("by_tier1") if isinstance(nat, dict) else None
    read: dict[str, tuple[dict[str, object], ...] | None] = {}
    for router in sorted({ns.annotations.get(ROUTER, "").strip() for ns in namespaces} - {""}):
        if isinstance(known, dict) and router in known:
            read[router] = tuple(known[router])
        else:
            read[router] = _tier1_rules(nsx, router)
    return NamespaceEgress(tuple(namespaces), read, str(inventory.networks.egress), str(inventory.networks.egress_ip),
                           tuple(inventory.supervisor.namespaces))


# ---- bgp and capacity: the Tier-0, its BGP neighbours, NCP's IP pools, the edge load balancer ---------


def nsx_tier0(inventory: Inventory, nsx: NsxReader,
              tier1s: Callable[[], list[dict[str, object]]] | None = None) -> Tier0:
    """The Supervisor's Tier-0 (the inventory's nsx.tier0_gateway, else the NCP Tier-1s' tier0_path) and its
    locale services (one list); shared by the BGP and capacity checks. ``tier1s`` gives the Tier-1 list the run
    shares with the NAT check (read only when the inventory does not name the Tier-0)."""
    if inventory.nsx.tier0_gateway:
        tier0, how = inventory.nsx.tier0_gateway, "named by the inventory (nsx.tier0_gateway)"
    else:
        found, paths = tier0_from_tier1s(tier1s() if tier1s is not None else nsx.tier1s())
        if found is None:
            raise ObservationError(
                "NSX Tier-0", "the Tier-1 gateways tagged ncp/cluster name "
                + (f"{len(paths)} Tier-0s ({', '.join(paths)})" if paths else "no tier0_path")
                + "; set nsx.tier0_gateway in the inventory")
        tier0, how = found, "the tier0_path of the NCP Tier-1 gateways"
    try:
        locale_services = nsx.list(f"/infra/tier-0s/{path_id(tier0)}/locale-services")
    except HttpObservationError as error:
        if error.status not in (400, 404) or not inventory.nsx.tier0_gateway:
            raise
        raise ObservationError(error.target, f"{error.cause}; nsx.tier0_gateway must be the Tier-0's id (the last "
                                             "part of its path /infra/tier-0s/<id>), not its display name",
                               error.evidence) from None
    return Tier0(tier0, how, tuple(locale_services))


def bgp_observation(inventory: Inventory, nsx: NsxReader, tier0: Tier0) -> BgpObservation:
    """Each locale service's neighbour status, and what the Tier-0 advertises to each ESTABLISHED neighbour."""
    neighbours: list[BgpNeighbour] = []
    base = f"/infra/tier-0s/{path_id(tier0.id)}/locale-services"
    for service in tier0.locale_services:
        ls = str(service.get("id") or "")
        if not ls:
            raise ObservationError(f"NSX GET {base}", "a locale service has no id", (repr(service)[:300],))
        path = f"{base}/{path_id(ls)}/bgp/neighbors"
        found = parse_status(nsx.get(f"{path}/status"), f"NSX GET {path}/status", ls)
        if any(n.state == "ESTABLISHED" for n in found):
            ids = {str(c.get("neighbor_address")): str(c.get("id")) for c in nsx.list(path) if c.get("id")}
            for index, neighbour in enumerate(found):
                if neighbour.state != "ESTABLISHED":
                    continue
                config = ids.get(neighbour.address)
                if config is None:
                    raise ObservationError(f"NSX GET {path}", f"no neighbour configuration for {neighbour.address}, "
                                                              "so its advertised routes cannot be asked")
                routes = f"{path}/{path_id(config)}/advertised-routes"
                found[index] = replace(neighbour, advertised=parse_advertised(nsx.get(routes), f"NSX GET {routes}"))
        neighbours.extend(found)
    nets = inventory.networks
    return BgpObservation(tier0.id, tier0.how, tuple(neighbours), nets.ingress, nets.egress)


def nsx_ip_pools(nsx: NsxReader) -> list[dict[str, object]]:
    """Every IP pool of the Manager API (one list), with its ranges and pool_usage."""
    return nsx.list(IP_POOLS_API)


def lb_node_usage(nsx: NsxReader, tier0: Tier0) -> list[LbNodeUsage]:
    """lb-node-usage of every edge node of the Tier-0's edge cluster(s)."""
    usage: list[LbNodeUsage] = []
    clusters = dict.fromkeys(str(s.get("edge_cluster_path") or "") for s in tier0.locale_services)
    clusters.pop("", None)
    if not clusters:
        raise ObservationError("NSX Tier-0 locale services", f"no locale service of Tier-0 {tier0.id} names an "
                                                             "edge_cluster_path")
    for cluster in clusters:
        for node in nsx.list(f"{cluster}/edge-nodes"):
            node_path = str(node.get("path") or "")
            api = f"NSX GET /infra/lb-node-usage?node_path={node_path}"
            usage.append(parse_lb_usage(nsx.get("/infra/lb-node-usage", {"node_path": node_path}), node_path, api))
    return usage
