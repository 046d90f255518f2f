"""The Kubernetes API simulator speaks kube-apiserver's wire format (raw HTTPS, no client library)."""

from __future__ import annotations

import configparser
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.model import ServicePortSpec, ServiceSpec, SupervisorModel
from lab.sim.kube_status import EXPIRED_MESSAGE
from lab.sim.kube_tables import human_duration
from tests.sim.kube_fixtures import TOKEN, KubeLab, kube_lab, raw_request

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
                "application/json")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def model_with_odd_services() -> SupervisorModel:
    model = SupervisorModel.seed()
    model.services += [
        ServiceSpec("demo", "headless-db", "None", [ServicePortSpec(5432, "TCP", "pg")]),
        ServiceSpec("demo", "external-api", None, [], type="ExternalName", external_name="api.example.com"),
        ServiceSpec("demo", "web-np", "10.96.1.20", [ServicePortSpec(80, "TCP", "http", 8080, 30080)],
                    type="NodePort"),
    ]
    return model


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeLab]:
    with kube_lab(tmp_path_factory.mktemp("kube"), model_with_odd_services()) as running:
        yield running


@pytest.fixture
def lab(module_lab: KubeLab) -> KubeLab:
    """The module's server, serving a fresh model with no faults and an empty request log."""
    module_lab.app.reset(model_with_odd_services())
    return module_lab


def list_all(lab: KubeLab, path: str, limit: int) -> list[dict]:
    pages, token = [], ""
    for _ in range(1000):
        query = f"?limit={limit}" + (f"&continue={token}" if token else "")
        page = raw_request(lab, path + query).json()
        pages.append(page)
        token = page["metadata"].get("continue", "")
        if not token:
            return pages
    raise AssertionError("the simulator never stopped sending continue")


def test_version_answers_anonymously_with_kube_apiserver_fields(lab: KubeLab) -> None:
    response = raw_request(lab, "/version", token=None)
    assert response.status == 200
    body = response.json()
    assert set(body) == {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                         "compiler", "platform"}
    assert re.fullmatch(r"v1\.\d+\.\d+\+vmware\.\d+", body["gitVersion"])
    assert body["gitVersion"].startswith(f"v{body['major']}.{body['minor']}.")


def test_discovery_documents(lab: KubeLab) -> None:
    api = raw_request(lab, "/api").json()
    assert api["kind"] == "APIVersions"
    assert api["versions"] == ["v1"]
    assert api["serverAddressByClientCIDRs"][0]["serverAddress"] == f"{lab.server.host}:{lab.server.port}"
    assert raw_request(lab, "/apis").json()["kind"] == "APIGroupList"
    resources = {r["name"]: r for r in raw_request(lab, "/api/v1").json()["resources"]}
    assert set(resources) == {"services", "namespaces", "configmaps", "pods", "events"}
    assert resources["services"]["kind"] == "Service"
    assert resources["services"]["shortNames"] == ["svc"]
    assert resources["services"]["namespaced"] is True
    assert resources["namespaces"]["namespaced"] is False
    assert all("list" in r["verbs"] and "delete" not in r["verbs"] for r in resources.values())


def test_service_list_envelope_and_items(lab: KubeLab) -> None:
    body = raw_request(lab, "/api/v1/services").json()
    assert (body["kind"], body["apiVersion"]) == ("ServiceList", "v1")
    assert body["metadata"]["resourceVersion"].isdigit()
    assert "continue" not in body["metadata"]
    assert len(body["items"]) == len(lab.app.model.services)
    keys = [f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in body["items"]]
    assert keys == sorted(keys), "the real server lists in key order"
    for item in body["items"]:
        assert not {"kind", "apiVersion"} & set(item), "list items carry no kind/apiVersion"
        meta = item["metadata"]
        assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
        assert RFC3339.match(meta["creationTimestamp"])
        assert int(meta["resourceVersion"]) <= int(body["metadata"]["resourceVersion"])
    by_name = {i["metadata"]["name"]: i for i in body["items"]}
    dns = by_name["kube-dns"]["spec"]
    assert dns["clusterIP"] == "10.96.0.10"
    assert dns["clusterIPs"] == ["10.96.0.10"]
    assert [(p["name"], p["port"], p["protocol"], p["targetPort"]) for p in dns["ports"]] == [
        ("dns-tcp", 53, "TCP", 53), ("dns", 53, "UDP", 53), ("metrics", 9153, "TCP", 9153)]
    lb = by_name["kube-apiserver-lb-svc"]
    assert lb["spec"]["type"] == "LoadBalancer"
    assert lb["status"]["loadBalancer"]["ingress"][0]["ip"] == "172.16.1.2"
    assert all(30000 <= p["nodePort"] <= 32767 for p in lb["spec"]["ports"])
    assert "nodePort" not in dns["ports"][0]
    assert by_name["web-np"]["spec"]["ports"][0]["nodePort"] == 30080
    assert by_name["web-np"]["spec"]["ports"][0]["targetPort"] == 8080


