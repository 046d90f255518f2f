"""vCenter's own word on the Supervisor: Workload Management's status and settings.

WCP-VC-001: ``config_status`` is RUNNING (CONFIGURING: not yet; ERROR or REMOVING: failed).
WCP-VC-002: ``kubernetes_status`` is READY; WARNING fails with severity major, ERROR critical.
WCP-VC-003: what vCenter holds (API VIP, DNS, NTP, CIDRs, control-plane addresses, NSX edge
cluster and Tier-0) is what the inventory states, field by field.

All three read one object, ``GET /api/vcenter/namespace-management/clusters/{cluster}`` (API-FACTS
section 3). What is public of its shape and what is not:

* ``config_status``, ``kubernetes_status``, ``messages[]`` and ``kubernetes_status_messages[]``
  (``severity``, ``details.default_message``) and the address fields are in the vSphere 7.0 API
  reference; every field is treated as optional.
* ``conditions[]`` (vSphere API 8.0.0.1+: ``type``, ``status``, ``reason``, ``severity``,
  ``messages[]`` with ``kb_article_link``) is documented field by field, but the full list of
  condition types and reasons is not public: they are shown as vCenter sends them, never
  interpreted. Absent conditions (an older vCenter) are not a failure.
* ``master_NTP_servers`` and ``ncp_cluster_network_info.nsx_tier0_gateway`` are in later
  references only; absent, they are not compared. Whether ``nsx_edge_cluster`` names the edge
  cluster by id or by display name is not verified: the inventory's value must match it as is.
* ``api_servers`` may hold the floating management address (``api_server_management_endpoint``)
  beside the control-plane VMs' own; that one is not counted as a difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network
from typing import Any

from wcp_acceptance.finding import Finding, ObservationError, failed, passed
from wcp_acceptance.inventory.model import Inventory
from wcp_acceptance.observations import VcenterCluster

CONFIG_CHECK_ID = "WCP-VC-001"
KUBERNETES_CHECK_ID = "WCP-VC-002"
DRIFT_CHECK_ID = "WCP-VC-003"

CONFIG_CAUSES = {
    "CONFIGURING": "Workload Management is still being enabled or reconfigured (not yet: run again when vCenter "
                   "says RUNNING; if it stays CONFIGURING, its messages say what it waits for)",
    "ERROR": "enabling or reconfiguring Workload Management failed; vCenter's messages say why (Workload "
             "Management > Supervisors > Configuration in the vSphere Client, /var/log/vmware/wcp/wcpsvc.log)",
    "REMOVING": "Workload Management is being disabled on this cluster",
}


def _text(value: object) -> str:
    return "" if value is None else str(value)


def message_lines(messages: object, where: str) -> list[str]:
    """Each ``{severity, details: {id, default_message}}`` (or a summary's ``{id, severity, details}``)."""
    lines: list[str] = []
    for entry in messages if isinstance(messages, list) else []:
        if not isinstance(entry, Mapping):
            lines.append(f"{where}: {entry!r}")
            continue
        details = entry.get("details")
        text = details.get("default_message") if isinstance(details, Mapping) else details
        ident = (details.get("id") if isinstance(details, Mapping) else None) or entry.get("id")
        line = f"{where}: {_text(entry.get('severity')) or '?'}: {_text(text) or '(no text)'}"
        if ident:
            line += f" [{ident}]"
        if entry.get("kb_article_link"):
            line += f" (KB: {entry['kb_article_link']})"
        lines.append(line)
    return lines


def condition_lines(conditions: object) -> list[str]:
    """Each condition (vSphere 8.0.0.1+) with its type, status, reason, severity and messages' KB links."""
    lines: list[str] = []
    for cond in conditions if isinstance(conditions, list) else []:
        if not isinstance(cond, Mapping):
            lines.append(f"condition: {cond!r}")
            continue
        line = (f"condition {_text(cond.get('type')) or '?'}: status {_text(cond.get('status')) or '?'}, "
                f"reason {_text(cond.get('reason')) or '-'}, severity {_text(cond.get('severity')) or '-'}")
        lines.append(line)
        for msg in cond.get("messages") or []:
            if not isinstance(msg, Mapping):
                lines.append(f"  message: {msg!r}")
                continue
            details = msg.get("details")
            text = details.get("default_message") if isinstance(details, Mapping) else (details or msg.get(
                "default_message"))
            tail = f" (KB: {msg['kb_article_link']})" if msg.get("kb_article_link") else ""
            lines.append(f"  message: {_text(msg.get('severity')) + ': ' if msg.get('severity') else ''}"
                         f"{_text(text) or '(no text)'}{tail}")
    return lines


def _where(cluster: VcenterCluster) -> list[str]:
    name = f" ({cluster.name})" if cluster.name else ""
    vcenter = f"vCenter {cluster.vcenter}" if cluster.vcenter else "vCenter"
    return [f"{vcenter} cluster {cluster.moid}{name}, {cluster.found_by}"]


def check_config_status(cluster: VcenterCluster, target: str) -> Finding:
    """WCP-VC-001 on the cluster's Info."""
    status = _text(cluster.info.get("config_status")) or "(absent)"
    messages = message_lines(cluster.info.get("messages"), "messages")
    expected = "config_status RUNNING"
    observed = f"config_status {status}" + (f" with {len(messages)} message(s): "
                                            + "; ".join(m.removeprefix("messages: ") for m in messages)
                                            if messages else "")
    if status == "RUNNING":
        return passed(CONFIG_CHECK_ID, target, expected, observed)
    cause = CONFIG_CAUSES.get(status, f"vCenter reports config_status {status}, not one of RUNNING, CONFIGURING, "
                                      "ERROR, REMOVING")
    return failed(CONFIG_CHECK_ID, target, expected, observed, cause, [*_where(cluster), *messages])


def check_kubernetes_status(cluster: VcenterCluster, target: str) -> Finding:
    """WCP-VC-002 on the cluster's Info: READY passes, WARNING fails as major, anything else as critical."""
    status = _text(cluster.info.get("kubernetes_status")) or "(absent)"
    messages = message_lines(cluster.info.get("kubernetes_status_messages"), "kubernetes_status_messages")
    conditions = condition_lines(cluster.info.get("conditions"))
    troubled = [line for line in conditions if not line.startswith("  ")
                and ("status FALSE" in line or "severity WARNING" in line or "severity ERROR" in line)]
    expected = "kubernetes_status READY"
    observed = f"kubernetes_status {status}"
    if messages:
        observed += f" with {len(messages)} message(s): " + "; ".join(
            m.removeprefix("kubernetes_status_messages: ") for m in messages)
    if troubled:
        observed += "; " + "; ".join(troubled)
    if "conditions" not in cluster.info:
        conditions = ["conditions: not reported (vSphere API before 8.0.0.1)"]
    if status == "READY":
        return passed(KUBERNETES_CHECK_ID, target, expected, observed)
    evidence = [*_where(cluster), *messages, *conditions]
    if status == "WARNING":
        return failed(KUBERNETES_CHECK_ID, target, expected, observed,
                      "vCenter warns about the Supervisor's Kubernetes (a warning, severity major): its messages "
                      "and conditions say what, with a KB article where vCenter links one", evidence,
                      severity="major")
    return failed(KUBERNETES_CHECK_ID, target, expected, observed,
                  "the Supervisor's Kubernetes control plane is not healthy in vCenter's eyes: its messages and "
                  "conditions say what failed", evidence, severity="critical")


# ---- WCP-VC-003: drift ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stated:
    """One setting the inventory states, with vCenter's name for it (``None`` values are not stated)."""

    inventory_field: str
    vcenter_field: str
    value: tuple[str, ...]
    kind: str = "set"  # set (order-free addresses or networks) | value


def stated_settings(inv: Inventory) -> list[Stated]:
    """What the inventory says Workload Management was enabled with, in vCenter's terms."""
    nets = inv.networks
    items = [
        Stated("api_vip.address", "api_server_cluster_endpoint", (str(inv.api_vip.address),), "value"),
        Stated("dns.management.servers", "master_DNS", tuple(str(s) for s in inv.dns.management.servers)),
        Stated("dns.workload.servers", "worker_DNS", tuple(str(s) for s in inv.dns.workload.servers)),
        Stated("ntp_servers", "master_NTP_servers", tuple(str(s) for s in inv.ntp_servers)),
        Stated("networks.service", "service_cidr", (str(nets.service),), "value"),
        Stated("networks.ingress", "ncp_cluster_network_info.ingress_cidrs", (str(nets.ingress),)),
        Stated("networks.egress", "ncp_cluster_network_info.egress_cidrs", (str(nets.egress),)),
        Stated("supervisor.control_plane[].management_address", "api_servers",
               tuple(str(vm.management_address) for vm in inv.supervisor.control_plane)),
        Stated("nsx.edge_cluster", "ncp_cluster_network_info.nsx_edge_cluster",
               (inv.nsx.edge_cluster,) if inv.nsx.edge_cluster else (), "value"),
        Stated("nsx.tier0_gateway", "ncp_cluster_network_info.nsx_tier0_gateway",
               (inv.nsx.tier0_gateway,) if inv.nsx.tier0_gateway else (), "value"),
    ]
    return [s for s in items if s.value]  # fields the inventory does not state are not differences


def _cidr(value: object) -> str:
    if isinstance(value, Mapping) and "address" in value and "prefix" in value:
        try:
            return str(ip_network(f"{value['address']}/{value['prefix']}", strict=False))
        except ValueError:
            return f"{value['address']}/{value['prefix']}"
    return str(value)


def _field(info: Mapping[str, Any], path: str) -> object:
    value: object = info
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def vcenter_values(info: Mapping[str, Any], vcenter_field: str) -> tuple[str, ...] | None:
    """vCenter's value(s) for a field, as text (networks as a/p); None when vCenter does not report it."""
    raw = _field(info, vcenter_field)
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    if vcenter_field.endswith("_cidrs") or vcenter_field == "service_cidr":
        return tuple(_cidr(x) for x in items)
    return tuple(str(x) for x in items)


def _same_network(a: str, b: str) -> bool:
    try:
        return IPv4Network(a, strict=False) == IPv4Network(b, strict=False)
    except ValueError:
        return a == b


def _differs(stated: Stated, have: tuple[str, ...], info: Mapping[str, Any]) -> bool:
    if stated.kind == "value":
        if len(have) != 1:
            return True
        want = stated.value[0]
        return not _same_network(want, have[0]) if "/" in want else want != have[0]
    if stated.vcenter_field == "api_servers":  # the floating management endpoint may be listed too
        floating = _text(info.get("api_server_management_endpoint"))
        return set(stated.value) != {h for h in have if h != floating or h in stated.value}
    if stated.vcenter_field.endswith("_cidrs"):
        return {str(IPv4Network(x, strict=False)) for x in stated.value} != set(have)
    return set(stated.value) != set(have)


def _show(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "(none)"


def check_drift(cluster: VcenterCluster, settings: Sequence[Stated], target: str) -> Finding:
    """WCP-VC-003: every setting the inventory states against vCenter's, one line per difference."""
    compared = [s for s in settings if vcenter_values(cluster.info, s.vcenter_field) is not None]
    not_reported = [s.vcenter_field for s in settings if s not in compared]
    expected = ("vCenter's " + ", ".join(s.vcenter_field.rsplit(".", 1)[-1] for s in compared)
                + " as the inventory states them") if compared else "vCenter's settings as the inventory states them"
    differences: list[str] = []
    agree: list[str] = []
    for s in compared:
        have = vcenter_values(cluster.info, s.vcenter_field) or ()
        line = f"inventory {s.inventory_field} {_show(s.value)}, vCenter {s.vcenter_field} {_show(have)}"
        (differences if _differs(s, have, cluster.info) else agree).append(line)
    evidence = [*_where(cluster), *(f"differs: {d}" for d in differences), *(f"agrees: {a}" for a in agree)]
    if not_reported:
        evidence.append(f"not reported by this vCenter (not compared): {', '.join(not_reported)}")
    if not compared:
        raise ObservationError(f"vCenter cluster {cluster.moid}",
                               "its Info reports none of the settings the inventory states "
                               f"({', '.join(s.vcenter_field for s in settings)})", evidence)
    if not differences:
        return passed(DRIFT_CHECK_ID, target, expected, f"{len(compared)} settings agree")
    observed = f"{len(differences)} of {len(compared)} differ: " + "; ".join(differences)
    return failed(DRIFT_CHECK_ID, target, expected, observed,
                  "the Supervisor was enabled (or since reconfigured) with other settings than the inventory "
                  "states: either Workload Management drifted from the site's design or the inventory is out of "
                  "date; the other checks test the inventory's values", evidence)


# ---- which cluster is the Supervisor ----------------------------------------------------------------------

def choose_cluster(summaries: Sequence[Mapping[str, Any]], supervisor: str, wanted: str | None,
                   where: str) -> tuple[str, str | None, str]:
    """(MoID, cluster_name, how it was found) of the Supervisor among vCenter's Workload Management clusters.

    ``wanted`` is the MoID the inventory gives (vcenter.cluster, or nsx.cluster's ``domain-cN``);
    otherwise the only cluster, or the one whose cluster_name is the Supervisor's name."""
    listed = [(str(s.get("cluster")), s.get("cluster_name")) for s in summaries if isinstance(s, Mapping)]
    seen = ", ".join(f"{m} ({n})" for m, n in listed) or "none"
    if wanted is not None:
        for moid, name in listed:
            if moid == wanted:
                return moid, _text(name) or None, f"named by the inventory ({wanted})"
        raise ObservationError(where, f"cluster {wanted} (from the inventory) has no Workload Management; "
                                      f"clusters with it: {seen}")
    if len(listed) == 1:
        moid, name = listed[0]
        return moid, _text(name) or None, "the only cluster with Workload Management"
    named = [(m, n) for m, n in listed if _text(n).lower() == supervisor.lower()]
    if len(named) == 1:
        moid, name = named[0]
        return moid, _text(name), f"cluster_name {name} is the inventory's supervisor.name"
    raise ObservationError(where, f"cannot tell which cluster is the Supervisor {supervisor} (clusters with "
                                  f"Workload Management: {seen}); set vcenter.cluster in the inventory")


def wanted_moid(inv: Inventory) -> str | None:
    """The Supervisor's cluster MoID when the inventory gives it (vcenter.cluster, or nsx.cluster)."""
    if inv.vcenter is not None and inv.vcenter.cluster:
        return inv.vcenter.cluster
    if not inv.nsx.discover_cluster and inv.nsx.cluster.startswith("domain-c"):
        return inv.nsx.cluster.split(":", 1)[0]
    return None
