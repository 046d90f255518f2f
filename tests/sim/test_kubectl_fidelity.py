"""Real clients accept the simulator: the ``kubectl`` binary and the ``kubernetes`` library's typed models."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from lab.model import ServicePortSpec, ServiceSpec, SupervisorModel
from tests.sim.kube_fixtures import TOKEN, KubeLab, kube_lab

SUBPROCESS_TIMEOUT = 60.0  # a client looping on ``continue`` fails the test instead of hanging it


def seed_model() -> SupervisorModel:
    model = SupervisorModel.seed()
    model.services.append(ServiceSpec("demo", "headless-db", "None", [ServicePortSpec(5432, "TCP", "pg")]))
    return model


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeLab]:
    with kube_lab(tmp_path_factory.mktemp("kubectl"), seed_model()) as running:
        yield running


@pytest.fixture
def lab(module_lab: KubeLab) -> KubeLab:
    module_lab.app.reset(seed_model())
    return module_lab


def expected_rows(lab: KubeLab) -> set[tuple[str, str]]:
    return {(s.namespace, s.name) for s in lab.app.model.services}


def listed_rows(stdout: str) -> list[tuple[str, str]]:
    lines = stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["NAMESPACE", "NAME", "TYPE"], lines[0]
    return [(line.split()[0], line.split()[1]) for line in lines[1:]]


def service_list_calls(lab: KubeLab) -> list:
    return [r for r in lab.app.requests if r.path == "/api/v1/services"]


def test_kubectl_get_svc_all_namespaces_lists_every_service(lab: KubeLab) -> None:
    result = lab.kubectl("get", "svc", "-A", timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 0, result.stderr
    rows = listed_rows(result.stdout)
    assert len(rows) == len(lab.app.model.services)
    assert set(rows) == expected_rows(lab)
    line = next(x for x in result.stdout.splitlines() if " kube-apiserver-lb-svc " in x)
    assert "LoadBalancer" in line
    assert "172.16.1.2" in line
    calls = service_list_calls(lab)
    assert [c.query.get("limit") for c in calls] == ["500"]
    assert "as=Table" in calls[0].accept


def test_kubectl_chunked_listing_follows_continue_to_the_end(lab: KubeLab) -> None:
    result = lab.kubectl("get", "svc", "-A", "--chunk-size=7", timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 0, result.stderr
    rows = listed_rows(result.stdout)
    assert len(rows) == len(lab.app.model.services)
    assert set(rows) == expected_rows(lab)
    calls = service_list_calls(lab)
    assert len(calls) == math.ceil(len(lab.app.model.services) / 7)
    assert all(c.query["limit"] == "7" for c in calls)
    assert "continue" not in calls[0].query
    assert all(c.query.get("continue") for c in calls[1:])


def test_kubectl_json_output_carries_every_service(lab: KubeLab) -> None:
    result = lab.kubectl("get", "svc", "-A", "--chunk-size=5", "-o", "json", timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]} == expected_rows(lab)
    headless = next(i for i in body["items"] if i["metadata"]["name"] == "headless-db")
    assert headless["spec"]["clusterIP"] == "None"


def test_kubectl_shows_the_ncp_pod_and_its_config(lab: KubeLab) -> None:
    pods = lab.kubectl("get", "pods", "-n", "vmware-system-nsx", timeout=SUBPROCESS_TIMEOUT)
    assert pods.returncode == 0, pods.stderr
    (row,) = pods.stdout.strip().splitlines()[1:]
    name, ready, status = row.split()[:3]
    assert name.startswith("nsx-ncp-")
    assert (ready, status) == ("1/1", "Running")
    ini = lab.kubectl("get", "configmap", "-n", "vmware-system-nsx", "nsx-ncp-config", "-o",
                      r"jsonpath={.data.ncp\.ini}", timeout=SUBPROCESS_TIMEOUT)
    assert ini.returncode == 0, ini.stderr
    assert f"nsx_api_managers = {lab.app.model.nsx_manager}:443" in ini.stdout.splitlines()


def test_kubectl_describe_config_map_as_the_field_report_does(lab: KubeLab) -> None:
    result = lab.kubectl("describe", "ConfigMap", "nsx-ncp-config", "-n", "vmware-system-nsx",
                         timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 0, result.stderr
    managers = [line for line in result.stdout.splitlines() if "manager" in line]
    assert managers == [f"nsx_api_managers = {lab.app.model.nsx_manager}:443"]


def test_kubectl_reads_the_server_version(lab: KubeLab) -> None:
    result = lab.kubectl("version", "-o", "json", timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["serverVersion"]["gitVersion"] == "v1.30.1+vmware.1"


def test_kubectl_reports_a_refused_token(lab: KubeLab, tmp_path: Path) -> None:
    bad = lab.kubeconfig.read_text().replace(TOKEN, "not-the-token")
    lab.kubeconfig.write_text(bad)
    try:
        result = lab.kubectl("get", "svc", "-A", timeout=SUBPROCESS_TIMEOUT)
    finally:
        lab.kubeconfig.write_text(bad.replace("not-the-token", TOKEN))
    assert result.returncode != 0
    assert "Unauthorized" in result.stderr or "must be logged in" in result.stderr, result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_kubectl_delete_is_refused_and_nothing_changes(lab: KubeLab) -> None:
    result = lab.kubectl("delete", "svc", "-n", "default", "kubernetes", timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode != 0
    assert "MethodNotAllowed" in result.stderr, result.stderr
    after = lab.kubectl("get", "svc", "-n", "default", "kubernetes", timeout=SUBPROCESS_TIMEOUT)
    assert after.returncode == 0, after.stderr


def test_client_library_models_parse_the_simulators_objects(lab: KubeLab) -> None:
    cfg = k8s.Configuration(host=lab.url, proxy="", no_proxy="")
    cfg.ssl_ca_cert = str(lab.ca_file)
    cfg.api_key = {"authorization": TOKEN}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    with k8s.ApiClient(cfg) as api_client:
        core = k8s.CoreV1Api(api_client)
        services = core.list_service_for_all_namespaces(limit=10, _request_timeout=10)
        assert isinstance(services, k8s.V1ServiceList)
        assert len(services.items) == 10
        assert services.metadata.remaining_item_count == len(lab.app.model.services) - 10
        rest = core.list_service_for_all_namespaces(limit=500, _continue=services.metadata._continue,
                                                    _request_timeout=10)
        assert rest.metadata._continue is None
        lb = core.read_namespaced_service("kube-apiserver-lb-svc", "kube-system", _request_timeout=10)
        assert lb.status.load_balancer.ingress[0].ip == "172.16.1.2"
        assert [(p.port, p.protocol) for p in lb.spec.ports] == [(443, "TCP"), (6443, "TCP")]
        assert lb.metadata.creation_timestamp.year >= 2024
        namespace = core.read_namespace("vmware-system-nsx", _request_timeout=10)
        assert namespace.metadata.annotations["ncp/snat_ip"] == lab.app.model.egress_ip
        pods = core.list_namespaced_pod("vmware-system-nsx", _request_timeout=10)
        assert pods.items[0].status.container_statuses[0].ready is True
        version = k8s.VersionApi(api_client).get_code(_request_timeout=10)
        assert version.git_version == "v1.30.1+vmware.1"
