"""NSX Policy API simulator: the objects NCP creates for a Supervisor, served with NSX's envelopes.

State comes from :class:`lab.model.SupervisorModel` (one DLB virtual server and pool per ClusterIP
Service port, the system Tier-1 with its NAT rules, the cluster domain). Shapes follow real NSX
responses (the real samples in ``tests/data/nsx``, see its README): field order, tag order,
strings for ports, no ``members`` key on an empty pool, no ``translated_network`` on NO_SNAT.

Every JSON object is serialised once in :meth:`NsxPolicySim.refresh`; a list page is the
concatenation of precomputed bytes, so 20,000 virtual servers page quickly. Call ``refresh()``
after mutating the model.

:class:`~lab.sim.controls.SimControls` (request log, injected failures, bounded delays, the stated
latency) is shared with the vCenter simulator; the Kubernetes simulator uses the same parts.
``latency_s`` is a realistic API's latency, stated on purpose
(a real NSX manager answers in tens of milliseconds): the HTTP front waits that long before every
answer. Injected delays are faults and stay separate from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from ..model import NatRule, SupervisorModel, VirtualServer, stable_uuid
from . import nsx_routing
from .controls import Fault, Response, SimControls, make_handler

MAX_PAGE_SIZE = 1000
POLICY_PREFIX = "/policy/api/v1"
NCP_VERSION = "1.2.0"
NAT_SECTIONS = ("USER", "INTERNAL", "DEFAULT")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _epoch_ms(*parts: object) -> int:
    """A stable creation time in October 2025 (like the samples), derived from the object's identity."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return 1760500000000 + int.from_bytes(digest[:4], "big") % 200_000_000


# ---- NSX object builders (also used by unit tests to make model-derived raw objects) -------------


def _tags(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"scope": s, "tag": t} for s, t in pairs]


def _common(model: SupervisorModel, resource_type: str, obj_id: str, display_name: str, path: str,
            parent_path: str, tags: list[dict[str, str]] | None, *, revision: int = 1,
            user: str | None = None) -> dict[str, Any]:
    """The metadata every policy object carries, in the order real objects print it."""
    created = _epoch_ms(path)
    uid = stable_uuid("nsx", path)
    principal = user or principal_identity(model)
    obj: dict[str, Any] = {"resource_type": resource_type, "id": obj_id, "display_name": display_name}
    if tags is not None:
        obj["tags"] = tags
    obj.update({
        "path": path,
        "relative_path": obj_id,
        "parent_path": parent_path,
        "remote_path": "",
        "unique_id": uid,
        "realization_id": uid,
        "owner_id": stable_uuid("nsx-owner", model.nsx_manager),
        "marked_for_delete": False,
        "overridden": False,
        "_system_owned": False,
        "_protection": "NOT_PROTECTED",
        "_create_time": created,
        "_create_user": principal,
        "_last_modified_time": created + 7000 * revision,
        "_last_modified_user": principal,
        "_revision": revision,
    })
    return obj


def principal_identity(model: SupervisorModel) -> str:
    """NCP's principal identity as it appears in ``_create_user``: ``wcp-cluster-user-<cluster>-<uuid>``."""
    return f"wcp-cluster-user-{model.ncp_cluster}-{stable_uuid('pi', model.ncp_cluster)}"


def app_profile_path(protocol: str) -> str:
    return f"/infra/lb-app-profiles/default-{'udp' if protocol.upper() == 'UDP' else 'tcp'}-lb-app-profile"


def ncp_service_tags(model: SupervisorModel, vs: VirtualServer) -> list[dict[str, str]]:
    """NCP's tags on a load-balancer object, in NCP's order (see the real samples)."""
    return _tags([
        ("ncp/version", NCP_VERSION),
        ("ncp/cluster", model.ncp_cluster),
        ("ncp/project", vs.namespace),
        ("external_id", vs.service_uid),
        ("ncp/service", vs.service),
        ("ncp/service_uid", vs.service_uid),
        ("ncp/service_port", str(vs.service_port)),
        ("ncp/service_port_protocol", vs.protocol),
        ("ncp/created_for", vs.created_for),
    ])


