"""What the API checks read, as plain functions of the readers: the session fixtures call them, and so
does :class:`wcp_acceptance.prefetch.ApiPrefetch` in its background thread (no pytest in here)."""

from __future__ import annotations

from wcp_acceptance import discovery
from wcp_acceptance.checks.dlb import DlbComparison, DlbVirtualServer, compare_dlb, dlb_lb_service_path
from wcp_acceptance.checks.ncp import NCP_NAMESPACE
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.targets import ServicePort
from wcp_acceptance.transport.kube import KubeReader
from wcp_acceptance.transport.nsx import NsxReader


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


def dlb_comparison(nsx: NsxReader, cluster: str, ports: list[ServicePort]) -> DlbComparison:
    """The Service ports matched against the cluster's DLB virtual servers, once for both DLB checks.

    The virtual servers come from one cursor-paginated list, each page made compact as it arrives
    (:class:`DlbVirtualServer`): their raw JSON is never held all at once."""
    path = discovery.dlb_service_path(nsx.lb_services(), cluster) or dlb_lb_service_path(cluster)
    servers = nsx.collect("/infra/lb-virtual-servers", DlbVirtualServer.from_json)
    return compare_dlb(ports, servers, path, cluster)


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
