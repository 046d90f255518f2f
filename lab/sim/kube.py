"""A Kubernetes API server simulator whose objects come from :class:`lab.model.SupervisorModel`.

It answers the way kube-apiserver answers, so the real ``kubectl`` and the official ``kubernetes``
client work against it unchanged:

* discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1`` (legacy discovery; aggregated
  discovery requests get plain JSON, which clients take as "not supported" and fall back);
* ``GET`` of Services, Namespaces, ConfigMaps and Pods, cluster-wide and per namespace, as lists
  (items without ``kind``/``apiVersion``, as the real server writes them) or single objects;
* chunked lists: ``limit`` + ``continue`` with an opaque token bound to the list's
  resourceVersion; ``metadata.continue`` and ``metadata.remainingItemCount`` only while more
  remain; a token the server no longer holds (or cannot read) gets ``410 Expired``;
* server-side printing: ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` returns a
  ``meta.k8s.io/v1`` Table with the columns kubectl prints;
* bearer-token authentication (401 Status), GET only (405 Status for any other verb).

State: Services are serialised once per snapshot (10,000 of them page in well under a second);
a new snapshot is taken when the model's Service list changes (added, removed or replaced
objects) or on :meth:`KubeApiSim.refresh` after an in-place edit. Namespaces, ConfigMaps and
Pods are small and rebuilt per request. Old snapshots are kept for a few generations so
``continue`` tokens survive a change, until :meth:`KubeApiSim.compact` drops them.

For tests: :attr:`KubeApiSim.requests` logs every request (never the token),
:meth:`KubeApiSim.fail_next` and :meth:`KubeApiSim.set_delay` inject faults.
:attr:`KubeApiSim.latency_s` is a realistic API server's latency, stated on purpose (a real
kube-apiserver behind a load balancer answers in milliseconds to tens of milliseconds): every answer
waits that long, in addition to any injected delay.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import ipaddress
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..model import ServiceSpec, SupervisorModel, stable_uuid, suffix5
from ..tls import LabCA
from .server import SimServer, answer_after, check_latency

JsonDict = dict[str, Any]

VERSION_INFO: JsonDict = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.1+vmware.1",
    "gitCommit": "e4ed0a3bc7c1b5a5e2f0c6e6bd3f84a6e6e33f39",
    "gitTreeState": "clean",
    "buildDate": "2024-06-14T08:44:09Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}

PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})  # system:public-info-viewer
MAX_DELAY_S = 30.0
SNAPSHOTS_KEPT = 8

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


@dataclass(frozen=True)
class Resource:
    """One entry of ``/api/v1`` discovery."""

    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def discovery(self) -> JsonDict:
        entry: JsonDict = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["get", "list"],  # the simulator serves reads only, and says so
            "storageVersionHash": base64.b64encode(hashlib.sha256(self.kind.encode()).digest()[:8]).decode(),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource("configmaps", "configmap", "ConfigMap", True, ("cm",)),
        Resource("events", "event", "Event", True, ("ev",)),
        Resource("namespaces", "namespace", "Namespace", False, ("ns",)),
        Resource("pods", "pod", "Pod", True, ("po",), ("all",)),
        Resource("services", "service", "Service", True, ("svc",), ("all",)),
    )
}


@dataclass(frozen=True)
class KubeRequest:
    """One request as the simulator saw it. The credential itself is never recorded."""

    method: str
    path: str
    query: dict[str, str]
    accept: str
    auth: str  # "bearer" (valid token), "invalid" (wrong token or scheme), "none"
    status: int


@dataclass
class _Fault:
    remaining: int
    status: int
    reason: str
    message: str
    path_prefix: str | None


@dataclass
class _Item:
    namespace: str
    name: str
    obj: JsonDict  # without kind/apiVersion, as list items are written
    body: bytes  # obj serialised once
    sig: bytes  # the same with an empty resourceVersion: equal sig, unchanged object


@dataclass
class _Snapshot:
    rv: int
    items: list[_Item]
    keys: list[str] = field(default_factory=list)  # "namespace/name" (or "name"), sorted like etcd keys

    def __post_init__(self) -> None:
        self.keys = [_key(i.namespace, i.name) for i in self.items]


class ApiError(Exception):
    """An API answer that is a Status, not an object."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: JsonDict | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason or REASONS.get(code, "Unknown")
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> JsonDict:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code: int, reason: str, message: str, details: JsonDict | None = None) -> JsonDict:
    """A ``v1 Status`` failure body, field for field as kube-apiserver writes it."""
    body: JsonDict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_duration(seconds: float) -> str:
    """kubectl's age format (k8s.io/apimachinery duration.HumanDuration)."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // 24 // 365, (hours // 24) % 365
    if years < 8:
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{years}y"


def _node_port(svc: ServiceSpec, port: int, protocol: str) -> int:
    digest = hashlib.sha256(f"{svc.namespace}/{svc.name}/{port}/{protocol}".encode()).digest()
    return 30000 + int.from_bytes(digest[:4], "big") % 2768


def service_object(svc: ServiceSpec, created: str) -> JsonDict:
    """A Service as kube-apiserver stores it (``resourceVersion`` filled in later)."""
    ports: list[JsonDict] = []
    for sp in svc.ports:
        entry: JsonDict = {}
        if sp.name:
            entry["name"] = sp.name
        entry["protocol"] = sp.protocol
        entry["port"] = sp.port
        entry["targetPort"] = sp.target_port if sp.target_port is not None else sp.port
        if svc.type in ("NodePort", "LoadBalancer"):
            entry["nodePort"] = sp.node_port or _node_port(svc, sp.port, sp.protocol)
        ports.append(entry)
    metadata: JsonDict = {"name": svc.name, "namespace": svc.namespace, "uid": svc.uid,
                          "resourceVersion": "", "creationTimestamp": created}
    if (svc.namespace, svc.name) == ("default", "kubernetes"):
        metadata["labels"] = {"component": "apiserver", "provider": "kubernetes"}
    if svc.annotations:
        metadata["annotations"] = dict(svc.annotations)
    spec: JsonDict = {}
    if svc.type == "ExternalName":
        spec = {"type": "ExternalName", "sessionAffinity": "None", "externalName": svc.external_name or ""}
        if ports:
            spec["ports"] = ports
        return {"metadata": metadata, "spec": spec, "status": {"loadBalancer": {}}}
    spec["ports"] = ports
    if (svc.namespace, svc.name) != ("default", "kubernetes"):
        spec["selector"] = {"app": svc.name}
    cluster_ip = svc.cluster_ip or ""
    spec["clusterIP"] = cluster_ip
    spec["clusterIPs"] = [cluster_ip]
    spec["type"] = svc.type
    spec["sessionAffinity"] = "None"
    if svc.type == "LoadBalancer" and svc.load_balancer_ip:
        spec["loadBalancerIP"] = svc.load_balancer_ip
    if svc.type in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = "Cluster"
    spec["ipFamilies"] = ["IPv4"]
    spec["ipFamilyPolicy"] = "SingleStack"
    if svc.type == "LoadBalancer":
        spec["allocateLoadBalancerNodePorts"] = True
    spec["internalTrafficPolicy"] = "Cluster"
    status: JsonDict = {"loadBalancer": {}}
    if svc.type == "LoadBalancer" and svc.load_balancer_ip:
        status = {"loadBalancer": {"ingress": [{"ip": svc.ingress_ip or svc.load_balancer_ip, "ipMode": "VIP"}]}}
    return {"metadata": metadata, "spec": spec, "status": status}


def ncp_ini(model: SupervisorModel) -> str:
    """NCP's configuration file as WCP renders it into ``nsx-ncp-config``."""
    return "\n".join([
        "[DEFAULT]",
        "",
        "[ha]",
        "master_timeout = 18",
        "heartbeat_period = 6",
        "update_timeout = 5",
        "",
        "[coe]",
        "adaptor = kubernetes",
        f"cluster = {model.ncp_cluster}",
        "loglevel = INFO",
        "node_type = HOSTVM",
        "enable_snat = True",
        "",
        "[nsx_v3]",
        "policy_nsxapi = True",
        f"nsx_api_managers = {model.nsx_manager if ':' in model.nsx_manager else model.nsx_manager + ':443'}",
        "nsx_api_cert_file = /etc/nsx-ujo/nsx-cert/tls.crt",
        "nsx_api_private_key_file = /etc/nsx-ujo/nsx-cert/tls.key",
        "insecure = False",
        "ca_file = /etc/nsx-ujo/nsx-ca/ca.crt",
        "subnet_prefix = 28",
        f"top_tier_router = {model.system_tier1}",
        "single_tier_topology = True",
        f"external_ip_pools = {ip_pool_name(model)}",
        f"external_ip_pools_lb = {ip_pool_name(model, model.ingress_cidr)}",
        "enable_distributed_load_balancer = True",
        "",
        "[k8s]",
        "apiserver_host_ip = 127.0.0.1",
        "apiserver_host_port = 6443",
        "client_token_file = /var/run/secrets/kubernetes.io/serviceaccount/token",
        "ca_file = /var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        "loglevel = INFO",
        "",
    ])


