"""Find the NCP cluster name (``domain-c<N>:<vCenter UUID>``) the way an operator would.

Sources, in order: ``[coe] cluster`` of ncp.ini in the ``vmware-system-nsx/nsx-ncp-config``
ConfigMap; else the prefix of a Namespace's ``ncp/extpoolid`` annotation. The value is the
``ncp/cluster`` tag on every object NCP creates.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable, Mapping

NCP_CONFIGMAP = ("vmware-system-nsx", "nsx-ncp-config")


def cluster_from_ncp_ini(text: str) -> str | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    value = parser.get("coe", "cluster", fallback="").strip()
    return value or None


def nsx_managers_from_ncp_ini(text: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    raw = parser.get("nsx_v3", "nsx_api_managers", fallback="")
    return [item.strip() for item in raw.split(",") if item.strip()]


def cluster_from_extpoolid(annotations: Iterable[Mapping[str, str]]) -> str | None:
    """``domain-c8:<uuid>-ippool-172-16-2-1-172-16-2-255`` -> ``domain-c8:<uuid>``."""
    for ann in annotations:
        value = ann.get("ncp/extpoolid", "")
        if "-ippool-" in value:
            return value.split("-ippool-", 1)[0]
    return None


def _tags(obj: Mapping[str, object]) -> dict[str, str]:
    tags = obj.get("tags")
    if not isinstance(tags, list):
        return {}
    return {str(t.get("scope")): str(t.get("tag")) for t in tags if isinstance(t, Mapping)}


def dlb_service_path(lb_services: Iterable[Mapping[str, object]], cluster: str) -> str | None:
    """The path of the cluster's DLB lb-service (size DLB, tagged ``ncp/cluster``), if NSX lists one."""
    for service in lb_services:
        if service.get("size") == "DLB" and _tags(service).get("ncp/cluster") == cluster:
            return str(service.get("path") or f"/infra/lb-services/{service.get('id')}")
    for service in lb_services:  # untagged: fall back to NCP's naming
        if service.get("size") == "DLB" and service.get("id") == f"clusterip_{cluster}_dlb":
            return str(service.get("path") or f"/infra/lb-services/{service.get('id')}")
    return None


def supervisor_tier1s(tier1s: Iterable[Mapping[str, object]], cluster: str) -> list[str]:
    """Ids of the Tier-1 gateways NCP created for this cluster (tagged ``ncp/cluster``)."""
    return [str(t.get("id")) for t in tier1s if _tags(t).get("ncp/cluster") == cluster]