def virtual_server_json(model: SupervisorModel, vs: VirtualServer) -> dict[str, Any]:
    """An ``LBVirtualServer`` shaped like ``policy-lb-virtual-server-dlb-*.json``."""
    path = f"/infra/lb-virtual-servers/{vs.id}"
    head: dict[str, Any] = {
        "enabled": True,
        "ip_address": vs.ip_address,
        "ports": list(vs.ports),
        "access_log_enabled": False,
        "lb_service_path": vs.lb_service_path,
        "pool_path": f"/infra/lb-pools/{vs.id}",
        "application_profile_path": app_profile_path(vs.protocol),
        "log_significant_event_only": False,
    }
    head.update(_common(model, "LBVirtualServer", vs.id, vs.display_name, path, "/infra",
                        ncp_service_tags(model, vs)))
    return head


def pool_json(model: SupervisorModel, vs: VirtualServer) -> dict[str, Any]:
    """An ``LBPool``; like the real one, a pool without endpoints has no ``members`` key at all."""
    head: dict[str, Any] = {"algorithm": "ROUND_ROBIN"}
    if vs.pool_members:
        head["members"] = [
            {
                "display_name": f"{vs.service}.{vs.service}-{stable_uuid('pod', vs.id, ip)[:10]}",
                "ip_address": ip,
                "port": str(port),
                "admin_state": "ENABLED",
                "backup_member": False,
                "weight": 1,
            }
            for ip, port in vs.pool_members
        ]
    head["snat_translation"] = {"type": "LBSnatDisabled"}
    if vs.pool_members:
        head.update({"tcp_multiplexing_enabled": False, "tcp_multiplexing_number": 6})
    head["min_active_members"] = 1
    head.update(_common(model, "LBPool", vs.id, vs.display_name, f"/infra/lb-pools/{vs.id}", "/infra",
                        ncp_service_tags(model, vs)))
    return head


def dlb_group_path(model: SupervisorModel) -> str:
    cluster = model.ncp_cluster
    return f"/infra/domains/{cluster}/groups/clusterip_{cluster}_all_segments"


def lb_services_json(model: SupervisorModel) -> list[dict[str, Any]]:
    """The cluster's DLB service (size DLB, attached to a group) and the system Tier-1's SLB service."""
    cluster_tags = _tags([("ncp/version", NCP_VERSION), ("ncp/cluster", model.ncp_cluster)])
    dlb_id = model.dlb_lb_service_id
    dlb: dict[str, Any] = {
        "connectivity_path": dlb_group_path(model),
        "enabled": True,
        "relax_scale_validation": False,
        "size": "DLB",
        "error_log_level": "INFO",
        "access_log_enabled": False,
    }
    dlb.update(_common(model, "LBService", dlb_id, dlb_id, f"/infra/lb-services/{dlb_id}", "/infra",
                       [*cluster_tags, {"scope": "ncp/created_for", "tag": "DLB"}], revision=0))
    slb_id = f"lbs_{model.system_tier1}"
    slb: dict[str, Any] = {
        "connectivity_path": f"/infra/tier-1s/{model.system_tier1}",
        "enabled": True,
        "relax_scale_validation": False,
        "size": "SMALL",
        "error_log_level": "INFO",
        "access_log_enabled": False,
    }
    slb.update(_common(model, "LBService", slb_id, slb_id, f"/infra/lb-services/{slb_id}", "/infra",
                       [*cluster_tags, {"scope": "ncp/created_for", "tag": "SLB"}], revision=0))
    return [dlb, slb]


