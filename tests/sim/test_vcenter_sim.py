"""The vCenter simulator answers session and Workload Management calls like vCenter's REST API."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.sim.conftest import RunningVcenter

DATA = Path(__file__).resolve().parent.parent / "data" / "nsx"
CLUSTERS = "/api/vcenter/namespace-management/clusters"


def login(sim: RunningVcenter) -> tuple[requests.Session, str]:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sim.ca_file)
    response = session.post(sim.url + "/api/session", auth=(sim.username, sim.password_text), timeout=10)
    assert response.status_code == 201
    session_id = response.json()
    assert isinstance(session_id, str)
    assert session_id
    session.headers["vmware-api-session-id"] = session_id
    return session, session_id


def test_session_login_returns_201_and_a_json_string(vcenter_sim: RunningVcenter) -> None:
    session, session_id = login(vcenter_sim)
    assert session.get(vcenter_sim.url + CLUSTERS, timeout=10).status_code == 200
    assert session.delete(vcenter_sim.url + "/api/session", timeout=10).status_code == 204
    after = session.get(vcenter_sim.url + CLUSTERS, timeout=10)
    assert after.status_code == 401
    assert session_id not in vcenter_sim.app.sessions


def test_cluster_list_is_a_bare_array_with_the_documented_summary_fields(vcenter_sim: RunningVcenter) -> None:
    session, _ = login(vcenter_sim)
    body = session.get(vcenter_sim.url + CLUSTERS, timeout=10).json()
    documented = json.loads((DATA / "vcenter-namespace-management-clusters-list.json").read_text())
    assert isinstance(body, list)
    assert [set(c) for c in body] == [set(documented[0])]
    assert set(body[0]["stats"]) == set(documented[0]["stats"])
    model = vcenter_sim.app.model
    assert body[0]["cluster"] == model.cluster_moid
    assert (body[0]["config_status"], body[0]["kubernetes_status"]) == ("RUNNING", "READY")


def test_cluster_info_carries_endpoints_dns_cidrs_and_provider(vcenter_sim: RunningVcenter) -> None:
    session, _ = login(vcenter_sim)
    model = vcenter_sim.app.model
    info = session.get(f"{vcenter_sim.url}{CLUSTERS}/{model.cluster_moid}", timeout=10).json()
    assert info["api_server_cluster_endpoint"] == model.api_vip
    assert info["api_server_management_endpoint"] in model.api_servers_management_ips
    assert info["master_DNS"] == model.master_dns
    assert info["worker_DNS"] == model.worker_dns
    assert info["service_cidr"] == {"address": "10.96.0.0", "prefix": 23}
    net = info["ncp_cluster_network_info"]
    assert net["pod_cidrs"] == [{"address": "10.244.0.0", "prefix": 20}]
    assert net["egress_cidrs"] == [{"address": "172.16.2.0", "prefix": 24}]
    assert net["ingress_cidrs"] == [{"address": "172.16.1.0", "prefix": 24}]
    assert info["network_provider"] == "NSXT_CONTAINER_PLUGIN"
    assert info["messages"] == []


def test_status_follows_the_model(vcenter_sim: RunningVcenter) -> None:
    vcenter_sim.app.model.config_status = "ERROR"
    session, _ = login(vcenter_sim)
    info = session.get(f"{vcenter_sim.url}{CLUSTERS}/{vcenter_sim.app.model.cluster_moid}", timeout=10).json()
    assert info["config_status"] == "ERROR"
    assert info["messages"][0]["severity"] == "ERROR"


def test_missing_or_bad_credentials_answer_the_vapi_401_body(vcenter_sim: RunningVcenter) -> None:
    ca = str(vcenter_sim.ca_file)
    no_session = requests.get(vcenter_sim.url + CLUSTERS, verify=ca, timeout=10)
    bad_login = requests.post(vcenter_sim.url + "/api/session", auth=("root", "wrong"), verify=ca, timeout=10)
    for response in (no_session, bad_login):
        assert response.status_code == 401
        body = response.json()
        assert body["error_type"] == "UNAUTHENTICATED"
        assert body["messages"][0]["default_message"] == "Authentication required."


def test_unknown_cluster_is_404_not_found(vcenter_sim: RunningVcenter) -> None:
    session, _ = login(vcenter_sim)
    response = session.get(f"{vcenter_sim.url}{CLUSTERS}/domain-c999", timeout=10)
    assert response.status_code == 404
    assert response.json()["error_type"] == "NOT_FOUND"


def test_faults_use_the_vapi_error_shape(vcenter_sim: RunningVcenter) -> None:
    session, _ = login(vcenter_sim)
    vcenter_sim.app.fail(CLUSTERS, 503, times=1, retry_after=2)
    failed = session.get(vcenter_sim.url + CLUSTERS, timeout=10)
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "2"
    assert failed.json()["error_type"] == "SERVICE_UNAVAILABLE"
    assert session.get(vcenter_sim.url + CLUSTERS, timeout=10).status_code == 200
    assert [r.status for r in vcenter_sim.app.requests_to(CLUSTERS)] == [503, 200]
