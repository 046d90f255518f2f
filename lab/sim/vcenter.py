"""vCenter REST simulator: session login and the Workload Management (namespace-management) clusters.

``POST /api/session`` with Basic answers 201 and a JSON string id, sent back as header
``vmware-api-session-id``; ``DELETE /api/session`` logs out. The cluster list is a bare array of
summaries and ``.../clusters/{cluster}`` an ``Info`` object, both derived from the model
(API-FACTS.md section 3). Errors use vAPI's ``{"error_type", "messages": [...]}`` shape.
``latency_s`` (from :class:`~lab.sim.controls.SimControls`) is a realistic vCenter's latency, stated on
purpose: every answer waits that long.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import secrets
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ..model import SupervisorModel, stable_uuid
from .controls import Fault, Response, SimControls, make_handler

CLUSTERS_PATH = "/api/vcenter/namespace-management/clusters"


def _cidr(network: str) -> dict[str, Any]:
    net = ipaddress.ip_network(network, strict=False)
    return {"address": str(net.network_address), "prefix": net.prefixlen}


def _stats(model: SupervisorModel) -> dict[str, int]:
    return {"cpu_used": 4120, "cpu_capacity": 62400, "memory_used": 20480, "memory_capacity": 393216,
            "storage_used": 61440, "storage_capacity": 2097152}


def cluster_summary(model: SupervisorModel) -> dict[str, Any]:
    return {
        "cluster": model.cluster_moid,
        "cluster_name": model.supervisor_name,
        "stats": _stats(model),
        "config_status": model.config_status,
        "kubernetes_status": model.kubernetes_status,
    }


def vapi_message(severity: str, message_id: str, text: str, *args: str) -> dict[str, Any]:
    """One ``messages[]`` entry: ``{severity, details: {id, default_message, args, params, localized}}``."""
    return {"severity": severity, "details": {"id": message_id, "default_message": text, "args": list(args),
                                              "params": {}, "localized": text}}


def healthy_conditions() -> list[dict[str, Any]]:
    """The conditions a healthy Supervisor reports (vSphere API 8.0.0.1+). The types are examples from the
    reference; the full list of types and reasons is not public."""
    return [{"type": t, "status": "TRUE", "reason": "", "severity": "INFO", "messages": []}
            for t in ("InfrastructureInitialized", "ControlPlaneVMsDeployed", "ControlPlaneVMsConfigured")]


def _messages(status: str, ok: str, given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if given:
        return list(given)
    if status == ok:
        return []
    return [{"severity": "ERROR", "details": {"id": "vcenter.wcp.status", "default_message":
                                              f"Cluster status is {status}.", "args": [status], "params": {},
                                              "localized": f"Cluster status is {status}."}}]


def cluster_info(model: SupervisorModel) -> dict[str, Any]:
    """The ``Info`` of ``GET .../clusters/{cluster}`` (every field is optional on a real vCenter)."""
    return {
        "stat_summary": _stats(model),
        "config_status": model.config_status,
        "messages": _messages(model.config_status, "RUNNING", model.config_messages),
        "kubernetes_status": model.kubernetes_status,
        "kubernetes_status_messages": _messages(model.kubernetes_status, "READY", model.kubernetes_messages),
        "conditions": list(model.conditions) or healthy_conditions(),
        "api_server_management_endpoint": model.api_servers_management_ips[0],
        "api_server_cluster_endpoint": model.api_vip,
        "api_servers": list(model.api_servers_management_ips),
        "master_DNS": list(model.master_dns),
        "master_DNS_search_domains": [],
        "worker_DNS": list(model.worker_dns),
        "master_NTP_servers": list(model.ntp_servers),
        "service_cidr": _cidr(model.service_cidr),
        "ncp_cluster_network_info": {
            "cluster_distributed_switch": stable_uuid("vds", model.cluster_moid),
            "nsx_edge_cluster": stable_uuid("edge-cluster", model.nsx_manager),
            "pod_cidrs": [_cidr(model.namespace_network)],
            "ingress_cidrs": [_cidr(model.ingress_cidr)],
            "egress_cidrs": [_cidr(model.egress_cidr)],
            "nsx_tier0_gateway": model.tier0_gateway,
        },
        "network_provider": "NSXT_CONTAINER_PLUGIN",
        "default_kubernetes_service_content_library": stable_uuid("content-library", model.cluster_moid),
    }


def vapi_error(error_type: str, message: str, message_id: str, *args: str) -> bytes:
    return json.dumps({"error_type": error_type, "messages": [
        {"args": list(args), "default_message": message, "id": message_id}]}).encode()


_FAULT_TYPES = {401: "UNAUTHENTICATED", 403: "UNAUTHORIZED", 404: "NOT_FOUND", 429: "RESOURCE_BUSY",
                500: "ERROR", 503: "SERVICE_UNAVAILABLE"}


class VcenterSim(SimControls):
    """One vCenter serving the Supervisor of ``model`` through the Workload Management API."""

    def __init__(self, model: SupervisorModel, username: str, password: str, *, latency_s: float = 0.0) -> None:
        super().__init__()
        self.latency_s = latency_s
        self.model = model
        self.username = username
        self._password = password
        self.sessions: set[str] = set()

    def __repr__(self) -> str:
        return f"<VcenterSim cluster={self.model.cluster_moid}>"

    def reset(self, model: SupervisorModel | None = None) -> None:
        """Back to a fresh start: a new model (or the same one), no sessions, faults, delays or log."""
        if model is not None:
            self.model = model
        self.sessions.clear()
        self.clear_faults()
        self.clear_log()

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        return self.dispatch(method, target, headers, body, self._route, self._fault_response)

    @staticmethod
    def _json(status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> Response:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return status, [("Content-Type", "application/json"), *(extra or [])], data

    def _unauthenticated(self) -> Response:
        return self._json(401, vapi_error("UNAUTHENTICATED", "Authentication required.",
                                          "com.vmware.vapi.endpoint.method.authentication.required"))

    def _fault_response(self, fault: Fault) -> Response:
        extra = [("Retry-After", f"{fault.retry_after:g}")] if fault.retry_after is not None else []
        error_type = _FAULT_TYPES.get(fault.status, "ERROR")
        message = fault.message or HTTPStatus(fault.status).phrase
        return self._json(fault.status, vapi_error(error_type, message, f"vapi.sim.{error_type.lower()}"), extra)

    def _basic_ok(self, headers: Mapping[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.username) and secrets.compare_digest(password, self._password)

    def _route(self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str],
               body: bytes) -> Response:
        if path == "/api/session" and method == "POST":
            if not self._basic_ok(headers):
                return self._unauthenticated()
            session_id = secrets.token_hex(16)
            self.sessions.add(session_id)
            return self._json(201, session_id)
        session_id = headers.get("vmware-api-session-id", "")
        if session_id not in self.sessions:
            return self._unauthenticated()
        if path == "/api/session" and method == "DELETE":
            self.sessions.discard(session_id)
            return 204, [], b""
        if method != "GET":
            return self._json(405, vapi_error("OPERATION_NOT_FOUND", f"{method} {path} is not served here",
                                              "vapi.method.not.found"))
        if path.rstrip("/") == CLUSTERS_PATH:
            return self._json(200, [cluster_summary(self.model)])
        if path.startswith(CLUSTERS_PATH + "/"):
            moid = path[len(CLUSTERS_PATH) + 1:]
            if moid == self.model.cluster_moid:
                return self._json(200, cluster_info(self.model))
            return self._json(404, vapi_error("NOT_FOUND", f"Cluster {moid} does not have Workloads enabled.",
                                              "vcenter.wcp.cluster.not_found", moid))
        return self._json(404, vapi_error("NOT_FOUND", f"Path {path} not found.", "vapi.path.not_found"))


VcenterHandler = make_handler("VcenterSim")
