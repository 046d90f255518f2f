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
* bearer-token authentication (401 Status), GET only (405 Status for any other verb);
* with :attr:`KubeApiSim.wcp` set, the Supervisor's ``/wcp/login`` on 443 and its session tokens
  as Bearer tokens (:mod:`lab.sim.wcp`).

State: Services are serialised once per snapshot (10,000 of them page in well under a second);
a new snapshot is taken when the model's Service list changes (added, removed or replaced
objects) or on :meth:`KubeApiSim.refresh` after an in-place edit. Namespaces, ConfigMaps and
Pods are small and rebuilt per request. Old snapshots are kept for a few generations so
``continue`` tokens survive a change, until :meth:`KubeApiSim.compact` drops them.

The parts, one job a module: this one holds the objects and the app; :mod:`lab.sim.kube_lists`
stores and pages lists (snapshots, continue tokens, selectors), :mod:`lab.sim.kube_tables` prints
Tables, :mod:`lab.sim.kube_status` writes the Status answers and :mod:`lab.sim.controls` (shared
with the NSX and vCenter simulators) holds faults, delays and the request log.

For tests: :attr:`KubeApiSim.requests` logs every request (never the token),
:meth:`KubeApiSim.fail_next` and :meth:`KubeApiSim.set_delay` inject faults.
:attr:`KubeApiSim.latency_s` is a realistic API server's latency, stated on purpose (a real
kube-apiserver behind a load balancer answers in milliseconds to tens of milliseconds): every answer
waits that long, in addition to any injected delay.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import ipaddress
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..model import ServiceSpec, SupervisorModel, stable_uuid, suffix5
from ..tls import LabCA
from .controls import MAX_DELAY_S, Delays, Fault, FaultQueue, RequestLog, StatedLatency
from .kube_lists import Snapshot, StoredItem, decode_continue, encode_continue, key, select
from .kube_status import EXPIRED_MESSAGE, REASONS, ApiError
from .kube_tables import printed_table, wants_table
from .server import SimServer, answer_after
from .wcp import WcpLogin

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
SNAPSHOTS_KEPT = 8

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


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


