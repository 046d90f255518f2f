"""KubeReader: chunked reads through the official client, the ClusterIP rule, bounded and readable failures."""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

import wcp_acceptance.transport.kube as kube_module
from lab.model import ServicePortSpec, ServiceSpec, SupervisorModel
from lab.tls import LabCA
from tests.sim.kube_fixtures import TOKEN, KubeLab, kube_lab
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.secret import Secret
from wcp_acceptance.targets import ServicePort
from wcp_acceptance.transport.kube import (
    KubeApiError,
    KubeConfigError,
    KubeReader,
    KubeTimeout,
    KubeTlsError,
    KubeUnreachable,
    KubeWriteRefused,
    service_ports_with_cluster_ip,
)


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeLab]:
    with kube_lab(tmp_path_factory.mktemp("kube-reader")) as running:
        yield running


@pytest.fixture
def lab(module_lab: KubeLab) -> KubeLab:
    module_lab.app.reset(SupervisorModel.seed())
    return module_lab


@pytest.fixture(scope="module")
def other_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return LabCA().write_ca(tmp_path_factory.mktemp("other-ca") / "other-ca.pem")


def test_lists_2500_services_in_the_minimum_number_of_pages(lab: KubeLab) -> None:
    lab.app.reset(SupervisorModel.scaled(2500))
    reader = lab.reader()
    services = reader.services()
    total = len(lab.app.model.services)
    assert total == 2500 + len(SupervisorModel.seed().services)
    assert reader.list_calls == math.ceil(total / 500)
    assert {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in services} == {
        (s.namespace, s.name) for s in lab.app.model.services}
    calls = lab.app.list_requests("/api/v1/services")
    assert len(calls) == reader.list_calls
    assert all(c.query["limit"] == "500" for c in calls)
    assert "continue" not in calls[0].query
    assert all(c.query.get("continue") for c in calls[1:])


def test_reads_version_namespaces_pods_and_config_maps(lab: KubeLab) -> None:
    reader = lab.reader()
    assert reader.version()["gitVersion"] == "v1.30.1+vmware.1"
    assert sorted(n["metadata"]["name"] for n in reader.namespaces()) == lab.app.model.namespaces
    (ncp,) = reader.pods("vmware-system-nsx")
    assert ncp["metadata"]["name"].startswith("nsx-ncp-")
    assert ncp["metadata"]["name"] in {p["metadata"]["name"] for p in reader.pods()}
    ini = reader.config_map("vmware-system-nsx", "nsx-ncp-config")["data"]["ncp.ini"]
    assert f"cluster = {lab.app.model.ncp_cluster}" in ini.splitlines()
    assert {r.method for r in lab.app.requests} == {"GET"}


def test_from_kubeconfig_uses_its_server_ca_and_token(lab: KubeLab) -> None:
    reader = KubeReader.from_kubeconfig(lab.kubeconfig, context="lab", timeout=5)
    assert reader.server == lab.url
    assert len(reader.services()) == len(lab.app.model.services)
    assert lab.app.requests[-1].auth == "bearer"


def test_kubeconfig_without_the_context_is_a_readable_error(lab: KubeLab) -> None:
    with pytest.raises(KubeConfigError, match="'elsewhere'") as caught:
        KubeReader.from_kubeconfig(lab.kubeconfig, context="elsewhere", timeout=5)
    assert isinstance(caught.value, ObservationError)
    assert TOKEN not in str(caught.value)


def test_cluster_ip_rule_over_every_service_type(lab: KubeLab) -> None:
    model = SupervisorModel.seed()
    model.services += [
        ServiceSpec("demo", "headless", "None", [ServicePortSpec(5432)]),
        ServiceSpec("demo", "no-ip", "", [ServicePortSpec(81)]),
        ServiceSpec("demo", "external", None, [ServicePortSpec(443)], type="ExternalName",
                    external_name="api.example.com"),
        ServiceSpec("demo", "node-port", "10.96.1.20", [ServicePortSpec(80, "TCP", "http", 8080, 30080),
                                                        ServicePortSpec(80, "UDP", "q")], type="NodePort"),
    ]
    model.realize()
    lab.app.reset(model)
    ports = lab.reader().cluster_ip_service_ports()
    expected = {ServicePort(s.namespace, s.name, str(s.cluster_ip), p.port, p.protocol)
                for s in model.services if s.has_cluster_ip for p in s.ports}
    assert set(ports) == expected
    assert len(ports) == len(expected)
    assert ServicePort("demo", "node-port", "10.96.1.20", 80, "UDP") in ports
    assert ServicePort("kube-system", "kube-apiserver-lb-svc", "10.96.0.186", 6443, "TCP") in ports
    assert not {p.name for p in ports} & {"headless", "no-ip", "external"}
    dlb = {(vs.namespace, vs.service, vs.service_port, vs.protocol) for vs in model.virtual_servers
           if vs.created_for == "DLB"}
    assert {(p.namespace, p.name, p.port, p.protocol) for p in ports} == dlb, "one port per NCP DLB virtual server"


def test_cluster_ip_rule_on_plain_objects() -> None:
    services = [
        {"metadata": {"namespace": "a", "name": "x"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 53}]}},
        {"metadata": {"namespace": "a", "name": "y"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}},
        {"metadata": {"namespace": "a", "name": "z"}, "spec": {"type": "ExternalName", "clusterIP": "10.0.0.2",
                                                              "ports": [{"port": 2}]}},
        {"metadata": {"namespace": "a", "name": "w"}, "spec": {"clusterIP": "10.0.0.3"}},
    ]
    assert service_ports_with_cluster_ip(services) == [ServicePort("a", "x", "10.0.0.1", 53, "TCP")]