def test_headless_and_external_name_services_are_represented(lab: KubeLab) -> None:
    headless = raw_request(lab, "/api/v1/namespaces/demo/services/headless-db").json()
    assert (headless["kind"], headless["apiVersion"]) == ("Service", "v1")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["clusterIPs"] == ["None"]
    external = raw_request(lab, "/api/v1/namespaces/demo/services/external-api").json()
    assert external["spec"]["type"] == "ExternalName"
    assert external["spec"]["externalName"] == "api.example.com"
    assert "clusterIP" not in external["spec"]


def test_missing_object_is_a_not_found_status(lab: KubeLab) -> None:
    response = raw_request(lab, "/api/v1/namespaces/default/services/nope")
    assert response.status == 404
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": 'services "nope" not found', "reason": "NotFound",
                               "details": {"name": "nope", "kind": "services"}, "code": 404}
    assert raw_request(lab, "/api/v1/secrets").status == 404


@pytest.mark.parametrize("limit", [1, 7, 500])
def test_pages_cover_every_service_once_and_the_last_page_has_no_continue(lab: KubeLab, limit: int) -> None:
    total = len(lab.app.model.services)
    pages = list_all(lab, "/api/v1/services", limit)
    assert len(pages) == math.ceil(total / limit)
    names = [(i["metadata"]["namespace"], i["metadata"]["name"]) for p in pages for i in p["items"]]
    assert sorted(names) == sorted((s.namespace, s.name) for s in lab.app.model.services)
    assert len(set(names)) == total
    assert len({p["metadata"]["resourceVersion"] for p in pages}) == 1
    seen = 0
    for page in pages[:-1]:
        seen += len(page["items"])
        assert len(page["items"]) == limit
        assert page["metadata"]["remainingItemCount"] == total - seen
    assert "continue" not in pages[-1]["metadata"]
    assert "remainingItemCount" not in pages[-1]["metadata"]


def test_namespaced_pages_stay_in_their_namespace(lab: KubeLab) -> None:
    pages = list_all(lab, "/api/v1/namespaces/vmware-system-capw/services", 2)
    names = [i["metadata"]["name"] for p in pages for i in p["items"]]
    expected = sorted(s.name for s in lab.app.model.services if s.namespace == "vmware-system-capw")
    assert names == expected
    assert all(i["metadata"]["namespace"] == "vmware-system-capw" for p in pages for i in p["items"])


def test_unreadable_continue_token_is_410_expired(lab: KubeLab) -> None:
    response = raw_request(lab, "/api/v1/services?limit=5&continue=not-a-token")
    assert response.status == 410
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": EXPIRED_MESSAGE, "reason": "Expired", "details": {}, "code": 410}


