"""Server-side printing: the ``meta.k8s.io/v1`` Table kubectl asks for, with the columns it prints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

JsonDict = dict[str, Any]


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


def wants_table(accept: str) -> bool:
    for media in accept.split(","):
        params = [p.strip() for p in media.split(";")]
        values = dict(p.split("=", 1) for p in params[1:] if "=" in p)
        if params[0] == "application/json" and values.get("as") == "Table" and values.get("g") == "meta.k8s.io":
            return True
        if params[0] in ("application/json", "*/*", "application/yaml"):
            return False
    return False


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


def printed_table(plural: str, kind: str, objects: list[JsonDict], metadata: JsonDict, include: str) -> JsonDict:
    """A Table of ``objects`` (of ``kind``); rows carry the object, its metadata or nothing, per ``include``."""
    columns, cells = TABLE_PRINTERS[plural]
    now = datetime.now(UTC)
    rows = []
    for obj in objects:
        row: JsonDict = {"cells": cells(obj, now)}
        if include == "Object":
            row["object"] = {"kind": kind, "apiVersion": "v1", **obj}
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": columns, "rows": rows}