def test_refused_token_is_readable_and_does_not_leak(lab: KubeLab) -> None:
    reader = KubeReader.from_token(lab.url, Secret("wrong-" + TOKEN), lab.ca_file, timeout=5)
    with pytest.raises(KubeApiError) as caught:
        reader.services()
    error = caught.value
    assert isinstance(error, ObservationError)
    assert (error.status, error.reason) == (401, "Unauthorized")
    assert "HTTP 401 Unauthorized" in str(error)
    assert "credentials were refused" in str(error)
    assert str(error).startswith(f"Kubernetes API {lab.url} GET /api/v1/services: could not observe: ")
    assert TOKEN not in str(error) + repr(error) + "".join(error.evidence) + repr(reader)


def test_server_status_message_is_in_the_error(lab: KubeLab) -> None:
    lab.app.fail_next(1, 503, message="etcdserver: leader changed", path_prefix="/api/v1/namespaces")
    with pytest.raises(KubeApiError, match="HTTP 503 ServiceUnavailable: etcdserver: leader changed") as caught:
        lab.reader().namespaces()
    assert caught.value.status == 503


def test_expired_continue_is_reported(lab: KubeLab) -> None:
    lab.app.reset(SupervisorModel.scaled(600))
    reader = lab.reader()
    lab.app.fail_next(1, 410, path_prefix="/api/v1/services")
    with pytest.raises(KubeApiError, match="HTTP 410 Expired.*continue token expired"):
        reader.services()


READS: dict[str, Callable[[KubeReader], Any]] = {
    "version": lambda r: r.version(),
    "services": lambda r: r.services(),
    "namespaces": lambda r: r.namespaces(),
    "pods": lambda r: r.pods("vmware-system-nsx"),
    "all pods": lambda r: r.pods(),
    "config map": lambda r: r.config_map("kube-system", "wcp-network-config"),
    "cluster ip ports": lambda r: r.cluster_ip_service_ports(),
}


@pytest.mark.parametrize("read", list(READS), ids=list(READS))
def test_every_read_is_bounded_by_the_timeout(lab: KubeLab, read: str) -> None:
    lab.app.set_delay(5)
    reader = lab.reader(timeout=0.3)
    started = time.monotonic()
    with pytest.raises(KubeTimeout, match=r"no answer within the 0\.3 s timeout"):
        READS[read](reader)
    assert time.monotonic() - started < 2


def test_connection_refused_is_unreachable(tmp_path: Path, other_ca_file: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reader = KubeReader.from_token(f"https://127.0.0.1:{port}", Secret(TOKEN), other_ca_file, timeout=2)
    started = time.monotonic()
    with pytest.raises(KubeUnreachable, match="Connection refused"):
        reader.version()
    assert time.monotonic() - started < 2


def test_certificate_from_another_ca_is_a_tls_error(lab: KubeLab, other_ca_file: Path) -> None:
    reader = KubeReader.from_token(lab.url, Secret(TOKEN), other_ca_file, timeout=5)
    with pytest.raises(KubeTlsError, match="CERTIFICATE_VERIFY_FAILED"):
        reader.version()


def test_given_ca_wins_over_environment(lab: KubeLab, other_ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(other_ca_file))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert lab.reader().version()["gitVersion"].startswith("v1.")
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(lab.ca_file))
    with pytest.raises(KubeTlsError):
        KubeReader.from_token(lab.url, Secret(TOKEN), other_ca_file, timeout=5).version()


def test_global_default_configuration_is_untouched(lab: KubeLab) -> None:
    before = k8s.Configuration.get_default_copy().host
    KubeReader.from_kubeconfig(lab.kubeconfig, timeout=5).version()
    lab.reader().version()
    assert k8s.Configuration.get_default_copy().host == before
    assert before != lab.url


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_are_refused_before_anything_is_sent(lab: KubeLab, method: str) -> None:
    reader = lab.reader()
    with pytest.raises(KubeWriteRefused, match=method):
        reader._api_client.call_api(method, f"{lab.url}/api/v1/namespaces/default/services/kubernetes")
    assert lab.app.requests == []


def test_reader_offers_reads_only() -> None:
    public = {name for name in dir(KubeReader) if not name.startswith("_")}
    verbs = ("create", "delete", "patch", "replace", "update", "post", "put", "write", "exec")
    assert not {name for name in public if name.startswith(verbs)}
    assert {"services", "namespaces", "pods", "config_map", "version", "cluster_ip_service_ports"} <= public


def test_token_never_appears_in_reprs_or_logs(lab: KubeLab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    reader = lab.reader()
    reader.services()
    lab.app.fail_next(1, 500)
    with pytest.raises(KubeApiError) as caught:
        reader.version()
    assert TOKEN not in repr(reader) + str(reader) + str(caught.value) + caplog.text


def test_endless_continue_is_an_error_not_a_hang(lab: KubeLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_module, "MAX_PAGES", 3)
    reader = lab.reader()

    endless = b'{"kind":"ServiceList","metadata":{"continue":"again"},"items":[{}]}'
    monkeypatch.setattr(reader, "_send", lambda _path, _query: endless)
    with pytest.raises(KubeApiError, match="same 'continue' token again on page 2"):
        reader._list("/api/v1/services")
    assert reader.list_calls == 2


def test_non_positive_timeout_is_rejected(lab: KubeLab) -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        lab.reader(timeout=0)
