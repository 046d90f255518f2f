"""VcenterReader: session login, Workload Management clusters, readable errors, logout, no secret leaks."""

from __future__ import annotations

import pytest

from tests.sim.conftest import RunningVcenter
from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.http import ApiError
from wcp_acceptance.transport.vcenter import CLUSTERS_PATH, VcenterReader


def reader_for(sim: RunningVcenter, password: Secret | None = None, **kwargs: object) -> VcenterReader:
    return VcenterReader(sim.url, sim.ca_file, sim.username, password or sim.password, timeout=5,
                         **kwargs)  # type: ignore[arg-type]


def test_clusters_and_cluster_info(vcenter_sim: RunningVcenter) -> None:
    model = vcenter_sim.app.model
    with reader_for(vcenter_sim) as reader:
        clusters = reader.clusters()
        assert [c["cluster"] for c in clusters] == [model.cluster_moid]
        info = reader.cluster(model.cluster_moid)
    assert info["api_server_cluster_endpoint"] == model.api_vip
    assert info["network_provider"] == "NSXT_CONTAINER_PLUGIN"
    logins = vcenter_sim.app.requests_to("/api/session", "POST")
    logouts = vcenter_sim.app.requests_to("/api/session", "DELETE")
    assert [r.status for r in logins] == [201]
    assert [r.status for r in logouts] == [204]
    assert vcenter_sim.app.sessions == set()


def test_bad_password_is_a_readable_unauthenticated_error(vcenter_sim: RunningVcenter) -> None:
    canary = "wrong-" + vcenter_sim.password_text
    reader = reader_for(vcenter_sim, Secret(canary))
    with pytest.raises(ApiError) as error:
        reader.clusters()
    assert error.value.cause.startswith("vCenter answered 401 UNAUTHENTICATED: Authentication required.")
    assert "POST /api/session as administrator@vsphere.local" in error.value.cause
    for text in (str(error.value), repr(reader), *error.value.evidence):
        assert canary not in text


def test_unknown_cluster_is_not_found(vcenter_sim: RunningVcenter) -> None:
    with pytest.raises(ApiError) as error:
        reader_for(vcenter_sim).cluster("domain-c999")
    assert error.value.status == 404
    assert error.value.cause.startswith("vCenter answered 404 NOT_FOUND: Cluster domain-c999")


def test_expired_session_logs_in_again(vcenter_sim: RunningVcenter) -> None:
    reader = reader_for(vcenter_sim)
    reader.clusters()
    vcenter_sim.app.sessions.clear()
    assert reader.clusters()
    assert len(vcenter_sim.app.requests_to("/api/session", "POST")) == 2


def test_503_is_retried_and_bounded(vcenter_sim: RunningVcenter) -> None:
    vcenter_sim.app.fail(CLUSTERS_PATH, 503, times=1, retry_after=0.1)
    reader = reader_for(vcenter_sim)
    assert reader.clusters()
    vcenter_sim.app.fail(CLUSTERS_PATH, 503, times=None, retry_after=0.1)
    with pytest.raises(ApiError) as error:
        reader.clusters()
    assert "SERVICE_UNAVAILABLE" in error.value.cause
    assert "after 3 tries" in error.value.cause
    assert [r.status for r in vcenter_sim.app.requests_to(CLUSTERS_PATH)] == [503, 200, 503, 503, 503]


def test_cluster_info_has_the_shapes_the_checks_read(vcenter_sim: RunningVcenter) -> None:
    model = vcenter_sim.app.model
    with reader_for(vcenter_sim) as reader:
        info = reader.cluster(model.cluster_moid)
    assert (info["config_status"], info["kubernetes_status"]) == ("RUNNING", "READY")
    assert info["messages"] == info["kubernetes_status_messages"] == []
    assert {c["type"] for c in info["conditions"]} >= {"ControlPlaneVMsConfigured"}
    assert all(set(c) == {"type", "status", "reason", "severity", "messages"} for c in info["conditions"])
    assert info["master_NTP_servers"] == model.ntp_servers
    assert info["api_servers"] == model.api_servers_management_ips
    assert info["ncp_cluster_network_info"]["nsx_tier0_gateway"] == model.tier0_gateway
    assert info["service_cidr"] == {"address": "10.96.0.0", "prefix": 23}


def test_a_warning_shows_its_messages_and_conditions(vcenter_sim: RunningVcenter) -> None:
    from lab.faults import KB_LINK, apply_to_model

    model = vcenter_sim.app.model
    apply_to_model(model, {"wcp-kubernetes-warning", "wcp-config-error"})
    with reader_for(vcenter_sim) as reader:
        info = reader.cluster(model.cluster_moid)
    assert (info["config_status"], info["kubernetes_status"]) == ("ERROR", "WARNING")
    assert info["messages"][0]["details"]["default_message"].startswith("Failed to configure")
    (condition,) = info["conditions"]
    assert (condition["status"], condition["reason"]) == ("FALSE", "WaitForNodeUpgrade")
    assert condition["messages"][0]["kb_article_link"] == KB_LINK