def tier1_json(model: SupervisorModel, t1: str | None = None, snat_ip: str | None = None) -> dict[str, Any]:
    """The system Tier-1, or (``t1``, ``snat_ip``) a vSphere Namespace's own."""
    t1 = t1 or model.system_tier1
    head: dict[str, Any] = {
        "tier0_path": f"/infra/tier-0s/{model.tier0_gateway}",
        "failover_mode": "NON_PREEMPTIVE",
        "enable_standby_relocation": False,
        "route_advertisement_types": ["TIER1_IPSEC_LOCAL_ENDPOINT", "TIER1_LB_VIP", "TIER1_NAT", "TIER1_LB_SNAT"],
        "force_whitelisting": False,
        "default_rule_logging": False,
        "disable_firewall": False,
        "pool_allocation": "ROUTING",
        "ha_mode": "ACTIVE_STANDBY",
    }
    head.update(_common(model, "Tier1", t1, t1, f"/infra/tier-1s/{t1}", "/infra", _tags([
        ("ncp/version", NCP_VERSION),
        ("ncp/cluster", model.ncp_cluster),
        ("ncp/extpoolid", f"{model.ncp_cluster}-ippool-{model.egress_cidr.split('/')[0].replace('.', '-')}"),
        ("ncp/snat_ip", snat_ip or model.egress_ip),
    ])))
    return head


def ncp_status_json(model: SupervisorModel, policy_path: str) -> tuple[int, bytes] | None:
    """``.../container-cluster/<cluster>/ncpstatus`` (what NCP last posted; 404 for another cluster), else None."""
    head, _, cluster = policy_path.removesuffix("/ncpstatus").rpartition("/container-cluster/")
    if not policy_path.endswith("/ncpstatus") or head != "/infra/sites/default/enforcement-points/default":
        return None
    if cluster != model.ncp_cluster:
        return 404, error_body(404, 600, f"Container cluster {cluster} not found.")
    body: dict[str, Any] = {"status": model.ncp_status, "interval": 60}
    if model.ncp_status_detail:
        body["detail"] = model.ncp_status_detail
    return 200, _dumps(body)


def nat_rule_json(model: SupervisorModel, rule: NatRule, section: str = "USER") -> dict[str, Any]:
    """A ``PolicyNatRule``; empty networks are omitted (any), NO_SNAT carries no ``translated_network``."""
    head: dict[str, Any] = {"action": rule.action}
    if rule.source_network:
        head["source_network"] = rule.source_network
    if rule.destination_network:
        head["destination_network"] = rule.destination_network
    if rule.translated_network and rule.action not in ("NO_SNAT", "NO_DNAT"):
        head["translated_network"] = rule.translated_network
    head.update({
        "scope": [],
        "enabled": True,
        "logging": False,
        "sequence_number": rule.sequence_number,
        "firewall_match": "MATCH_INTERNAL_ADDRESS",
        "policy_based_vpn_mode": "BYPASS",
    })
    parent = f"/infra/tier-1s/{rule.tier1}/nat/{section}"
    head.update(_common(model, "PolicyNatRule", rule.id, rule.id, f"{parent}/nat-rules/{rule.id}", parent, _tags([
        ("ncp/version", NCP_VERSION),
        ("ncp/cluster", model.ncp_cluster),
    ])))
    return head


def domain_json(model: SupervisorModel) -> dict[str, Any]:
    cluster = model.ncp_cluster
    return _common(model, "Domain", cluster, cluster, f"/infra/domains/{cluster}", "/infra",
                   _tags([("ncp/cluster_domain", "true"), ("ncp/cluster", cluster)]), revision=0)


def app_profiles_json(model: SupervisorModel) -> list[dict[str, Any]]:
    rows = [("default-tcp-lb-app-profile", "LBFastTcpProfile", {"idle_timeout": 1800, "close_timeout": 8,
                                                               "ha_flow_mirroring_enabled": False}),
            ("default-udp-lb-app-profile", "LBFastUdpProfile", {"idle_timeout": 300,
                                                               "flow_mirroring_enabled": False}),
            ("default-http-lb-app-profile", "LBHttpProfile", {"idle_timeout": 15, "http_redirect_to_https": False})]
    out = []
    for pid, rtype, fields in rows:
        obj = dict(fields)
        obj.update(_common(model, rtype, pid, pid, f"/infra/lb-app-profiles/{pid}", "/infra", None, revision=0,
                           user="system"))
        obj["_system_owned"] = True
        out.append(obj)
    return out