class KubeApiSim(StatedLatency):
    """The application behind :class:`KubeApiHandler`: the model's objects served as kube-apiserver would.

    Faults, delays and the request log are the parts every simulator shares (:mod:`lab.sim.controls`);
    a fault answers as a ``v1 Status`` whose reason is the fault's ``error_code``."""

    def __init__(self, model: SupervisorModel, token: str, *, created: datetime | None = None,
                 latency_s: float = 0.0) -> None:
        self.model = model
        self.latency_s = latency_s
        self._token = token
        self.created = (created or datetime.now(UTC) - timedelta(hours=25)).replace(microsecond=0)
        self.log: RequestLog[KubeRequest] = RequestLog()
        self._lock = threading.Lock()
        self._rv = 1000
        self._snapshots: dict[str, list[Snapshot]] = {}
        self._signatures: dict[str, object] = {}
        self._faults = FaultQueue()
        self._delays = Delays()
        self.wcp: WcpLogin | None = None  # /wcp/login and its tokens (lab.sim.wcp); None: no login served
        self.refresh()

    def __repr__(self) -> str:
        return f"<KubeApiSim {len(self.model.services)} services>"

    @property
    def requests(self) -> list[KubeRequest]:
        """Every request answered, in order (the list itself; never the token)."""
        return self.log.records

    # ---- fault controls ----------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500, *, reason: str | None = None, message: str | None = None,
                  path_prefix: str | None = None) -> None:
        """Answer the next ``count`` requests (whose path starts with ``path_prefix``) with a Status."""
        if count <= 0:
            return
        self._faults.add(Fault(path_prefix or "", status, count,
                               error_code=reason or REASONS.get(status, "InternalError"),
                               message=message or f"lab fault: injected {status}"))

    def set_delay(self, seconds: float, *, path_prefix: str | None = None) -> None:
        """Hold every answer (for paths starting with ``path_prefix``) for ``seconds`` (at most 30 s)."""
        if not 0 <= seconds <= MAX_DELAY_S:
            raise ValueError(f"delay must be between 0 and {MAX_DELAY_S} s, got {seconds}")
        self._delays.clear()
        self._delays.add(seconds, path_prefix or "")

    def clear_faults(self) -> None:
        """Drop pending failures and delays; requests being held are released at once."""
        self._faults.clear()
        self._delays.clear()

    def list_requests(self, path_prefix: str = "") -> list[KubeRequest]:
        return self.log.matching(path_prefix)

    # ---- state -------------------------------------------------------------------------------
    def reset(self, model: SupervisorModel) -> None:
        """Serve ``model`` from now on, as a new server would: no snapshots, faults or request log."""
        self.clear_faults()
        with self._lock:
            self.model = model
            self.log.clear()
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

    def _snapshot(self, plural: str, force: bool = False) -> Snapshot:
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
        raw.sort(key=lambda t: key(t[0], t[1]))
        current = self._snapshots[plural][-1] if self._snapshots.get(plural) else None
        previous = {(i.namespace, i.name): i for i in current.items} if current else {}
        fresh = [(ns, name, obj, _dumps(obj)) for ns, name, obj in raw]  # resourceVersion still ""
        if current is not None and len(previous) == len(fresh) and all(
            (ns, name) in previous and previous[(ns, name)].sig == sig for ns, name, _obj, sig in fresh
        ):
            self._signatures[plural] = signature
            return current  # nothing changed: same resourceVersion, same tokens
        rv = self._next_rv()
        items: list[StoredItem] = []
        for ns, name, obj, sig in fresh:
            old = previous.get((ns, name))
            if old is not None and old.sig == sig:
                items.append(old)  # unchanged objects keep their resourceVersion
                continue
            obj["metadata"]["resourceVersion"] = str(rv)
            body = sig.replace(b'"resourceVersion":""', f'"resourceVersion":"{rv}"'.encode(), 1)
            items.append(StoredItem(ns, name, obj, body, sig))
        snap = Snapshot(rv, items)
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
                f"    forward . {' '.join(m.coredns_upstreams or m.worker_dns)}\n"
                "    cache 30\n    loop\n    reload\n}\n")}),
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
        if path.startswith("/wcp/") and self.wcp is not None:  # the Supervisor's login (lab.sim.wcp)
            port = int(server_address.rpartition(":")[2] or 0)
            status, out_headers, body = self.wcp.answer(method, path, headers, port)
        else:
            status, out_headers, body = self._answer(method, path, query, accept, auth, server_address)
        self.log.add(KubeRequest(method, path, query, accept, auth, status))
        return status, out_headers, body

    def hold(self, path: str) -> None:
        """Wait out an injected delay (bounded; :meth:`clear_faults` ends it early)."""
        self._delays.wait(path)

    def _authenticate(self, header: str | None) -> str:
        if not header:
            return "none"
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential.strip() == self._token:
            return "bearer"
        if scheme.lower() == "bearer" and self.wcp is not None and self.wcp.accepts(credential.strip()):
            return "bearer"  # a session token of /wcp/login
        return "invalid"

    def _answer(self, method: str, path: str, query: dict[str, str], accept: str, auth: str,
                server_address: str) -> tuple[int, dict[str, str], bytes]:
        try:
            self._take_fault(method, path)
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

    def _take_fault(self, method: str, path: str) -> None:
        fault = self._faults.take(method, path)
        if fault is not None:
            extra = {"Retry-After": "1"} if fault.status in (429, 503) else {}
            raise ApiError(fault.status, fault.message or "", str(fault.error_code or ""), details={}, headers=extra)

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
        table = wants_table(accept)
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
        index = bisect.bisect_left(snap.keys, key(namespace, name))
        if index >= len(snap.keys) or snap.keys[index] != key(namespace, name):
            raise ApiError(404, f'{plural} "{name}" not found', details={"name": name, "kind": plural})
        item = snap.items[index]
        resource = RESOURCES[plural]
        if table:
            return _dumps(printed_table(plural, resource.kind, [item.obj], {"resourceVersion": str(snap.rv)}, include))
        return b'{"kind":"' + resource.kind.encode() + b'","apiVersion":"v1",' + item.body[1:]

    def _list(self, plural: str, namespace: str | None, query: dict[str, str], table: bool, include: str) -> bytes:
        resource = RESOURCES[plural]
        token = query.get("continue", "")
        with self._lock:
            if token:
                rv, start = decode_continue(token)
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
        selected = select(snap.items[lo:hi], query.get("labelSelector", ""), query.get("fieldSelector", ""))
        filtered = bool(query.get("labelSelector") or query.get("fieldSelector"))
        page = selected if limit <= 0 else selected[:limit]
        metadata: JsonDict = {"resourceVersion": str(snap.rv)}
        if limit > 0 and len(selected) > limit:
            last = page[-1]
            metadata["continue"] = encode_continue(snap.rv, (last.name if namespace else key(last.namespace,
                                                                                            last.name)) + "\x00")
            if not filtered:
                metadata["remainingItemCount"] = len(selected) - limit
        if table:
            return _dumps(printed_table(plural, resource.kind, [i.obj for i in page], metadata, include))
        return b"".join([
            b'{"kind":"', resource.kind.encode(), b'List","apiVersion":"v1","metadata":', _dumps(metadata),
            b',"items":[', b",".join(i.body for i in page), b"]}",
        ])

    # ---- serving ------------------------------------------------------------------------------
    def serve(self, ca: LabCA, host: str = "127.0.0.1", port: int = 0, names: Iterable[str] = ()) -> SimServer:
        """Start a TLS server for this app (certificate valid for ``host``, localhost and ``names``)."""
        tls = ca.server_context(host, "localhost", *names)
        return SimServer(KubeApiHandler, self, tls, host=host, port=port).start()


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