def test_continue_token_outlives_a_change_until_compaction(lab: KubeLab) -> None:
    first = raw_request(lab, "/api/v1/services?limit=5").json()
    token = first["metadata"]["continue"]
    lab.app.model.services.append(ServiceSpec("zz-late", "late", "10.96.1.99", [ServicePortSpec(80)]))
    fresh = raw_request(lab, "/api/v1/services?limit=5").json()
    assert int(fresh["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    old_chain = raw_request(lab, f"/api/v1/services?limit=500&continue={token}").json()
    assert old_chain["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert "late" not in {i["metadata"]["name"] for i in old_chain["items"]}, "a chunked list is one snapshot"
    lab.app.compact()
    expired = raw_request(lab, f"/api/v1/services?limit=500&continue={token}")
    assert expired.status == 410
    assert expired.json()["reason"] == "Expired"


def test_unchanged_model_keeps_resource_versions_and_an_edit_bumps_only_the_edited_item(lab: KubeLab) -> None:
    before = raw_request(lab, "/api/v1/services").json()
    assert raw_request(lab, "/api/v1/services").json()["metadata"] == before["metadata"]
    lab.app.model.services[0].ports[0].port = 8443  # default/kubernetes, edited in place
    lab.app.refresh()
    after = raw_request(lab, "/api/v1/services").json()
    new_rv = after["metadata"]["resourceVersion"]
    assert int(new_rv) > int(before["metadata"]["resourceVersion"])
    changed = {i["metadata"]["name"] for i in after["items"] if i["metadata"]["resourceVersion"] == new_rv}
    assert changed == {"kubernetes"}


def test_table_rendering_for_services(lab: KubeLab) -> None:
    table = raw_request(lab, "/api/v1/services?limit=500", accept=TABLE_ACCEPT).json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Cluster-IP", "External-IP",
                                                               "Port(s)", "Age", "Selector"]
    assert len(table["rows"]) == len(lab.app.model.services)
    rows = {r["cells"][0]: r for r in table["rows"]}
    lb = rows["kube-apiserver-lb-svc"]
    assert lb["cells"][1:4] == ["LoadBalancer", "10.96.0.186", "172.16.1.2"]
    assert re.fullmatch(r"443:\d+/TCP,6443:\d+/TCP", lb["cells"][4])
    assert lb["cells"][5] == "25h"
    assert lb["object"]["kind"] == "PartialObjectMetadata"
    assert lb["object"]["metadata"]["namespace"] == "kube-system"
    assert rows["headless-db"]["cells"][2] == "None"
    assert rows["external-api"]["cells"][3] == "api.example.com"
    full = raw_request(lab, "/api/v1/namespaces/kube-system/services?includeObject=Object", accept=TABLE_ACCEPT)
    assert {r["object"]["kind"] for r in full.json()["rows"]} == {"Service"}


def test_table_pages_carry_continue_like_lists(lab: KubeLab) -> None:
    first = raw_request(lab, "/api/v1/services?limit=10", accept=TABLE_ACCEPT).json()
    assert len(first["rows"]) == 10
    assert first["metadata"]["remainingItemCount"] == len(lab.app.model.services) - 10
    token = first["metadata"]["continue"]
    rest = raw_request(lab, f"/api/v1/services?limit=500&continue={token}", accept=TABLE_ACCEPT).json()
    assert "continue" not in rest["metadata"]
    assert len(rest["rows"]) + 10 == len(lab.app.model.services)


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no token", "wrong token"])
def test_bad_credentials_get_401_status(lab: KubeLab, token: str | None) -> None:
    response = raw_request(lab, "/api/v1/services", token=token)
    assert response.status == 401
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_wrong_token_is_refused_even_on_version(lab: KubeLab) -> None:
    assert raw_request(lab, "/version", token="wrong-token").status == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_get_405_method_not_allowed(lab: KubeLab, method: str) -> None:
    response = raw_request(lab, "/api/v1/namespaces/default/services/kubernetes", method=method)
    assert response.status == 405
    body = response.json()
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure",
                                                                            "MethodNotAllowed", 405)
    assert raw_request(lab, "/api/v1/namespaces/default/services/kubernetes").status == 200


def test_ncp_config_maps_come_from_the_model(lab: KubeLab) -> None:
    model = lab.app.model
    cm = raw_request(lab, "/api/v1/namespaces/vmware-system-nsx/configmaps/nsx-ncp-config").json()
    assert (cm["kind"], cm["metadata"]["namespace"]) == ("ConfigMap", "vmware-system-nsx")
    ini = configparser.ConfigParser()
    ini.read_string(cm["data"]["ncp.ini"])
    assert ini["coe"]["cluster"] == model.ncp_cluster
    assert ini["nsx_v3"]["nsx_api_managers"] == f"{model.nsx_manager}:443"
    wcp = raw_request(lab, "/api/v1/namespaces/kube-system/configmaps/wcp-network-config").json()["data"]
    assert wcp["network_provider"] == "NSXT_CONTAINER_PLUGIN"
    assert wcp["api_servers_management_ips"].split(",") == model.api_servers_management_ips
    listed = raw_request(lab, "/api/v1/configmaps").json()
    assert listed["kind"] == "ConfigMapList"
    assert {"nsx-ncp-config", "wcp-network-config"} <= {i["metadata"]["name"] for i in listed["items"]}


def test_namespaces_carry_ncp_annotations(lab: KubeLab) -> None:
    model = lab.app.model
    body = raw_request(lab, "/api/v1/namespaces").json()
    assert body["kind"] == "NamespaceList"
    assert [i["metadata"]["name"] for i in body["items"]] == sorted(model.namespaces)
    annotations = raw_request(lab, "/api/v1/namespaces/kube-system").json()["metadata"]["annotations"]
    assert annotations["ncp/extpoolid"] == f"{model.ncp_cluster}-ippool-172-16-2-1-172-16-2-255"
    assert re.fullmatch(r"t1_[0-9a-f-]{36}_rtr", annotations["ncp/router_id"])
    assert annotations["ncp/router_id"] == model.system_tier1
    assert annotations["ncp/snat_ip"] == model.egress_ip


def test_ncp_pod_follows_the_model(lab: KubeLab) -> None:
    pods = raw_request(lab, "/api/v1/namespaces/vmware-system-nsx/pods").json()
    assert pods["kind"] == "PodList"
    (ncp,) = pods["items"]
    assert re.fullmatch(r"nsx-ncp-[a-z0-9]{10}-[a-z0-9]{5}", ncp["metadata"]["name"])
    assert ncp["status"]["phase"] == "Running"
    assert ncp["status"]["containerStatuses"][0]["ready"] is True
    lab.app.model.ncp_pod_state = "CrashLoopBackOff"
    lab.app.model.ncp_restart_count = 41
    (crashing,) = raw_request(lab, "/api/v1/namespaces/vmware-system-nsx/pods").json()["items"]
    container = crashing["status"]["containerStatuses"][0]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert (container["ready"], container["restartCount"]) == (False, 41)
    assert int(crashing["metadata"]["resourceVersion"]) > int(ncp["metadata"]["resourceVersion"])
    all_pods = raw_request(lab, "/api/v1/pods").json()["items"]
    assert crashing["metadata"]["name"] in {p["metadata"]["name"] for p in all_pods}


def test_request_log_records_requests_but_never_the_token(lab: KubeLab) -> None:
    raw_request(lab, "/api/v1/services?limit=3", accept=TABLE_ACCEPT)
    raw_request(lab, "/api/v1/pods", token="wrong-token")
    table_call, refused = lab.app.requests[-2:]
    assert (table_call.method, table_call.path, table_call.query) == ("GET", "/api/v1/services", {"limit": "3"})
    assert table_call.accept == TABLE_ACCEPT
    assert (table_call.auth, table_call.status) == ("bearer", 200)
    assert (refused.auth, refused.status) == ("invalid", 401)
    assert TOKEN not in repr(lab.app.requests)
    assert TOKEN not in repr(lab.app)


def test_fail_next_answers_with_the_status_then_recovers(lab: KubeLab) -> None:
    lab.app.fail_next(2, 503, path_prefix="/api/v1/services")
    assert raw_request(lab, "/api/v1/namespaces").status == 200, "other paths are not affected"
    first = raw_request(lab, "/api/v1/services")
    assert first.status == 503
    assert first.json()["reason"] == "ServiceUnavailable"
    assert first.headers["retry-after"] == "1"
    assert raw_request(lab, "/api/v1/services").status == 503
    assert raw_request(lab, "/api/v1/services").status == 200


def test_delay_holds_answers_and_is_bounded(lab: KubeLab) -> None:
    with pytest.raises(ValueError, match="between 0 and 30"):
        lab.app.set_delay(31)
    lab.app.set_delay(0.4, path_prefix="/api/v1/pods")
    started = time.monotonic()
    assert raw_request(lab, "/api/v1/pods").status == 200
    assert time.monotonic() - started >= 0.4
    lab.app.set_delay(20)
    outcome: list[int] = []
    worker = threading.Thread(target=lambda: outcome.append(raw_request(lab, "/version").status))
    started = time.monotonic()
    worker.start()
    time.sleep(0.3)
    lab.app.clear_faults()
    worker.join(timeout=5)
    assert outcome == [200]
    assert time.monotonic() - started < 3, "clear_faults releases a held request"


def test_human_duration_matches_kubectl() -> None:
    cases = {30: "30s", 150: "2m30s", 900: "15m", 3 * 3600 + 60: "3h1m", 25 * 3600: "25h", 3 * 86400 + 7200: "3d2h",
             40 * 86400: "40d", 3 * 365 * 86400: "3y"}
    assert {s: human_duration(s) for s in cases} == cases


def test_ten_thousand_services_page_in_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    model = SupervisorModel.scaled(10_000)
    built = time.perf_counter()
    with kube_lab(tmp_path, model) as lab:
        ready = time.perf_counter()
        pages = list_all(lab, "/api/v1/services", 500)
        done = time.perf_counter()
    count = sum(len(p["items"]) for p in pages)
    print(f"\n10k services: model {built - started:.2f} s, simulator start (one serialisation) "
          f"{ready - built:.2f} s, {len(pages)} pages of 500 in {done - ready:.2f} s")
    assert count == 10_000 + len(SupervisorModel.seed().services)
    assert len(pages) == math.ceil(count / 500)
    assert ready - built < 3
    assert done - ready < 5