# ---- the simulator ------------------------------------------------------------------------------


@dataclass
class _Collection:
    """A list endpoint: objects sorted by display_name, their bytes precomputed, and an id index."""

    objects: list[dict[str, Any]]
    encoded: list[bytes]
    by_id: dict[str, bytes]

    @classmethod
    def of(cls, objects: Iterable[dict[str, Any]]) -> _Collection:
        ordered = sorted(objects, key=lambda o: (str(o.get("display_name", "")), str(o.get("id", ""))))
        encoded = [_dumps(o) for o in ordered]
        return cls(ordered, encoded, {str(o["id"]): b for o, b in zip(ordered, encoded, strict=True)})


def error_body(status: int, error_code: int | str, message: str, module: str = "common-services") -> bytes:
    """NSX's error shape: ``{httpStatus, error_code, module_name, error_message}``."""
    return _dumps({"httpStatus": HTTPStatus(status).name, "error_code": error_code, "module_name": module,
                   "error_message": message})


class NsxPolicySim(SimControls):
    """The NSX Policy API of one manager, serving the objects NCP made for ``model``.

    Auth is HTTP Basic on every request, or a session from ``POST /api/session/create`` (cookie
    ``JSESSIONID`` plus header ``X-XSRF-TOKEN``). Only GET reads objects; writes are answered 405.
    """

    def __init__(self, model: SupervisorModel, username: str, password: str, *, max_page_size: int = MAX_PAGE_SIZE,
                 product_version: str = "4.1.2.3.0.22716317", latency_s: float = 0.0) -> None:
        super().__init__()
        self.latency_s = latency_s
        self.model = model
        self.username = username
        self._password = password
        self.max_page_size = max_page_size
        self.product_version = product_version
        self.sessions: dict[str, str] = {}  # JSESSIONID -> XSRF token
        self._build_lock = threading.Lock()
        self._builders: dict[str, Callable[[], Iterable[dict[str, Any]]]] = {}
        self._collections: dict[str, _Collection] = {}
        self._by_ip: dict[str, list[dict[str, Any]]] | None = None  # the search's ip_address index
        self.refresh()

    def __repr__(self) -> str:
        return f"<NsxPolicySim cluster={self.model.ncp_cluster} vs={len(self.model.virtual_servers)}>"

    # ---- state --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Forget every served object; each endpoint is rebuilt from the model when next asked for.

        Call after a fault mutates the model."""
        m = self.model
        builders: dict[str, Callable[[], Iterable[dict[str, Any]]]] = {
            "/infra/lb-virtual-servers": lambda: [virtual_server_json(m, vs) for vs in m.virtual_servers],
            "/infra/lb-pools": lambda: [pool_json(m, vs) for vs in m.virtual_servers],
            "/infra/lb-services": lambda: lb_services_json(m),
            "/infra/lb-app-profiles": lambda: app_profiles_json(m),
            "/infra/tier-1s": lambda: [tier1_json(m), *(tier1_json(m, ns.tier1, ns.snat_ip)
                                                        for ns in m.vsphere_namespaces)],
            "/infra/domains": lambda: [domain_json(m)],
        }
        builders.update(nsx_routing.builders(m, _common))  # Tier-0, BGP neighbours, edge nodes, IP pools
        for t1 in {m.system_tier1} | {r.tier1 for r in m.nat_rules} | {ns.tier1 for ns in m.vsphere_namespaces}:
            for section in NAT_SECTIONS:
                builders[f"/infra/tier-1s/{t1}/nat/{section}/nat-rules"] = self._nat_builder(t1, section)
        with self._build_lock:
            self._builders = builders
            self._collections = {}
            self._by_ip = None

    def reset(self, model: SupervisorModel | None = None) -> None:
        """Back to a fresh start: a new model (or the same one), no sessions, faults, delays or log."""
        if model is not None:
            self.model = model
        self.sessions.clear()
        self.clear_faults()
        self.clear_log()
        self.refresh()

    def _nat_builder(self, tier1: str, section: str) -> Callable[[], list[dict[str, Any]]]:
        def build() -> list[dict[str, Any]]:
            # the model's rules are NCP's USER rules; INTERNAL and DEFAULT answer empty lists
            return [nat_rule_json(self.model, r, section) for r in self.model.nat_rules
                    if r.tier1 == tier1 and section == "USER"]
        return build

    def _collection(self, key: str) -> _Collection | None:
        with self._build_lock:
            found = self._collections.get(key)
            if found is None and key in self._builders:
                found = self._collections[key] = _Collection.of(self._builders[key]())
            return found

    def object(self, policy_path: str) -> dict[str, Any]:
        """The served JSON of one object (for tests), e.g. ``/infra/lb-virtual-servers/<id>``."""
        parent, _, obj_id = policy_path.rpartition("/")
        collection = self._collection(parent)
        if collection is None:
            raise KeyError(policy_path)
        return json.loads(collection.by_id[obj_id])

    # ---- HTTP entry -----------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        return self.dispatch(method, target, headers, body, self._route, self._fault_response)

    def lb_services(self) -> list[dict[str, Any]]:
        """The lb-services this simulator serves (for lb-node-usage)."""
        return lb_services_json(self.model)

    def _json(self, status: int, payload: bytes, extra: list[tuple[str, str]] | None = None) -> Response:
        return status, [("Content-Type", "application/json"), *(extra or [])], payload

    def _error(self, status: int, error_code: int | str, message: str, module: str = "common-services") -> Response:
        return self._json(status, error_body(status, error_code, message, module))

    def _fault_response(self, fault: Fault) -> Response:
        extra = [("Retry-After", f"{fault.retry_after:g}")] if fault.retry_after is not None else []
        code = fault.error_code if fault.error_code is not None else fault.status
        message = fault.message or {
            401: "Not authenticated",
            429: "Client 'admin' exceeded request rate of 100 per second",
            500: "Internal server error",
            503: "The service is currently unavailable.",
        }.get(fault.status, HTTPStatus(fault.status).phrase)
        return self._json(fault.status, error_body(fault.status, code, message), extra)

    def _authenticate(self, headers: Mapping[str, str]) -> Response | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return self._error(401, 401, "Malformed Authorization header")
            if not (secrets.compare_digest(user, self.username) and secrets.compare_digest(password, self._password)):
                return self._error(403, 403, "The credentials were incorrect or the account specified has been "
                                             "locked.")
            return None
        cookie = re.search(r"(?:^|;\s*)JSESSIONID=([^;]+)", headers.get("cookie", ""))
        if cookie:
            token = self.sessions.get(cookie.group(1))
            if token is None:
                return self._error(401, 401, "Session expired or not authenticated")
            if not secrets.compare_digest(headers.get("x-xsrf-token", ""), token):
                return self._error(403, 98, "Bad XSRF token")
            return None
        return self._error(401, 401, "Not authenticated")

    def _route(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str],
               body: bytes) -> Response:
        if path == "/api/session/create" and method == "POST":
            return self._session_create(body)
        denied = self._authenticate(headers)
        if denied is not None:
            return denied
        if path == "/api/session/destroy" and method == "POST":
            cookie = re.search(r"(?:^|;\s*)JSESSIONID=([^;]+)", headers.get("cookie", ""))
            if cookie:
                self.sessions.pop(cookie.group(1), None)
            return 200, [("Content-Type", "application/json")], b""
        if method != "GET":
            return self._error(405, 222, f"{method} is not allowed on {path} by this read-only simulator")
        if path == "/api/v1/node/version":
            return self._json(200, _dumps({"node_version": self.product_version,
                                           "product_version": self.product_version}))
        if path == "/api/v1/reverse-proxy/node/health":
            return self._json(200, _dumps({"healthy": True}))
        routed = nsx_routing.route(self, path, query)  # BGP status and routes, IP pools, lb-node-usage
        if routed is not None:
            return routed
        if not path.startswith(POLICY_PREFIX + "/"):
            return self._error(404, 404, f"The requested URI: {path} could not be found.")
        policy_path = path[len(POLICY_PREFIX):].rstrip("/")
        if policy_path == "/search/query":
            return self._search(query)
        status = ncp_status_json(self.model, policy_path)
        if status is not None:
            return self._json(*status)
        collection = self._collection(policy_path)
        if collection is not None:
            return self._list(policy_path, collection, query)
        parent, _, obj_id = policy_path.rpartition("/")
        collection = self._collection(parent)
        if collection is not None and obj_id in collection.by_id:
            return self._json(200, collection.by_id[obj_id])
        if collection is not None:
            return self._error(404, 600, f"The requested object : {policy_path} could not be found. "
                                         "Object identifiers are case sensitive.")
        return self._error(400, 500012, f"The path=[{policy_path}] is invalid", module="Policy")

    def _session_create(self, body: bytes) -> Response:
        form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}
        user, password = form.get("j_username", ""), form.get("j_password", "")
        if not (secrets.compare_digest(user, self.username) and secrets.compare_digest(password, self._password)):
            return self._error(403, 403, "The credentials were incorrect or the account specified has been locked.")
        session_id, xsrf = secrets.token_hex(16).upper(), secrets.token_hex(16)
        self.sessions[session_id] = xsrf
        return 200, [("Set-Cookie", f"JSESSIONID={session_id}; Path=/; Secure; HttpOnly; SameSite=Lax"),
                     ("x-xsrf-token", xsrf), ("Content-Type", "application/json")], b""

    # ---- lists -------------------------------------------------------------------------------------
    def _page_size(self, query: Mapping[str, str]) -> int | Response:
        raw = query.get("page_size", "")
        if raw == "":
            return self.max_page_size
        try:
            size = int(raw)
        except ValueError:
            return self._error(400, 255, f"Invalid value '{raw}' for page_size: must be an integer")
        if size < 0 or size > self.max_page_size:
            return self._error(400, 255, f"Field level validation errors: {{page_size: must be between 0 and "
                                         f"{self.max_page_size}, got {size}}}")
        return size or self.max_page_size

    @staticmethod
    def _cursor(collection_key: str, offset: int) -> str:
        tag = hashlib.sha256(collection_key.encode()).hexdigest()[:12]
        return f"{offset:08d}{tag}"

    def _offset(self, collection_key: str, cursor: str) -> int | None:
        if len(cursor) != 20 or not cursor[:8].isdigit() or self._cursor(collection_key, 0)[8:] != cursor[8:]:
            return None
        return int(cursor[:8])

    def _list(self, key: str, collection: _Collection, query: Mapping[str, str]) -> Response:
        size = self._page_size(query)
        if not isinstance(size, int):
            return size
        offset = 0
        if query.get("cursor"):
            found = self._offset(key, query["cursor"])
            if found is None or found > len(collection.encoded):
                return self._error(400, 255, f"Invalid cursor '{query['cursor']}'")
            offset = found
        sort_by = query.get("sort_by", "display_name")
        ascending = query.get("sort_ascending", "true").lower() != "false"
        encoded = collection.encoded
        if sort_by != "display_name" or not ascending:
            order = sorted(range(len(encoded)), key=lambda i: str(collection.objects[i].get(sort_by, "")),
                           reverse=not ascending)
            encoded = [encoded[i] for i in order]
        page = encoded[offset:offset + size]
        tail = b',"result_count":%d,"sort_by":%s,"sort_ascending":%s' % (
            len(encoded), _dumps(sort_by), b"true" if ascending else b"false")
        if offset + size < len(encoded):
            tail += b',"cursor":"%s"' % self._cursor(key, offset + size).encode()
        return self._json(200, b'{"results":[' + b",".join(page) + b"]" + tail + b"}")

    # ---- search (minimal: resource_type, tags and top-level fields) ---------------------------------
    @staticmethod
    def _parse_query(text: str) -> tuple[str | None, list[tuple[str | None, str | None]], list[tuple[str, str]]]:
        """Terms joined by AND: ``resource_type:X``, ``tags.scope:S``/``tags.tag:T`` (a following pair is one
        tag), and ``field:value`` on a top-level field (``ip_address:10.96.0.10``, ``ports:443``; a list
        field matches when one element equals the value), as the real search's query string writes them.
        A value may be quoted (``"..."``) or backslash-escaped; anything else is ValueError."""
        resource_type: str | None = None
        tags: list[tuple[str | None, str | None]] = []
        fields: list[tuple[str, str]] = []
        for term in re.split(r"\s+AND\s+", text.strip()):
            field_name, _, value = term.partition(":")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            value = re.sub(r"\\(.)", r"\1", value)
            if field_name == "resource_type":
                resource_type = value
            elif field_name == "tags.scope":
                tags.append((value, None))
            elif field_name == "tags.tag":
                if tags and tags[-1][1] is None and tags[-1][0] is not None:
                    tags[-1] = (tags[-1][0], value)
                else:
                    tags.append((None, value))
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field_name) and value:
                fields.append((field_name, value))
            elif term:
                raise ValueError(term)
        return resource_type, tags, fields

    @staticmethod
    def _field_matches(found: Any, value: str) -> bool:
        def text(item: Any) -> str:
            return ("true" if item else "false") if isinstance(item, bool) else str(item)
        if isinstance(found, list):
            return any(not isinstance(i, dict | list) and text(i) == value for i in found)
        return found is not None and not isinstance(found, dict) and text(found) == value

    def _searchable(self, fields: list[tuple[str, str]]) -> Iterable[dict[str, Any]]:
        """Every served object, or only those with the asked ``ip_address`` (the real search is an index:
        a lookup by address does not read 20,000 virtual servers)."""
        wanted_ip = next((v for f, v in fields if f == "ip_address"), None)
        if wanted_ip is None:
            return (o for key in list(self._builders) for o in (self._collection(key) or _Collection.of([])).objects)
        index = self._by_ip
        if index is None:
            builders = self._builders
            index = {}
            for key in list(builders):
                for obj in (self._collection(key) or _Collection.of([])).objects:
                    address = obj.get("ip_address")
                    if isinstance(address, str):
                        index.setdefault(address, []).append(obj)
            with self._build_lock:
                if self._builders is builders:  # not refreshed meanwhile
                    self._by_ip = index
        return index.get(wanted_ip, [])

    def _search(self, query: Mapping[str, str]) -> Response:
        try:
            resource_type, wanted, fields = self._parse_query(query.get("query", ""))
        except ValueError as exc:
            return self._error(400, 60516, f"Search query term '{exc}' is not supported by this simulator")
        size = self._page_size(query)
        if not isinstance(size, int):
            return size
        raw_cursor = query.get("cursor", "0") or "0"
        if not raw_cursor.isdigit():
            return self._error(400, 255, f"Invalid cursor '{raw_cursor}'")
        offset = int(raw_cursor)

        def matches(obj: dict[str, Any]) -> bool:
            if resource_type is not None and obj.get("resource_type") != resource_type:
                return False
            if not all(self._field_matches(obj.get(name), value) for name, value in fields):
                return False
            tags = obj.get("tags", [])
            return all(any((s is None or t["scope"] == s) and (v is None or t["tag"] == v) for t in tags)
                       for s, v in wanted)

        hits = [o for o in self._searchable(fields) if matches(o)]
        page = hits[offset:offset + size]
        # a real search returns a numeric cursor even on its last page (sample policy-search-query-*.json)
        return self._json(200, _dumps({"results": page, "result_count": len(hits),
                                       "cursor": str(offset + len(page))}))


NsxPolicyHandler = make_handler("NsxPolicySim")
