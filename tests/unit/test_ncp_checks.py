"""WCP-NCP-001/002 over pod and ConfigMap objects as the Kubernetes simulator serves them."""

from __future__ import annotations

import json
from typing import Any

from lab.model import SupervisorModel
from lab.sim.kube import KubeApiSim
from wcp_acceptance.checks.ncp import check_ncp_managers, check_ncp_pod
from wcp_acceptance.discovery import nsx_managers_from_ncp_ini

TOKEN = "t-unit"


def get(model: SupervisorModel, path: str) -> dict[str, Any]:
    status, _, body = KubeApiSim(model, TOKEN).handle("GET", path, {"authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    return json.loads(body)


def ncp_namespace_pods(model: SupervisorModel) -> list[dict[str, Any]]:
    return get(model, "/api/v1/namespaces/vmware-system-nsx/pods")["items"]


def test_a_running_ncp_passes_and_says_its_restarts() -> None:
    finding = check_ncp_pod(ncp_namespace_pods(SupervisorModel.seed()))
    assert finding.ok, finding.message()
    assert finding.observed.startswith("nsx-ncp-")
    assert finding.observed.endswith("running and ready (3 restarts)")


def test_a_crash_looping_ncp_fails_with_the_reason_and_the_previous_log_hint() -> None:
    model = SupervisorModel.seed()
    model.ncp_pod_state, model.ncp_restart_count = "CrashLoopBackOff", 42
    finding = check_ncp_pod(ncp_namespace_pods(model))
    assert not finding.ok
    assert "container nsx-ncp waiting (CrashLoopBackOff), 42 restarts" in finding.observed
    assert "crash-looping" in finding.cause
    assert "--previous" in finding.cause
    assert any("last terminated: exit 1 (Error)" in line for line in finding.evidence)


def test_no_ncp_pod_is_a_failure_naming_what_was_there() -> None:
    finding = check_ncp_pod([{"metadata": {"name": "nsx-operator-1"}, "status": {"phase": "Running"}}])
    assert not finding.ok
    assert finding.observed == "no nsx-ncp pod (pods in vmware-system-nsx: nsx-operator-1)"


def test_ncp_ini_managers_match_the_inventory_by_host_and_port() -> None:
    config = get(SupervisorModel.seed(), "/api/v1/namespaces/vmware-system-nsx/configmaps/nsx-ncp-config")
    managers = nsx_managers_from_ncp_ini(config["data"]["ncp.ini"])
    assert managers == ["192.168.10.28:443"]  # as the seed's `kubectl describe ConfigMap` shows
    assert check_ncp_managers(managers, ["https://192.168.10.28"]).ok


def test_ncp_pointing_at_another_manager_fails_with_the_difference() -> None:
    finding = check_ncp_managers(["192.168.10.29:443"], ["https://192.168.10.28"])
    assert not finding.ok
    assert finding.observed == ("nsx_api_managers = 192.168.10.29:443; missing: 192.168.10.28:443; "
                                "unexpected: 192.168.10.29:443")
    assert "ncp.ini [nsx_v3] nsx_api_managers = 192.168.10.29:443" in finding.evidence
