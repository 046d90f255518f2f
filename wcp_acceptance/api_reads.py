"""What the API checks read, as plain functions of the readers: the session fixtures call them, and so
does :class:`wcp_acceptance.prefetch.ApiPrefetch` in its background thread (no pytest in here)."""

from __future__ import annotations

from wcp_acceptance import discovery
from wcp_acceptance.checks.dlb import DlbComparison, DlbVirtualServer, compare_dlb, dlb_lb_service_path
from wcp_acceptance.checks.ncp import NCP_NAMESPACE
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
from wcp_acceptance.observations import VcenterCluster
from wcp_acceptance.targets import ServicePort
from wcp_acceptance.transport.kube import KubeApiError, KubeReader
from wcp_acceptance.transport.nsx import NsxReader
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


def nsx_nat(nsx: NsxReader, cluster: str) -> dict[str, object]:
    """The NAT rules on the Supervisor's Tier-1 gateways (those tagged with the NCP cluster)."""
    tier1s = discovery.supervisor_tier1s(nsx.tier1s(), cluster)
    rules: list[dict[str, object]] = []
    for tier1 in tier1s:
        rules.extend(nsx.nat_rules(tier1))
    return {"rules": rules, "tier1s": tier1s}


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
