"""NCP, the NSX Container Plugin that realises every NSX object the other checks look at.

WCP-NCP-001: the nsx-ncp pod runs with every container ready (a crash-looping NCP explains
missing DLB virtual servers and SNAT rules before anyone looks at NSX).
WCP-NCP-002: NCP's ``nsx_api_managers`` (ncp.ini in the nsx-ncp-config ConfigMap) are the NSX
managers the inventory names, so the suite reads the NSX that NCP writes to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from wcp_acceptance.finding import Finding, failed, passed

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
