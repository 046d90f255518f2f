"""ClusterIP DLB checks: every Service port with a ClusterIP has its NSX DLB virtual server, and no
virtual server is left behind for a Service (or port) that no longer exists.

Pure functions over what the readers returned: the expected :class:`ServicePort` list (from the
Kubernetes Services) and the raw ``LBVirtualServer`` dicts (from NSX). One pass builds
:class:`DlbComparison` with dict/set lookups (O(n) for tens of thousands of objects); the findings
and their evidence are built from it, evidence only on failure.

A virtual server counts for the cluster when it is tagged ``ncp/cluster=<cluster>`` and
``ncp/created_for=DLB`` and sits on the cluster's DLB lb-service. Its protocol comes from its
application profile (``default-udp-lb-app-profile`` -> UDP), with the ``ncp/service_port_protocol``
tag as fallback. The match key is (ClusterIP, port, protocol).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.targets import ServicePort

CHECK_COVERAGE = "WCP-DLB-001"
CHECK_STALE = "WCP-DLB-002"
MAX_LISTED = 20  # set diffs and evidence list this many items, then "... and N more"
MAX_RANGE = 4096  # a port range wider than this is not expanded (NCP never creates ranges)

Key = tuple[str, int, str]  # (ip, port, PROTOCOL)
_TRIM_KEYS = ("id", "display_name", "ip_address", "ports", "application_profile_path", "lb_service_path",
              "pool_path", "enabled", "_last_modified_time")


def _tag_map(obj: Mapping[str, Any]) -> dict[str, str]:
    tags = obj.get("tags") or []
    return {str(t.get("scope")): str(t.get("tag")) for t in tags if isinstance(t, Mapping)}


def protocol_of(obj: Mapping[str, Any]) -> str:
    """TCP/UDP from the application profile path, else the ``ncp/service_port_protocol`` tag, else TCP."""
    profile = str(obj.get("application_profile_path") or "").rsplit("/", 1)[-1].lower()
    if "udp" in profile:
        return "UDP"
    if "tcp" in profile or "http" in profile:
        return "TCP"
    return _tag_map(obj).get("ncp/service_port_protocol", "TCP").upper()


def _ports(values: Iterable[Any]) -> tuple[int, ...]:
    ports: list[int] = []
    for value in values:
        text = str(value).strip()
        low, dash, high = text.partition("-")
        try:
            if dash and 0 <= int(high) - int(low) <= MAX_RANGE:
                ports.extend(range(int(low), int(high) + 1))
            elif not dash:
                ports.append(int(text))
        except ValueError:
            continue
    return tuple(ports)


def _format_ports(ports: tuple[int, ...]) -> str:
    return ",".join(map(str, ports)) if ports else "?"


def _frozen(value: Any) -> Any:
    """A JSON value to keep: strings shared, lists as tuples (json.dumps writes both back the same)."""
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _shared(value: object) -> str:
    """One copy of a string that thousands of virtual servers repeat (paths, tags, cluster names)."""
    return sys.intern(str(value))


@dataclass(frozen=True, slots=True)
class DlbVirtualServer:
    """The fields of one NSX ``LBVirtualServer`` the DLB checks need, and the few that explain a finding.

    The raw JSON is not kept: at 20,000 virtual servers it is hundreds of MiB, and a finding shows at
    most :data:`MAX_LISTED` of them. ``detail`` holds the explaining fields (:data:`_TRIM_KEYS`, then
    the ``ncp/*`` and ``external_id`` tags) for :meth:`trimmed_json`, flat (key, value, key, value, ...):
    two tuples per virtual server instead of one per field, the repeated strings shared."""

    id: str
    ip: str
    ports: tuple[int, ...]
    protocol: str
    namespace: str
    service: str
    service_port: str
    cluster: str
    created_for: str
    lb_service_path: str
    detail: tuple[Any, ...] = field(default=(), compare=False, repr=False, hash=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> DlbVirtualServer:
        tags = {_shared(k): _shared(v) for k, v in _tag_map(obj).items()}
        ident, ip = str(obj.get("id", "")), str(obj.get("ip_address", ""))
        detail: list[Any] = []
        for key in _TRIM_KEYS:
            if key in obj:
                detail += (key, ident if key == "id" else ip if key == "ip_address" else _frozen(obj[key]))
        detail += ("tags", tuple(item for k, v in tags.items() if k.startswith("ncp/") or k == "external_id"
                                 for item in (k, v)))
        return cls(
            id=ident,
            ip=ip,
            ports=_ports(obj.get("ports") or []),
            protocol=protocol_of(obj),
            namespace=_shared(tags.get("ncp/project", "")),
            service=tags.get("ncp/service", ""),
            service_port=_shared(tags.get("ncp/service_port", "")),
            cluster=_shared(tags.get("ncp/cluster", "")),
            created_for=_shared(tags.get("ncp/created_for", "")),
            lb_service_path=_shared(obj.get("lb_service_path") or ""),
            detail=tuple(detail),
        )

    def field(self, key: str) -> Any:
        """One of the kept explaining fields (:data:`_TRIM_KEYS`), or None when the object had none."""
        for index in range(0, len(self.detail), 2):
            if self.detail[index] == key:
                return self.detail[index + 1]
        return None

    @property
    def enabled(self) -> bool:
        """NSX's ``enabled`` (default true when the object omits it)."""
        return self.field("enabled") is not False

    @property
    def pool_path(self) -> str:
        return str(self.field("pool_path") or "")

    @property
    def keys(self) -> tuple[Key, ...]:
        return tuple((self.ip, port, self.protocol) for port in self.ports)

    @property
    def service_ref(self) -> tuple[str, str]:
        return (self.namespace, self.service)

    @property
    def service_name(self) -> str:
        return f"{self.namespace}/{self.service}" if self.service else "(no ncp/service tag)"

    def __repr__(self) -> str:
        return f"<VirtualServer {self.service_name} {self.ip}:{_format_ports(self.ports)}/{self.protocol} id={self.id}>"

    __str__ = __repr__

    def trimmed_json(self) -> str:
        """The raw object cut to what explains a DLB finding (one line)."""
        pairs = zip(self.detail[::2], self.detail[1::2], strict=True)
        out: dict[str, Any] = {k: (dict(zip(v[::2], v[1::2], strict=True)) if k == "tags" else v) for k, v in pairs}
        return json.dumps(out, separators=(", ", ": "))


def _endpoint(port: ServicePort) -> str:
    return f"{port.cluster_ip}:{port.port}/{port.protocol}"


def _listing(label: str, items: Sequence[str], limit: int = MAX_LISTED) -> str:
    shown = ", ".join(items[:limit])
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{label}: {shown}{more}"


def _capped(lines: Sequence[str], limit: int = MAX_LISTED) -> list[str]:
    out = list(lines[:limit])
    if len(lines) > limit:
        out.append(f"... and {len(lines) - limit} more")
    return out


@dataclass
class DlbComparison:
    """Expected Service ports against the cluster's DLB virtual servers, matched once in memory."""

    cluster: str
    lb_service_path: str
    expected: tuple[ServicePort, ...]
    servers: tuple[DlbVirtualServer, ...]  # the virtual servers that count for this cluster
    by_key: dict[Key, list[DlbVirtualServer]]
    others_by_key: dict[Key, list[DlbVirtualServer]]  # seen, but another cluster/lb-service/not DLB
    missing: tuple[ServicePort, ...]
    unexpected: tuple[DlbVirtualServer, ...]
    unexpected_by_service: dict[tuple[str, str], list[DlbVirtualServer]]
    seen_total: int

    @property
    def target(self) -> str:
        return f"DLB {self.lb_service_path.rstrip('/').rsplit('/', 1)[-1]}"

    # ---- causes -------------------------------------------------------------------------------------
    def _why_not_counted(self, vs: DlbVirtualServer) -> str:
        if vs.cluster != self.cluster:
            return f"it is tagged ncp/cluster={vs.cluster or '(none)'}, not {self.cluster}"
        if vs.created_for != "DLB":
            return f"it is tagged ncp/created_for={vs.created_for or '(none)'}, not DLB"
        return f"it is on lb-service {vs.lb_service_path or '(none)'}, not {self.lb_service_path}"

    def explain_missing(self, port: ServicePort) -> tuple[str, list[DlbVirtualServer]]:
        """The likely cause for one Service port without a virtual server, and the virtual servers involved."""
        # a virtual server NCP tagged for this very Service port, listening on another port/protocol
        mismatched = [vs for vs in self.unexpected_by_service.get((port.namespace, port.name), [])
                      if vs.service_port == str(port.port)]
        if mismatched:
            listed = ", ".join(f"{vs!r}" for vs in mismatched[:3])
            return (f"port/protocol mismatch: {port} expects {_endpoint(port)} but the virtual server tagged for "
                    f"that Service is {listed}", mismatched[:3])
        elsewhere = self.others_by_key.get(port.endpoint, [])
        if elsewhere:
            vs = elsewhere[0]
            return (f"{port}: virtual server {vs.id} serves {_endpoint(port)} but does not count because "
                    f"{self._why_not_counted(vs)}", [vs])
        return "", []

    # ---- findings -----------------------------------------------------------------------------------
    def coverage(self) -> Finding:
        """WCP-DLB-001: every expected Service port has a virtual server (ip, port, protocol)."""
        n = len(self.expected)
        expected = (f"a DLB virtual server (ClusterIP:port/protocol) on {self.lb_service_path} tagged "
                    f"ncp/cluster={self.cluster} for each of the {n} Service ports with a ClusterIP")
        if not self.missing:
            return passed(CHECK_COVERAGE, self.target, expected,
                          f"all {n} covered by {len(self.servers)} virtual servers")
        observed = (f"{len(self.missing)} of {n} Service ports have no virtual server; "
                    + _listing("missing", [f"{p} ({_endpoint(p)})" for p in self.missing]))
        causes: list[str] = []
        involved: list[DlbVirtualServer] = []
        plain: list[ServicePort] = []
        if not self.servers:
            clusters = sorted({vs.cluster for found in self.others_by_key.values() for vs in found if vs.cluster})
            seen = f"; the virtual servers seen carry ncp/cluster={', '.join(clusters[:3])}" if clusters else ""
            causes.append(f"no virtual server on {self.lb_service_path} carries ncp/cluster={self.cluster} and "
                          f"ncp/created_for=DLB ({self.seen_total} virtual servers seen in all{seen}): the cluster "
                          "name or DLB lb-service is wrong, or NCP has realised no Service at all (nsx-ncp pod in "
                          "vmware-system-nsx)")
        for port in self.missing:
            cause, servers = self.explain_missing(port)
            if cause:
                causes.append(cause)
                involved.extend(vs for vs in servers if vs not in involved)
            else:
                plain.append(port)
        if plain and self.servers:
            causes.append(f"NCP has not realised {len(plain)} Service port(s) "
                          f"({', '.join(str(p) for p in plain[:5])}{' ...' if len(plain) > 5 else ''}): look at the "
                          "nsx-ncp logs in vmware-system-nsx and the Services' ncp/error.* annotations")
        cause = "; ".join(_capped(causes))
        evidence = [vs.trimmed_json() for vs in involved] or [f"{p}: no virtual server for {_endpoint(p)}"
                                                              for p in plain]
        return failed(CHECK_COVERAGE, self.target, expected, observed, cause, _capped(evidence))

    def stale(self) -> Finding:
        """WCP-DLB-002: every virtual server of the cluster matches a Service port."""
        expected = (f"every DLB virtual server of cluster {self.cluster} on {self.lb_service_path} to match a "
                    f"Service port (ClusterIP, port, protocol) of the {len(self.expected)} known")
        if not self.unexpected:
            return passed(CHECK_STALE, self.target, expected,
                          f"all {len(self.servers)} virtual servers match a Service port")
        observed = (f"{len(self.unexpected)} of {len(self.servers)} virtual servers match no Service port; "
                    + _listing("unexpected", [repr(vs) for vs in self.unexpected]))
        services: dict[tuple[str, str], list[ServicePort]] = defaultdict(list)
        for port in self.expected:
            services[(port.namespace, port.name)].append(port)
        causes: list[str] = []
        for vs in self.unexpected:
            tag = f"{vs.id} (ncp/service={vs.service_name}, ncp/service_port={vs.service_port or '?'})"
            current = services.get(vs.service_ref)
            if not vs.service:
                causes.append(f"{vs.id} has no ncp/service tag: not made for a Service of this cluster")
            elif not current:
                causes.append(f"{tag}: the Service no longer exists; NCP left its virtual server behind")
            elif vs.ip != current[0].cluster_ip:
                causes.append(f"{tag}: the Service's ClusterIP is now {current[0].cluster_ip}, not {vs.ip}; "
                              "the virtual server was not updated")
            else:
                now = ", ".join(f"{p.port}/{p.protocol}" for p in current)
                causes.append(f"{tag}: the Service exists but port {_format_ports(vs.ports)}/{vs.protocol} no longer "
                              f"does (it has {now})")
        return failed(CHECK_STALE, self.target, expected, observed, "; ".join(_capped(causes)),
                      _capped([vs.trimmed_json() for vs in self.unexpected]))

    def service_port(self, port: ServicePort) -> Finding:
        """WCP-DLB-001 for one Service port (one test per port reads best in a report)."""
        expected = f"a DLB virtual server for {_endpoint(port)} on {self.lb_service_path}"
        found = self.by_key.get(port.endpoint)
        if found:
            return passed(CHECK_COVERAGE, str(port), expected, repr(found[0]))
        cause, servers = self.explain_missing(port)
        if not cause:
            cause = ("NCP has not realised this Service port: look at the nsx-ncp logs in vmware-system-nsx and the "
                     "Service's ncp/error.* annotations")
        evidence = [vs.trimmed_json() for vs in servers] or [f"no virtual server of cluster {self.cluster} has "
                                                             f"{_endpoint(port)}"]
        return failed(CHECK_COVERAGE, str(port), expected, "no virtual server for that ClusterIP, port and protocol",
                      cause, evidence)


def compare_dlb(expected: Iterable[ServicePort],
                virtual_servers: Iterable[Mapping[str, Any] | DlbVirtualServer], lb_service_path: str,
                cluster: str) -> DlbComparison:
    """Match Service ports and virtual servers in one pass (dicts and sets; no nested loops).

    ``virtual_servers`` are raw ``LBVirtualServer`` dicts or, cheaper at scale, the
    :class:`DlbVirtualServer` the reader made of them page by page, as the session's fixture does."""
    ports = tuple(expected)
    counted: list[DlbVirtualServer] = []
    by_key: dict[Key, list[DlbVirtualServer]] = defaultdict(list)
    others: dict[Key, list[DlbVirtualServer]] = defaultdict(list)
    seen = 0
    for obj in virtual_servers:
        seen += 1
        vs = obj if isinstance(obj, DlbVirtualServer) else DlbVirtualServer.from_json(obj)
        mine = vs.cluster == cluster and vs.created_for == "DLB" and vs.lb_service_path == lb_service_path
        if mine:
            counted.append(vs)
        for key in vs.keys:
            (by_key if mine else others)[key].append(vs)
    wanted = {p.endpoint for p in ports}
    missing = tuple(sorted((p for p in ports if p.endpoint not in by_key),
                           key=lambda p: (p.namespace, p.name, p.port, p.protocol)))
    unexpected = tuple(sorted((vs for vs in counted if not any(k in wanted for k in vs.keys)),
                              key=lambda vs: (vs.namespace, vs.service, vs.id)))
    by_service: dict[tuple[str, str], list[DlbVirtualServer]] = defaultdict(list)
    for vs in unexpected:
        by_service[vs.service_ref].append(vs)
    return DlbComparison(cluster, lb_service_path, ports, tuple(counted), dict(by_key), dict(others), missing,
                         unexpected, dict(by_service), seen)


def check_dlb_coverage(expected: Iterable[ServicePort], virtual_servers: Iterable[Mapping[str, Any]],
                       lb_service_path: str, cluster: str) -> Finding:
    """WCP-DLB-001 over the whole set: ``missing:`` lists Service ports without a virtual server."""
    return compare_dlb(expected, virtual_servers, lb_service_path, cluster).coverage()


def check_dlb_stale(expected: Iterable[ServicePort], virtual_servers: Iterable[Mapping[str, Any]],
                    lb_service_path: str, cluster: str) -> Finding:
    """WCP-DLB-002: ``unexpected:`` lists the cluster's virtual servers that match no Service port."""
    return compare_dlb(expected, virtual_servers, lb_service_path, cluster).stale()


def check_dlb_coverage_of(comparison: DlbComparison) -> Finding:
    """WCP-DLB-001 against a comparison built once per session."""
    return comparison.coverage()


def check_dlb_stale_of(comparison: DlbComparison) -> Finding:
    """WCP-DLB-002 against a comparison built once per session."""
    return comparison.stale()


def check_service_port_dlb(port: ServicePort, comparison: DlbComparison) -> Finding:
    """WCP-DLB-001 for one Service port, against a comparison built once per session."""
    return comparison.service_port(port)


def dlb_lb_service_path(cluster: str) -> str:
    """NCP's DLB lb-service of a cluster: ``/infra/lb-services/clusterip_<cluster>_dlb``."""
    return f"/infra/lb-services/clusterip_{cluster}_dlb"
