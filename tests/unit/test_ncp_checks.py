"""WCP-NCP-001/002/003 over objects as the Kubernetes simulator serves them, NSX's ncpstatus, and WCP-NCP-004's
handshake outcomes."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from typing import Any

import pytest

from lab.faults import apply_to_model
from lab.model import SupervisorModel
from lab.sim.kube import KubeApiSim
from wcp_acceptance.checks.ncp import (
    check_manager_tls,
    check_ncp_errors,
    check_ncp_managers,
    check_ncp_pod,
    check_ncp_status,
    check_ncp_view,
    ncp_error_annotations,
    ncp_status_from_json,
)
from wcp_acceptance.discovery import nsx_managers_from_ncp_ini
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.observations import ManagerTlsObservation, NcpErrors
from wcp_acceptance.targets import ManagerTlsProbe, NcpViewRef

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


# ---- WCP-NCP-003: NCP as NSX sees it, NCP's error annotations ----------------------------------------------
STATUS_PATH = "/infra/sites/default/enforcement-points/default/container-cluster/domain-c8%3Ax/ncpstatus"


def test_a_healthy_ncpstatus_passes_and_down_or_degraded_fail_naming_detail() -> None:
    healthy = check_ncp_status(ncp_status_from_json(STATUS_PATH, {"status": "HEALTHY", "interval": 60}))
    assert healthy.ok
    assert healthy.observed == "HEALTHY, posted every 60 s"
    for status in ("DOWN", "degraded"):
        finding = check_ncp_status(ncp_status_from_json(STATUS_PATH, {"status": status, "detail": "lost NSX"}))
        assert not finding.ok
        assert finding.observed == f"{status.upper()}: lost NSX"
        assert "NCP told NSX it is" in finding.cause
        assert "lost NSX" in finding.cause
        assert f"GET {STATUS_PATH}" in finding.evidence
    no_detail = check_ncp_status(ncp_status_from_json(STATUS_PATH, {"status": "DOWN"}))
    assert no_detail.observed == "DOWN: (no detail)"


@pytest.mark.parametrize(("answer", "says"), [
    ({"status": "UNKNOWN"}, "status as UNKNOWN"),
    ({"detail": "x"}, "no status field"),
    ({"status": ""}, "no status field"),
    ([{"status": "HEALTHY"}], "a list, not an ncpstatus object"),
    ({"status": "SLEEPY"}, "not HEALTHY, DOWN or DEGRADED"),
])
def test_an_ncpstatus_that_cannot_be_judged_is_an_error_naming_the_api(answer: object, says: str) -> None:
    with pytest.raises(ObservationError) as caught:
        ncp_status_from_json(STATUS_PATH, answer)
    assert caught.value.target == f"NSX GET {STATUS_PATH}"
    assert says in caught.value.cause


def test_ncp_error_annotations_are_found_on_services_namespaces_and_pods_as_served() -> None:
    model = SupervisorModel.seed()
    assert check_ncp_errors(NcpErrors((), 24, 13, 3)).observed == "none (24 Services, 13 Namespaces, 3 pods read)"
    apply_to_model(model, {"ncp-error-annotation"})
    services = get(model, "/api/v1/services")["items"]
    found = ncp_error_annotations("Service", services)
    assert [str(f) for f in found] == [
        "Service vmware-system-csi/csi-vsphere-csi-controller: ncp/error.loadbalancer: IP_POOL_EXHAUSTED"]
    finding = check_ncp_errors(NcpErrors(tuple(found), len(services), 13, 3))
    assert not finding.ok
    assert finding.observed == ("1 ncp/error annotation: Service vmware-system-csi/csi-vsphere-csi-controller: "
                                "ncp/error.loadbalancer: IP_POOL_EXHAUSTED")
    assert "IP_POOL_EXHAUSTED" in finding.cause
    assert "no free address" in finding.cause


def test_many_error_annotations_are_shown_ten_at_most_and_odd_shapes_are_skipped() -> None:
    items: list[dict[str, Any]] = [{"metadata": {"name": f"p{i}", "namespace": "ns",
                                                 "annotations": {"ncp/error.snat": "NO_IP"}}} for i in range(12)]
    items += [{"metadata": None}, {"metadata": {"name": "q", "annotations": ["bad"]}}, {}]
    found = ncp_error_annotations("Pod", items)
    assert len(found) == 12
    finding = check_ncp_errors(NcpErrors(tuple(found), 0, 0, 15))
    assert finding.observed.endswith("and 2 more")
    assert len(finding.evidence) == 13


def test_check_ncp_view_dispatches_by_target() -> None:
    status = ncp_status_from_json(STATUS_PATH, {"status": "HEALTHY"})
    assert check_ncp_view(NcpViewRef("ncpstatus"), status).ok
    assert check_ncp_view(NcpViewRef("annotations"), NcpErrors((), 1, 1, 1)).ok
    with pytest.raises(TypeError):
        check_ncp_view(NcpViewRef("annotations"), status)
    assert [str(NcpViewRef("ncpstatus")), str(NcpViewRef("annotations"))] == [
        "NSX ncpstatus of the container cluster", "no ncp/error annotation on Services, Namespaces or pods"]


# ---- WCP-NCP-004: NCP's NSX managers from each VM's management interface ------------------------------------
PROBE = ManagerTlsProbe("cp-1", "eth0", IPv4Address("192.168.10.45"), "192.168.10.28", 443,
                        IPv4Address("192.168.10.28"))


def tls(ok: bool, stage: str, error: str = "", **kw: Any) -> ManagerTlsObservation:
    return ManagerTlsObservation(PROBE, ok, stage, error, timeout_s=3.0, **kw)  # type: ignore[arg-type]


def test_a_completed_handshake_passes_with_its_version_and_time() -> None:
    finding = check_manager_tls(tls(True, "done", tls_version="TLSv1.3", elapsed_s=0.019, peer_sha256="ab"))
    assert finding.ok
    assert str(PROBE) == "cp-1/eth0 -> nsx 192.168.10.28:443"
    assert finding.observed == "TLSv1.3 completed in 19 ms"


@pytest.mark.parametrize(("stage", "error", "observed", "cause"), [
    ("connect", "timed out", "no TCP answer within 3 s (connect timeout)", "a firewall between the management"),
    ("connect", "[Errno 111] Connection refused", "TCP connection refused ([Errno 111] Connection refused)",
     "nothing listens on 192.168.10.28:443"),
    ("connect", "[Errno 113] No route to host", "TCP connect failed ([Errno 113] No route to host)", "no route from"),
    ("tls", "[SSL: WRONG_VERSION_NUMBER] wrong version number", "TCP connected, TLS handshake failed",
     "something other than the NSX manager"),
    ("bind", "[Errno 99] Cannot assign requested address", "could not bind 192.168.10.45", "not an address of cp-1"),
    ("resolve", "[Errno -2] Name or service not known", "192.168.10.28 did not resolve on cp-1", "WCP-DNS-003"),
])
def test_a_failed_handshake_says_where_it_stopped(stage: str, error: str, observed: str, cause: str) -> None:
    route = '[{"dst":"192.168.10.28","dev":"eth0","prefsrc":"192.168.10.45"}]'
    finding = check_manager_tls(tls(False, stage, error, errno=None), route)
    assert not finding.ok
    assert finding.observed.startswith(observed)
    assert cause in finding.cause
    assert any(line.startswith("ip -j route get 192.168.10.28 from 192.168.10.45: [") for line in finding.evidence)


def test_a_timed_out_handshake_blames_the_firewall_or_the_route_as_route_get_says() -> None:
    out_eth0 = '[{"dst":"192.168.10.28","from":"192.168.10.45","dev":"eth0"}]'
    assert "routes it out eth0 as it should, so a firewall" in check_manager_tls(
        tls(False, "connect", "timed out"), out_eth0).cause
    out_eth1 = '[{"dst":"192.168.10.28","from":"192.168.10.45","via":"10.244.0.1","dev":"eth1"}]'
    assert "routes it out eth1, not eth0 (see WCP-RT-001)" in check_manager_tls(
        tls(False, "connect", "timed out"), out_eth1).cause
    assert "or the route from 192.168.10.45" in check_manager_tls(tls(False, "connect", "timed out"), "junk").cause