def ip_pool_name(model: SupervisorModel, cidr: str | None = None) -> str:
    """NCP's external IP pool for a range: ``<cluster>-ippool-<first>-<last>`` (egress range by default)."""
    net = ipaddress.ip_network(cidr or model.egress_cidr, strict=False)
    first, last = str(net.network_address + 1).replace(".", "-"), str(net.broadcast_address).replace(".", "-")
    return f"{model.ncp_cluster}-ippool-{first}-{last}"


class KubeApiSim:
    """The application behind :class:`KubeApiHandler`: the model's objects served as kube-apiserver would."""

    def __init__(self, model: SupervisorModel, token: str, *, created: datetime | None = None,
                 latency_s: float = 0.0) -> None:
        self.model = model
        self._latency_s = check_latency(latency_s)
        self._token = token
        self.created = (created or datetime.now(UTC) - timedelta(hours=25)).replace(microsecond=0)
        self.requests: list[KubeRequest] = []
        self._lock = threading.Lock()
        self._rv = 1000
        self._snapshots: dict[str, list[_Snapshot]] = {}
        self._signatures: dict[str, object] = {}
        self._faults: list[_Fault] = []
        self._delay_s = 0.0
        self._delay_prefix: str | None = None
        self._wake = threading.Event()
        self.refresh()

    def __repr__(self) -> str:
        return f"<KubeApiSim {len(self.model.services)} services>"

    @property
    def latency_s(self) -> float:
        """Seconds :class:`KubeApiHandler` waits before every answer: the stated latency, not a fault.

        Kept across :meth:`clear_faults` and :meth:`reset`; outside 0..MAX_LATENCY_S is ValueError."""
        return self._latency_s

    @latency_s.setter
    def latency_s(self, seconds: float) -> None:
        self._latency_s = check_latency(seconds)

    # ---- fault controls ----------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500, *, reason: str | None = None, message: str | None = None,
                  path_prefix: str | None = None) -> None:
        """Answer the next ``count`` requests (whose path starts with ``path_prefix``) with a Status."""
        with self._lock:
            self._faults.append(_Fault(count, status, reason or REASONS.get(status, "InternalError"),
                                       message or f"lab fault: injected {status}", path_prefix))

    def set_delay(self, seconds: float, *, path_prefix: str | None = None) -> None:
        """Hold every answer (for paths starting with ``path_prefix``) for ``seconds`` (at most 30 s)."""
        if not 0 <= seconds <= MAX_DELAY_S:
            raise ValueError(f"delay must be between 0 and {MAX_DELAY_S} s, got {seconds}")
        with self._lock:
            self._delay_s = seconds
            self._delay_prefix = path_prefix
            self._wake.clear()

    def clear_faults(self) -> None:
        """Drop pending failures and delays; requests being held are released at once."""
        with self._lock:
            self._faults.clear()
            self._delay_s = 0.0
            self._delay_prefix = None
        self._wake.set()

    def list_requests(self, path_prefix: str = "") -> list[KubeRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # ---- state -------------------------------------------------------------------------------
    def reset(self, model: SupervisorModel) -> None:
        """Serve ``model`` from now on, as a new server would: no snapshots, faults or request log."""
        self.clear_faults()
        with self._lock:
            self.model = model
            self.requests.clear()
            self._snapshots.clear()
            self._signatures.clear()
        self.refresh()

    def refresh(self) -> None:
        """Take a new snapshot of every kind now (after editing model objects in place)."""
        with self._lock:
            for plural in RESOURCES:
                self._snapshot(plural, force=True)

    def compact(self) -> None:
        """Forget every snapshot but the newest, as etcd compaction does: older continue tokens expire."""
        with self._lock:
            for plural, snaps in self._snapshots.items():
                self._snapshots[plural] = snaps[-1:]

    @property
    def resource_version(self) -> int:
        return self._rv

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _builders(self) -> dict[str, Callable[[], list[tuple[str, str, JsonDict]]]]:
        return {"services": self._build_services, "namespaces": self._build_namespaces,
                "configmaps": self._build_configmaps, "pods": self._build_pods,
                "events": lambda: []}  # kubectl describe lists events; the lab records none

    def _snapshot(self, plural: str, force: bool = False) -> _Snapshot:
        """The current snapshot of ``plural``; a new one if the model changed. Caller holds the lock."""
        signature: object = None
        if plural == "services":
            services = self.model.services
            signature = (id(services), len(services), tuple(map(id, services)))
            if not force and self._signatures.get(plural) == signature:
                return self._snapshots[plural][-1]
            raw = self._build_services()
        else:
            raw = self._builders()[plural]()
        raw.sort(key=lambda t: _key(t[0], t[1]))
        current = self._snapshots[plural][-1] if self._snapshots.get(plural) else None
        previous = {(i.namespace, i.name): i for i in current.items} if current else {}
        fresh = [(ns, name, obj, _dumps(obj)) for ns, name, obj in raw]  # resourceVersion still ""
        if current is not None and len(previous) == len(fresh) and all(
            (ns, name) in previous and previous[(ns, name)].sig == sig for ns, name, _obj, sig in fresh
        ):
            self._signatures[plural] = signature
            return current  # nothing changed: same resourceVersion, same tokens
        rv = self._next_rv()
        items: list[_Item] = []
        for ns, name, obj, sig in fresh:
            old = previous.get((ns, name))
            if old is not None and old.sig == sig:
                items.append(old)  # unchanged objects keep their resourceVersion
                continue
            obj["metadata"]["resourceVersion"] = str(rv)
            body = sig.replace(b'"resourceVersion":""', f'"resourceVersion":"{rv}"'.encode(), 1)
            items.append(_Item(ns, name, obj, body, sig))
        snap = _Snapshot(rv, items)
        self._snapshots.setdefault(plural, []).append(snap)
        del self._snapshots[plural][:-SNAPSHOTS_KEPT]
        self._signatures[plural] = signature
        return snap

    def _build_services(self) -> list[tuple[str, str, JsonDict]]:
        created = rfc3339(self.created)
        return [(s.namespace, s.name, service_object(s, created)) for s in self.model.services]

    def _build_namespaces(self) -> list[tuple[str, str, JsonDict]]:
        m = self.model
        created = rfc3339(self.created)
        out = []
        for ns in m.namespaces:
            # system namespaces share the Supervisor's Tier-1 and egress IP; a vSphere Namespace has its own, its
            # pod subnet, and WCP's vSphereClusterID label (as `kubectl describe ns` prints them on a real site)
            vsphere = m.vsphere_namespace(ns)
            labels = {"kubernetes.io/metadata.name": ns}
            annotations = {"ncp/extpoolid": ip_pool_name(m), "ncp/router_id": m.system_tier1,
                           "ncp/snat_ip": m.egress_ip}
            if vsphere is not None:
                labels["vSphereClusterID"] = m.cluster_moid
                annotations = {"ncp/extpoolid": ip_pool_name(m), "ncp/router_id": vsphere.tier1,
                               "ncp/snat_ip": vsphere.snat_ip, "ncp/subnet-0": vsphere.subnet}
            metadata: JsonDict = {
                "name": ns,
                "uid": stable_uuid("ns", ns),
                "resourceVersion": "",
                "creationTimestamp": created,
                "labels": labels,
                "annotations": annotations,
            }
            out.append(("", ns, {"metadata": metadata, "spec": {"finalizers": ["kubernetes"]},
                                 "status": {"phase": "Active"}}))
        return out

    def _build_configmaps(self) -> list[tuple[str, str, JsonDict]]:
        m = self.model
        created = rfc3339(self.created)

        def cm(ns: str, name: str, data: dict[str, str]) -> tuple[str, str, JsonDict]:
            meta = {"name": name, "namespace": ns, "uid": stable_uuid("cm", ns, name), "resourceVersion": "",
                    "creationTimestamp": created}
            return (ns, name, {"metadata": meta, "data": data})

        return [
            cm("vmware-system-nsx", "nsx-ncp-config", {"ncp.ini": ncp_ini(m)}),
            cm("kube-system", "wcp-network-config", {
                "network_provider": "NSXT_CONTAINER_PLUGIN",
                "api_servers_management_ips": ",".join(m.api_servers_management_ips),
                "cluster_cidr": m.namespace_network,
                "service_cidr": m.service_cidr,
                "ingress_cidrs": m.ingress_cidr,
                "egress_cidrs": m.egress_cidr,
            }),
            cm("kube-system", "coredns", {"Corefile": (
                ".:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n"
                "       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n    }\n"
                f"    forward . {' '.join(m.worker_dns)}\n    cache 30\n    loop\n    reload\n}}\n")}),
        ]

    def _node_names(self) -> list[str]:
        return [stable_uuid("node", ip).replace("-", "") for ip in self.model.api_servers_management_ips]

    def _build_pods(self) -> list[tuple[str, str, JsonDict]]:
        m = self.model
        created = self.created
        nodes = self._node_names()
        out = []

        def pod(ns: str, deployment: str, index: int, container: str, image: str, node: int, ip: str,
                state: str, restarts: int, labels: dict[str, str]) -> tuple[str, str, JsonDict]:
            rs_hash = suffix5(ns, deployment, "rs") + suffix5(ns, deployment, "rs2")[:5]
            name = f"{deployment}-{rs_hash}-{suffix5(ns, deployment, index)}"
            started = rfc3339(created + timedelta(minutes=5))
            running = state == "Running"
            container_status: JsonDict = {
                "name": container, "ready": running, "restartCount": restarts, "image": image,
                "imageID": f"{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                "containerID": f"containerd://{hashlib.sha256(name.encode()).hexdigest()}",
                "started": running,
            }
            if running:
                container_status["state"] = {"running": {"startedAt": started}}
            else:
                container_status["state"] = {"waiting": {"reason": state, "message": (
                    f"back-off 5m0s restarting failed container={container} pod={name}_{ns}")}}
                container_status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                                                "startedAt": started, "finishedAt": started}}
            ready = "True" if running else "False"
            obj: JsonDict = {
                "metadata": {
                    "name": name, "generateName": f"{deployment}-{rs_hash}-", "namespace": ns,
                    "uid": stable_uuid("pod", ns, name), "resourceVersion": "",
                    "creationTimestamp": rfc3339(created), "labels": {**labels, "pod-template-hash": rs_hash},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                         "name": f"{deployment}-{rs_hash}",
                                         "uid": stable_uuid("rs", ns, deployment), "controller": True,
                                         "blockOwnerDeletion": True}],
                },
                "spec": {"containers": [{"name": container, "image": image}], "nodeName": nodes[node],
                         "hostNetwork": True, "restartPolicy": "Always", "serviceAccountName": deployment},
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "Initialized", "status": "True", "lastTransitionTime": rfc3339(created)},
                        {"type": "Ready", "status": ready, "lastTransitionTime": started},
                        {"type": "ContainersReady", "status": ready, "lastTransitionTime": started},
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(created)},
                    ],
                    "hostIP": ip, "hostIPs": [{"ip": ip}], "podIP": ip, "podIPs": [{"ip": ip}],
                    "startTime": rfc3339(created), "containerStatuses": [container_status], "qosClass": "Burstable",
                },
            }
            return (ns, name, obj)

        mgmt = m.api_servers_management_ips
        out.append(pod("vmware-system-nsx", "nsx-ncp", 0, "nsx-ncp", "localhost:5000/vmware/nsx-ncp:4.1.2",
                       0, mgmt[0], m.ncp_pod_state, m.ncp_restart_count, {"component": "nsx-ncp"}))
        for index in range(min(2, len(mgmt))):
            out.append(pod("kube-system", "coredns", index, "coredns", "localhost:5000/vmware/coredns:v1.10.1",
                           index, mgmt[index], "Running", 0, {"k8s-app": "kube-dns"}))
        return out

    # ---- request handling ----------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               server_address: str = "127.0.0.1:443") -> tuple[int, dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``. Pure apart from logging and faults."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path) or "/"
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        accept = headers.get("accept", "")
        auth = self._authenticate(headers.get("authorization"))
        status, out_headers, body = self._answer(method, path, query, accept, auth, server_address)
        with self._lock:
            self.requests.append(KubeRequest(method, path, query, accept, auth, status))
        return status, out_headers, body

    def hold(self, path: str) -> None:
        """Wait out an injected delay (bounded; :meth:`clear_faults` ends it early)."""
        with self._lock:
            delay = self._delay_s if self._delay_prefix is None or path.startswith(self._delay_prefix) else 0.0
        if delay > 0:
            self._wake.wait(delay)

    def _authenticate(self, header: str | None) -> str:
        if not header:
            return "none"
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential.strip() == self._token:
            return "bearer"
        return "invalid"

    def _answer(self, method: str, path: str, query: dict[str, str], accept: str, auth: str,
                server_address: str) -> tuple[int, dict[str, str], bytes]:
        try:
            self._take_fault(path)
            if auth == "invalid" or (auth == "none" and path not in PUBLIC_PATHS):
                raise ApiError(401, "Unauthorized")
            if method not in ("GET", "HEAD"):
                raise ApiError(405, "the server does not allow this method on the requested resource", details={})
            if path in ("/healthz", "/livez", "/readyz"):
                return 200, {"Content-Type": "text/plain; charset=utf-8"}, b"ok"
            payload = self._route(path, query, accept, server_address)
            return 200, {"Content-Type": "application/json"}, payload
        except ApiError as error:
            return error.code, {"Content-Type": "application/json", **error.headers}, _dumps(error.body())

    def _take_fault(self, path: str) -> None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.path_prefix is None or path.startswith(fault.path_prefix)):
                    fault.remaining -= 1
                    extra = {"Retry-After": "1"} if fault.status in (429, 503) else {}
                    raise ApiError(fault.status, fault.message, fault.reason, details={}, headers=extra)
            self._faults = [f for f in self._faults if f.remaining > 0]

    def _route(self, path: str, query: dict[str, str], accept: str, server_address: str) -> bytes:
        segments = [s for s in path.split("/") if s]
        if segments == ["version"]:
            return _dumps(VERSION_INFO)
        if segments == ["api"]:
            return _dumps({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
        if segments == ["apis"]:
            return _dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if segments == ["api", "v1"]:
            return _dumps({"kind": "APIResourceList", "groupVersion": "v1",
                           "resources": [r.discovery() for r in RESOURCES.values()]})
        if len(segments) < 3 or segments[:2] != ["api", "v1"]:
            raise ApiError(404, "the server could not find the requested resource", details={})
        rest = segments[2:]
        if query.get("watch") in ("true", "1"):
            raise ApiError(405, "the lab simulator does not serve watches", details={})
        table = _wants_table(accept)
        include = query.get("includeObject", "Metadata") or "Metadata"
        if len(rest) == 1 and rest[0] in RESOURCES:
            return self._list(rest[0], None, query, table, include)
        if len(rest) == 2 and rest[0] == "namespaces":
            return self._get("namespaces", "", rest[1], table, include)
        if len(rest) == 3 and rest[0] == "namespaces" and rest[2] in RESOURCES and RESOURCES[rest[2]].namespaced:
            return self._list(rest[2], rest[1], query, table, include)
        if len(rest) == 4 and rest[0] == "namespaces" and rest[2] in RESOURCES and RESOURCES[rest[2]].namespaced:
            return self._get(rest[2], rest[1], rest[3], table, include)
        raise ApiError(404, "the server could not find the requested resource", details={})

    def _get(self, plural: str, namespace: str, name: str, table: bool, include: str) -> bytes:
        with self._lock:
            snap = self._snapshot(plural)
        index = bisect.bisect_left(snap.keys, _key(namespace, name))
        if index >= len(snap.keys) or snap.keys[index] != _key(namespace, name):
            raise ApiError(404, f'{plural} "{name}" not found', details={"name": name, "kind": plural})
        item = snap.items[index]
        resource = RESOURCES[plural]
        if table:
            return _dumps(self._table(plural, [item], {"resourceVersion": str(snap.rv)}, include))
        return b'{"kind":"' + resource.kind.encode() + b'","apiVersion":"v1",' + item.body[1:]

    def _list(self, plural: str, namespace: str | None, query: dict[str, str], table: bool, include: str) -> bytes:
        resource = RESOURCES[plural]
        token = query.get("continue", "")
        with self._lock:
            if token:
                rv, start = _decode_continue(token)
                snap = next((s for s in self._snapshots.get(plural, []) if s.rv == rv), None)
                if snap is None:
                    raise ApiError(410, EXPIRED_MESSAGE, details={})
            else:
                snap = self._snapshot(plural)
                start = ""
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise ApiError(400, f"invalid limit: {query.get('limit')!r}", details={}) from None
        prefix = f"{namespace}/" if namespace else ""
        lo = bisect.bisect_left(snap.keys, prefix + start) if (prefix or start) else 0
        hi = bisect.bisect_left(snap.keys, prefix + "\U0010ffff") if prefix else len(snap.keys)
        selected = _select(snap.items[lo:hi], query.get("labelSelector", ""), query.get("fieldSelector", ""))
        filtered = bool(query.get("labelSelector") or query.get("fieldSelector"))
        page = selected if limit <= 0 else selected[:limit]
        metadata: JsonDict = {"resourceVersion": str(snap.rv)}
        if limit > 0 and len(selected) > limit:
            last = page[-1]
            metadata["continue"] = _encode_continue(snap.rv, (last.name if namespace else _key(last.namespace,
                                                                                                 last.name)) + "\x00")
            if not filtered:
                metadata["remainingItemCount"] = len(selected) - limit
        if table:
            return _dumps(self._table(plural, page, metadata, include))
        return b"".join([
            b'{"kind":"', resource.kind.encode(), b'List","apiVersion":"v1","metadata":', _dumps(metadata),
            b',"items":[', b",".join(i.body for i in page), b"]}",
        ])

    # ---- server-side printing -----------------------------------------------------------------
    def _table(self, plural: str, items: list[_Item], metadata: JsonDict, include: str) -> JsonDict:
        columns, cells = TABLE_PRINTERS[plural]
        now = datetime.now(UTC)
        rows = []
        for item in items:
            row: JsonDict = {"cells": cells(item.obj, now)}
            if include == "Object":
                row["object"] = {"kind": RESOURCES[plural].kind, "apiVersion": "v1", **item.obj}
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": item.obj["metadata"]}
            rows.append(row)
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
                "columnDefinitions": columns, "rows": rows}

    # ---- serving ------------------------------------------------------------------------------
    def serve(self, ca: LabCA, host: str = "127.0.0.1", port: int = 0, names: Iterable[str] = ()) -> SimServer:
        """Start a TLS server for this app (certificate valid for ``host``, localhost and ``names``)."""
        tls = ca.server_context(host, "localhost", *names)
        return SimServer(KubeApiHandler, self, tls, host=host, port=port).start()


def _wants_table(accept: str) -> bool:
    for media in accept.split(","):
        params = [p.strip() for p in media.split(";")]
        values = dict(p.split("=", 1) for p in params[1:] if "=" in p)
        if params[0] == "application/json" and values.get("as") == "Table" and values.get("g") == "meta.k8s.io":
            return True
        if params[0] in ("application/json", "*/*", "application/yaml"):
            return False
    return False


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    """The token's resourceVersion and start key; any token the server cannot use is expired (410)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != "meta.k8s.io/v1" or not isinstance(raw.get("rv"), int) or not isinstance(
                raw.get("start"), str):
            raise ValueError("unknown continue token version")
        return raw["rv"], raw["start"]
    except (ValueError, binascii.Error, AttributeError, UnicodeDecodeError):
        raise ApiError(410, EXPIRED_MESSAGE, details={}) from None


def _select(items: list[_Item], label_selector: str, field_selector: str) -> list[_Item]:
    """Equality-based selectors (``k=v``, ``k!=v``, ``k``, ``!k``; fields metadata.name/namespace)."""
    if not label_selector and not field_selector:
        return items

    def matches(values: dict[str, str], selector: str) -> bool:
        for term in filter(None, (t.strip() for t in selector.split(","))):
            if "!=" in term:
                key, want = term.split("!=", 1)
                if values.get(key.strip()) == want.strip():
                    return False
            elif "=" in term:
                key, want = term.replace("==", "=").split("=", 1)
                if values.get(key.strip()) != want.strip():
                    return False
            elif term.startswith("!"):
                if term[1:] in values:
                    return False
            elif term not in values:
                return False
        return True

    out = []
    for item in items:
        labels = item.obj["metadata"].get("labels", {})
        fields = {"metadata.name": item.name, "metadata.namespace": item.namespace}
        if matches(labels, label_selector) and matches(fields, field_selector):
            out.append(item)
    return out


# ---- table printers (the columns kubectl's server-side printing shows) ---------------------------
def _col(name: str, kind: str, description: str, priority: int = 0, fmt: str = "") -> JsonDict:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


def _age(obj: JsonDict, now: datetime) -> str:
    created = datetime.strptime(obj["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((now - created).total_seconds())


def _service_cells(obj: JsonDict, now: datetime) -> list[object]:
    spec = obj["spec"]
    kind = spec.get("type", "ClusterIP")
    cluster_ip = spec.get("clusterIP") or "<none>"
    if kind == "ExternalName":
        external = spec.get("externalName") or "<none>"
    else:
        ingress = [i.get("ip") or i.get("hostname", "") for i in obj["status"].get("loadBalancer", {}).get(
            "ingress", [])]
        external = ",".join(ingress) if ingress else ("<pending>" if kind == "LoadBalancer" else "<none>")
    ports = []
    for p in spec.get("ports", []):
        port = f"{p['port']}:{p['nodePort']}" if p.get("nodePort") else str(p["port"])
        ports.append(f"{port}/{p.get('protocol', 'TCP')}")
    selector = ",".join(f"{k}={v}" for k, v in sorted(spec.get("selector", {}).items())) or "<none>"
    return [obj["metadata"]["name"], kind, cluster_ip, external, ",".join(ports) or "<none>", _age(obj, now),
            selector]


def _namespace_cells(obj: JsonDict, now: datetime) -> list[object]:
    return [obj["metadata"]["name"], obj["status"]["phase"], _age(obj, now)]


def _configmap_cells(obj: JsonDict, now: datetime) -> list[object]:
    return [obj["metadata"]["name"], len(obj.get("data", {})) + len(obj.get("binaryData", {})), _age(obj, now)]


def _pod_cells(obj: JsonDict, now: datetime) -> list[object]:
    statuses = obj["status"].get("containerStatuses", [])
    ready = sum(1 for s in statuses if s.get("ready"))
    reason = obj["status"]["phase"]
    for s in statuses:
        waiting = s.get("state", {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    restarts = sum(s.get("restartCount", 0) for s in statuses)
    return [obj["metadata"]["name"], f"{ready}/{len(obj['spec']['containers'])}", reason, str(restarts),
            _age(obj, now), obj["status"].get("podIP", "<none>"), obj["spec"].get("nodeName", "<none>"), "<none>",
            "<none>"]


TABLE_PRINTERS: dict[str, tuple[list[JsonDict], Callable[[JsonDict, datetime], list[object]]]] = {
    "events": ([
        _col("Last Seen", "string", "Last time the event occurred"),
        _col("Type", "string", "Type of this event (Normal, Warning)"),
        _col("Reason", "string", "Reason why the action was taken."),
        _col("Object", "string", "The object that this event is about."),
        _col("Message", "string", "A human-readable description of the status of this operation."),
    ], lambda obj, now: [_age(obj, now), obj.get("type", ""), obj.get("reason", ""), "", obj.get("message", "")]),
    "services": ([
        _col("Name", "string", "Name must be unique within a namespace.", fmt="name"),
        _col("Type", "string", "type determines how the Service is exposed."),
        _col("Cluster-IP", "string", "clusterIP is the IP address of the service."),
        _col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster "
                                      "will also accept traffic for this service."),
        _col("Port(s)", "string", "The list of ports that are exposed by this service."),
        _col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object "
                              "was created."),
        _col("Selector", "string", "Route service traffic to pods with label keys and values matching this "
                                   "selector.", priority=1),
    ], _service_cells),
    "namespaces": ([
        _col("Name", "string", "Name must be unique within a namespace.", fmt="name"),
        _col("Status", "string", "The status of the namespace"),
        _col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object "
                              "was created."),
    ], _namespace_cells),
    "configmaps": ([
        _col("Name", "string", "Name must be unique within a namespace.", fmt="name"),
        _col("Data", "string", "Data contains the configuration data."),
        _col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object "
                              "was created."),
    ], _configmap_cells),
    "pods": ([
        _col("Name", "string", "Name must be unique within a namespace.", fmt="name"),
        _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "string", "The aggregate status of the containers in this pod."),
        _col("Restarts", "string", "The number of times the containers in this pod have been restarted."),
        _col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object "
                              "was created."),
        _col("IP", "string", "IP address allocated to the pod.", priority=1),
        _col("Node", "string", "Name of the node this pod is running on.", priority=1),
        _col("Nominated Node", "string", "Name of the node this pod is nominated to run on.", priority=1),
        _col("Readiness Gates", "string", "Pod readiness gates.", priority=1),
    ], _pod_cells),
}


class KubeApiHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 front of :class:`KubeApiSim` (keep-alive, Content-Length, kube-apiserver headers)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: without it each answer stalls ~40 ms
    server_version = ""
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet; the app keeps a log
        return

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms per answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        app: KubeApiSim = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 1 << 20:
            self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer_after(app.latency_s)
        app.hold(urlsplit(self.path).path)
        address: Any = self.server.server_address
        status, out_headers, body = app.handle(self.command, self.path, headers, f"{address[0]}:{address[1]}")
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch
