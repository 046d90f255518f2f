"""NCP, the NSX Container Plugin that realises every NSX object the other checks look at.

WCP-NCP-001: the nsx-ncp pod runs with every container ready (a crash-looping NCP explains
missing DLB virtual servers and SNAT rules before anyone looks at NSX).
WCP-NCP-002: NCP's ``nsx_api_managers`` (ncp.ini in the nsx-ncp-config ConfigMap) are the NSX
managers the inventory names, so the suite reads the NSX that NCP writes to.
WCP-NCP-003: NCP as NSX sees it: the container cluster's ``ncpstatus`` is HEALTHY, and NCP wrote no
``ncp/error.*`` annotation on a Service, Namespace or pod.
WCP-NCP-004: those managers complete a TLS handshake from each control-plane VM's management interface
(NCP runs on the control-plane VMs, host-networked, and talks to NSX from there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from wcp_acceptance.finding import Finding, ObservationError, failed, passed
from wcp_acceptance.observations import ManagerTlsObservation, NcpErrorAnnotation, NcpErrors, NcpStatus
from wcp_acceptance.targets import NcpViewRef

POD_CHECK_ID = "WCP-NCP-001"
MANAGERS_CHECK_ID = "WCP-NCP-002"
NCP_NAMESPACE = "vmware-system-nsx"
NCP_DEPLOYMENT = "nsx-ncp"
TARGET = f"{NCP_NAMESPACE}/{NCP_DEPLOYMENT}"

Pod = Mapping[str, Any]


def ncp_pods(pods: Sequence[Pod]) -> list[Pod]:
    """The pods of the nsx-ncp Deployment (``nsx-ncp-<replicaset hash>-<id>``)."""
    return [p for p in pods if str((p.get("metadata") or {}).get("name", "")).startswith(f"{NCP_DEPLOYMENT}-")]


def _container_problems(pod: Pod) -> tuple[list[str], int]:
    problems: list[str] = []
    restarts = 0
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        restarts += int(status.get("restartCount") or 0)
        state = status.get("state") or {}
        if "waiting" in state:
            problems.append(f"container {status.get('name')} waiting ({state['waiting'].get('reason', 'unknown')})")
        elif "terminated" in state:
            problems.append(f"container {status.get('name')} terminated ({state['terminated'].get('reason', '')})")
        elif not status.get("ready"):
            problems.append(f"container {status.get('name')} running but not ready")
    return problems, restarts


def _pod_evidence(pod: Pod) -> list[str]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    lines = [f"pod {meta.get('name')}: phase {status.get('phase')}, node {(pod.get('spec') or {}).get('nodeName')}"]
    for cs in status.get("containerStatuses") or []:
        last = (cs.get("lastState") or {}).get("terminated")
        tail = f", last terminated: exit {last.get('exitCode')} ({last.get('reason')})" if last else ""
        lines.append(f"  container {cs.get('name')}: ready={cs.get('ready')} restarts={cs.get('restartCount')} "
                     f"state={list((cs.get('state') or {}).keys())}{tail}")
    return lines


def check_ncp_pod(pods: Sequence[Pod]) -> Finding:
    """WCP-NCP-001 over every pod of the vmware-system-nsx namespace."""
    expected = f"a {NCP_DEPLOYMENT} pod in {NCP_NAMESPACE} running with every container ready"
    mine = ncp_pods(pods)
    if not mine:
        seen = ", ".join(str((p.get("metadata") or {}).get("name")) for p in pods) or "none"
        return failed(POD_CHECK_ID, TARGET, expected, f"no {NCP_DEPLOYMENT} pod (pods in {NCP_NAMESPACE}: {seen})",
                      "NCP is not deployed (Workload Management not enabled, or its deployment failed)",
                      [f"pods in {NCP_NAMESPACE}: {seen}"])
    healthy = []
    broken: list[tuple[Pod, list[str], int]] = []
    for pod in mine:
        problems, restarts = _container_problems(pod)
        phase = (pod.get("status") or {}).get("phase")
        if phase != "Running":
            problems.insert(0, f"phase {phase}")
        (broken.append((pod, problems, restarts)) if problems else healthy.append((pod, restarts)))
    if healthy:
        pod, restarts = healthy[0]
        name = (pod.get("metadata") or {}).get("name")
        return passed(POD_CHECK_ID, TARGET, expected, f"{name} running and ready ({restarts} restarts)")
    pod, problems, restarts = broken[0]
    name = (pod.get("metadata") or {}).get("name")
    observed = f"{name}: {'; '.join(problems)}, {restarts} restarts"
    crash = any("CrashLoopBackOff" in p for p in problems)
    cause = ("NCP is crash-looping: it typically cannot reach the NSX managers in nsx_api_managers, vCenter, "
             "or resolve their names (see the DNS checks); its previous log says which "
             f"(kubectl logs -n {NCP_NAMESPACE} {name} --previous)") if crash else (
             f"NCP is not ready; kubectl describe pod -n {NCP_NAMESPACE} {name} says why")
    evidence = [line for p, _, _ in broken for line in _pod_evidence(p)]
    return failed(POD_CHECK_ID, TARGET, expected, observed, cause, evidence)


def _host_port(value: str) -> str:
    parts = urlsplit(value if "://" in value else f"https://{value}")
    return f"{parts.hostname}:{parts.port or (80 if parts.scheme == 'http' else 443)}"


def check_ncp_managers(ncp_managers: Sequence[str], inventory_managers: Sequence[str]) -> Finding:
    """WCP-NCP-002: ncp.ini's nsx_api_managers and the inventory's NSX managers are the same set."""
    want = sorted({_host_port(m) for m in inventory_managers})
    have = sorted({_host_port(m) for m in ncp_managers})
    expected = f"nsx_api_managers = {', '.join(want)} (the inventory's NSX managers)"
    evidence = [f"ncp.ini [nsx_v3] nsx_api_managers = {', '.join(ncp_managers) or '(empty)'}",
                f"inventory nsx.managers = {', '.join(inventory_managers)}"]
    if not have:
        return failed(MANAGERS_CHECK_ID, TARGET, expected, "ncp.ini names no nsx_api_managers",
                      "the nsx-ncp-config ConfigMap has no [nsx_v3] nsx_api_managers: NCP cannot reach NSX", evidence)
    if have == want:
        return passed(MANAGERS_CHECK_ID, TARGET, expected, f"nsx_api_managers = {', '.join(have)}")
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    observed = f"nsx_api_managers = {', '.join(have)}" + (f"; missing: {', '.join(missing)}" if missing else "") + (
        f"; unexpected: {', '.join(extra)}" if extra else "")
    return failed(MANAGERS_CHECK_ID, TARGET, expected, observed,
                  "NCP writes to other NSX managers than the suite reads (an NSX manager replaced or re-addressed "
                  "without updating Workload Management, or the inventory is out of date)", evidence)


# ---- WCP-NCP-003 / 004: NCP as NSX sees it ---------------------------------------------------------------
STATUS_CHECK_ID = "WCP-NCP-003"
TLS_CHECK_ID = "WCP-NCP-004"
NCP_ERROR_PREFIX = "ncp/error"
JUDGED_STATUSES = ("HEALTHY", "DOWN", "DEGRADED")


def ncp_status_from_json(path: str, answer: object) -> NcpStatus:
    """NSX's answer as an :class:`NcpStatus`; UNKNOWN, no status or another shape cannot be judged: an error."""
    target = f"NSX GET {path}"
    if not isinstance(answer, Mapping):
        raise ObservationError(target, f"NSX answered a {type(answer).__name__}, not an ncpstatus object; "
                                       "NCP's health could not be told", [repr(answer)[:300]])
    status = answer.get("status")
    raw = json.dumps(answer, sort_keys=True)[:1000]
    if not isinstance(status, str) or not status:
        raise ObservationError(target, "NSX's ncpstatus has no status field: NSX holds no status from NCP (NCP "
                                       "never posted one), so NCP's health could not be told", [raw])
    if status.upper() not in JUDGED_STATUSES:
        raise ObservationError(target, f"NSX reports NCP's status as {status} (not HEALTHY, DOWN or DEGRADED): NCP's "
                                       "health could not be told, for instance NCP has not posted within its "
                                       "interval", [raw])
    interval = answer.get("interval")
    return NcpStatus(path, status.upper(), str(answer.get("detail") or ""),
                     interval if isinstance(interval, int) and not isinstance(interval, bool) else None, raw)


def check_ncp_status(status: NcpStatus) -> Finding:
    target = "NSX ncpstatus of the container cluster"
    expected = "status HEALTHY (NCP posts its status to NSX; NSX shows what it last heard)"
    every = f", posted every {status.interval} s" if status.interval else ""
    if status.status == "HEALTHY":
        return passed(STATUS_CHECK_ID, target, expected, f"HEALTHY{every}")
    detail = status.detail or "(no detail)"
    return failed(STATUS_CHECK_ID, target, expected, f"{status.status}: {detail}",
                  f"NCP told NSX it is {status.status.lower()}: {detail}; NCP realises nothing new (Services, "
                  "Namespaces, SNAT) until it is HEALTHY again", [f"GET {status.path}", status.raw])


def ncp_error_annotations(kind: Literal["Service", "Namespace", "Pod"], items: Iterable[Mapping[str, Any]]
                          ) -> list[NcpErrorAnnotation]:
    """Every ``ncp/error.*`` annotation on the objects of a Kubernetes list page (the rest is dropped)."""
    found: list[NcpErrorAnnotation] = []
    for item in items:
        meta_raw = item.get("metadata")
        meta: Mapping[str, Any] = meta_raw if isinstance(meta_raw, Mapping) else {}
        raw = meta.get("annotations")
        annotations: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        for key, value in annotations.items():
            if str(key).startswith(NCP_ERROR_PREFIX):
                found.append(NcpErrorAnnotation(kind, str(meta.get("namespace") or ""), str(meta.get("name", "")),
                                                str(key), str(value)))
    return found


def check_ncp_errors(errors: NcpErrors) -> Finding:
    target = "no ncp/error annotation on Services, Namespaces or pods"
    expected = "no ncp/error.* annotation (NCP writes one on an object it could not realise in NSX)"
    read = f"{errors.services} Services, {errors.namespaces} Namespaces, {errors.pods} pods read"
    if not errors.found:
        return passed(STATUS_CHECK_ID, target, expected, f"none ({read})")
    shown = "; ".join(str(e) for e in errors.found[:10])
    more = f" and {len(errors.found) - 10} more" if len(errors.found) > 10 else ""
    values = sorted({e.value for e in errors.found})
    return failed(STATUS_CHECK_ID, target, expected, f"{len(errors.found)} ncp/error annotation"
                  f"{'s' if len(errors.found) != 1 else ''}: {shown}{more}",
                  f"NCP could not realise these objects in NSX ({', '.join(values)}); for IP_POOL_EXHAUSTED the "
                  "ingress or egress pool has no free address left (add a range to the Supervisor's ingress/egress "
                  "CIDRs)", [str(e) for e in errors.found] + [read])


def _route_device(route_get: str | None) -> str | None:
    """The ``dev`` of an ``ip -j route get`` answer (None when there is none or it does not parse)."""
    try:
        routes = json.loads(route_get) if route_get else None
    except ValueError:
        return None
    if isinstance(routes, list) and routes and isinstance(routes[0], dict) and isinstance(routes[0].get("dev"), str):
        return str(routes[0]["dev"])
    return None


def check_manager_tls(obs: ManagerTlsObservation, route_get: str | None = None) -> Finding:
    """WCP-NCP-004: the VM completed a TLS handshake with the NSX manager from its management address."""
    probe = obs.probe
    target = str(probe)
    expected = (f"a TLS handshake with {probe.host}:{probe.port} from {probe.vm}/{probe.iface} ({probe.source}), "
                "as NCP makes it")
    evidence = [f"sent from {probe.vm}/{probe.iface} {probe.source} to {probe.host}:{probe.port}, timeout "
                f"{obs.timeout_s:g} s (connect timeout)"]
    if obs.peer_sha256:
        evidence.append(f"the manager's certificate sha256 {obs.peer_sha256} (not verified on the VM)")
    if route_get:
        evidence.append(f"ip -j route get {probe.address or probe.host} from {probe.source}: {route_get}")
    if obs.ok:
        took = f" in {obs.elapsed_s * 1000:.0f} ms" if obs.elapsed_s is not None else ""
        return passed(TLS_CHECK_ID, target, expected, f"{obs.tls_version or 'TLS'} completed{took}")
    error = obs.error or "no reason given"
    if obs.stage == "bind":
        return failed(TLS_CHECK_ID, target, expected, f"could not bind {probe.source} ({error})",
                      f"{probe.source} is not an address of {probe.vm} (the inventory's eth0 address is out of date)",
                      evidence)
    if obs.stage == "resolve":
        return failed(TLS_CHECK_ID, target, expected, f"{probe.host} did not resolve on {probe.vm} ({error})",
                      "the VM's resolver cannot resolve the manager's name (see WCP-DNS-003)", evidence)
    if obs.stage == "connect":
        lowered = error.lower()
        if "timed out" in lowered:
            observed = f"no TCP answer within {obs.timeout_s:g} s (connect timeout)"
            device = _route_device(route_get)
            if device == probe.iface:
                cause = (f"{probe.vm} routes it out {probe.iface} as it should, so a firewall between the management "
                         f"network and NSX drops {probe.vm}'s traffic to {probe.port}; NCP on this VM then cannot "
                         "write to NSX")
            elif device is not None:
                cause = (f"{probe.vm} routes it out {device}, not {probe.iface} (see WCP-RT-001), where it does not "
                         "reach the manager; NCP on this VM then cannot write to NSX")
            else:
                cause = (f"a firewall between the management network and NSX drops {probe.vm}'s traffic to "
                         f"{probe.port}, or the route from {probe.source} does not lead to the manager; NCP on this "
                         "VM then cannot write to NSX")
        elif "refused" in lowered:
            observed = f"TCP connection refused ({error})"
            cause = f"nothing listens on {probe.host}:{probe.port} (the NSX manager's proxy is down, or a wrong port)"
        else:
            observed = f"TCP connect failed ({error})"
            cause = (f"no route from {probe.source} to {probe.host}, or a firewall rejects it (see WCP-RT-001 for "
                     "the VM's policy routing)")
        return failed(TLS_CHECK_ID, target, expected, observed, cause, evidence)
    return failed(TLS_CHECK_ID, target, expected, f"TCP connected, TLS handshake failed ({error})",
                  "something other than the NSX manager answers on that port (a proxy or load balancer without "
                  "TLS), or it refuses the VM's TLS version", evidence)


def check_ncp_view(view: NcpViewRef, seen: NcpStatus | NcpErrors) -> Finding:
    """WCP-NCP-003 for one of its two targets."""
    if view.view == "ncpstatus" and isinstance(seen, NcpStatus):
        return check_ncp_status(seen)
    if view.view == "annotations" and isinstance(seen, NcpErrors):
        return check_ncp_errors(seen)
    raise TypeError(f"{view}: got a {type(seen).__name__}")
