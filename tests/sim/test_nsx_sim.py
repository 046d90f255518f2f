"""The NSX Policy simulator answers with the shapes, envelopes, auth and errors of a real NSX manager.

Shapes are compared with the real responses in tests/data/nsx (key sets and tag order)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from lab.model import SupervisorModel
from lab.sim.controls import MAX_DELAY_S
from tests.sim.conftest import RunningNsx

DATA = Path(__file__).resolve().parent.parent / "data" / "nsx"
VS = "/policy/api/v1/infra/lb-virtual-servers"


def sample(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def client(sim: RunningNsx, auth: tuple[str, str] | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sim.ca_file)
    session.auth = auth if auth is not None else (sim.username, sim.password_text)
    return session


def get(sim: RunningNsx, path: str, **params: Any) -> requests.Response:
    return client(sim).get(sim.url + path, params=params, timeout=10)


def dlb_vs(sim: RunningNsx, namespace: str, service: str, port: int, protocol: str) -> dict[str, Any]:
    vs = sim.app.model.find_virtual_server(namespace, service, port, protocol)
    response = get(sim, f"{VS}/{vs.id}")
    assert response.status_code == 200, response.text
    return response.json()


# ---- object shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("protocol", "sample_file"), [("TCP", "policy-lb-virtual-server-dlb-kube-dns-53-tcp.json"),
                                                        ("UDP", "policy-lb-virtual-server-dlb-kube-dns-53-udp.json")])
def test_dlb_virtual_server_has_the_real_fields_and_tag_order(nsx_sim: RunningNsx, protocol: str,
                                                              sample_file: str) -> None:
    real = sample(sample_file)
    served = dlb_vs(nsx_sim, "kube-system", "kube-dns", 53, protocol)
    assert list(served) == list(real)
    assert [t["scope"] for t in served["tags"]] == [t["scope"] for t in real["tags"]]
    assert served["application_profile_path"] == real["application_profile_path"]
    assert served["ports"] == ["53"]
    assert served["ip_address"] == "10.96.0.10"
    tags = {t["scope"]: t["tag"] for t in served["tags"]}
    model = nsx_sim.app.model
    assert tags["ncp/cluster"] == model.ncp_cluster
    assert tags["ncp/created_for"] == "DLB"
    assert tags["ncp/service_port_protocol"] == protocol
    assert served["lb_service_path"] == f"/infra/lb-services/clusterip_{model.ncp_cluster}_dlb"
    assert served["pool_path"] == f"/infra/lb-pools/{served['id']}"
    assert served["path"] == f"/infra/lb-virtual-servers/{served['id']}"
    assert served["_create_user"].startswith(f"wcp-cluster-user-{model.ncp_cluster}-")


def test_pool_shapes_match_real_pools_with_and_without_members(nsx_sim: RunningNsx) -> None:
    sim = nsx_sim
    model = sim.app.model
    empty = model.find_virtual_server("kube-system", "docker-registry", 5000, "TCP")
    empty.pool_members = []
    sim.app.refresh()
    with_members = get(sim, f"/policy/api/v1/infra/lb-pools/{model.virtual_servers[0].id}").json()
    without = get(sim, f"/policy/api/v1/infra/lb-pools/{empty.id}").json()
    assert list(with_members) == list(sample("policy-lb-pool-dlb-with-member.json"))
    assert list(without) == list(sample("policy-lb-pool-dlb-no-members.json"))
    assert "members" not in without
    real_member = sample("policy-lb-pool-dlb-with-member.json")["members"][0]
    assert list(with_members["members"][0]) == list(real_member)
    assert isinstance(with_members["members"][0]["port"], str)


def test_lb_services_hold_the_dlb_service_on_a_group_and_the_tier1_slb(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    body = get(nsx_sim, "/policy/api/v1/infra/lb-services").json()
    by_id = {s["id"]: s for s in body["results"]}
    dlb = by_id[f"clusterip_{model.ncp_cluster}_dlb"]
    assert dlb["size"] == "DLB"
    assert dlb["connectivity_path"] == (f"/infra/domains/{model.ncp_cluster}/groups/"
                                        f"clusterip_{model.ncp_cluster}_all_segments")
    slb = by_id[f"lbs_{model.system_tier1}"]
    assert slb["connectivity_path"] == f"/infra/tier-1s/{model.system_tier1}"
    assert set(sample("policy-lb-service-vpc-small.json")) <= set(dlb)
    one = get(nsx_sim, f"/policy/api/v1/infra/lb-services/{dlb['id']}").json()
    assert one == dlb


def test_cluster_domain_matches_the_real_domain(nsx_sim: RunningNsx) -> None:
    cluster = nsx_sim.app.model.ncp_cluster
    served = get(nsx_sim, f"/policy/api/v1/infra/domains/{cluster}").json()
    real = sample("policy-domain-ncp-cluster.json")
    assert list(served) == list(real)
    assert served["tags"] == [{"scope": "ncp/cluster_domain", "tag": "true"}, {"scope": "ncp/cluster", "tag": cluster}]


def test_nat_rules_follow_policy_nat_rule_and_no_snat_has_no_translation(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    body = get(nsx_sim, f"/policy/api/v1/infra/tier-1s/{model.system_tier1}/nat/USER/nat-rules").json()
    rules = body["results"]
    assert {r["action"] for r in rules} == {"SNAT", "NO_SNAT"}
    assert all(r["resource_type"] == "PolicyNatRule" for r in rules)
    for rule in rules:
        if rule["action"] == "NO_SNAT":
            assert "translated_network" not in rule
            assert rule["source_network"] == model.namespace_network
        else:
            assert rule["translated_network"] == model.egress_ip
            assert "source_network" not in rule  # any
    internal = get(nsx_sim, f"/policy/api/v1/infra/tier-1s/{model.system_tier1}/nat/INTERNAL/nat-rules").json()
    assert internal["results"] == []
    assert internal["result_count"] == 0
    tier1s = get(nsx_sim, "/policy/api/v1/infra/tier-1s").json()["results"]
    want = [model.system_tier1, *(ns.tier1 for ns in model.vsphere_namespaces)]
    assert sorted(t["id"] for t in tier1s) == sorted(want)


def test_a_vsphere_namespace_has_its_own_tier1_and_snat_rule(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    (team,) = model.vsphere_namespaces
    tier1 = get(nsx_sim, f"/policy/api/v1/infra/tier-1s/{team.tier1}").json()
    assert {"scope": "ncp/snat_ip", "tag": team.snat_ip} in tier1["tags"]
    rules = get(nsx_sim, f"/policy/api/v1/infra/tier-1s/{team.tier1}/nat/USER/nat-rules").json()["results"]
    assert [(r["action"], r["source_network"], r["translated_network"]) for r in rules] == [
        ("SNAT", team.subnet, team.snat_ip)]


def test_ncpstatus_of_the_container_cluster(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    base = "/policy/api/v1/infra/sites/default/enforcement-points/default/container-cluster"
    assert get(nsx_sim, f"{base}/{model.ncp_cluster}/ncpstatus").json() == {"status": "HEALTHY", "interval": 60}
    other = get(nsx_sim, f"{base}/domain-c99:nope/ncpstatus")
    assert other.status_code == 404
    assert other.json()["error_code"] == 600


def test_node_version_and_health(nsx_sim: RunningNsx) -> None:
    version = get(nsx_sim, "/api/v1/node/version").json()
    assert set(version) >= {"node_version", "product_version"}
    assert get(nsx_sim, "/api/v1/reverse-proxy/node/health").json() == {"healthy": True}


# ---- list envelope and paging ----------------------------------------------------------------------------


def test_last_page_envelope_matches_a_real_last_page(nsx_sim: RunningNsx) -> None:
    body = get(nsx_sim, "/policy/api/v1/infra/lb-services").json()
    assert list(body) == list(sample("policy-ip-blocks-list.json"))  # no cursor on a last page
    assert body["result_count"] == len(body["results"]) == 2
    assert body["sort_by"] == "display_name"
    assert body["sort_ascending"] is True


def test_cursor_pages_cover_every_object_once(nsx_sim: RunningNsx) -> None:
    model = SupervisorModel.scaled(2500 - len(SupervisorModel.seed().virtual_servers))
    sim = nsx_sim
    sim.app.reset(model)
    session = client(sim)
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    while True:
        body = session.get(sim.url + VS, params=params, timeout=10).json()
        pages.append(body)
        if "cursor" not in body:
            break
        params = {"cursor": body["cursor"]}
    assert [len(p["results"]) for p in pages] == [1000, 1000, 500]
    assert ["cursor" in p for p in pages] == [True, True, False]
    assert {p["result_count"] for p in pages} == {2500}
    ids = [vs["id"] for p in pages for vs in p["results"]]
    assert len(set(ids)) == 2500
    assert set(ids) == {vs.id for vs in model.virtual_servers}
    names = [vs["display_name"] for p in pages for vs in p["results"]]
    assert names == sorted(names)
    small = session.get(sim.url + VS, params={"page_size": 7}, timeout=10).json()
    assert len(small["results"]) == 7
    assert small["cursor"] != pages[0]["cursor"]


@pytest.mark.parametrize("page_size", ["1001", "-1", "lots"])
def test_bad_page_size_is_a_400_error_body(nsx_sim: RunningNsx, page_size: str) -> None:
    response = get(nsx_sim, VS, page_size=page_size)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == list(sample("policy-error-400-invalid-path.json"))
    assert body["httpStatus"] == "BAD_REQUEST"
    assert page_size in body["error_message"]


def test_bad_cursor_is_a_400_error_body(nsx_sim: RunningNsx) -> None:
    other = get(nsx_sim, "/policy/api/v1/infra/lb-pools", page_size=1).json()["cursor"]
    for cursor in ("not-a-cursor", other):  # a cursor of another list is not valid here
        response = get(nsx_sim, VS, cursor=cursor)
        assert response.status_code == 400
        assert response.json()["httpStatus"] == "BAD_REQUEST"


@pytest.mark.parametrize(("path", "status"), [("/policy/api/v1/infra/lb-virtual-servers/nope", 404),
                                              ("/policy/api/v1/infra/tier-0s/None", 404),
                                              ("/policy/api/v1/infra/no-such-gateways/None", 400),
                                              ("/api/v1/nothing-here", 404)])
def test_unknown_paths_answer_the_nsx_error_body(nsx_sim: RunningNsx, path: str, status: int) -> None:
    response = get(nsx_sim, path)
    assert response.status_code == status
    assert set(response.json()) == {"httpStatus", "error_code", "module_name", "error_message"}
    assert response.json()["httpStatus"] == requests.status_codes._codes[status][0].upper()


def test_search_filters_by_resource_type_and_tags_with_a_numeric_cursor(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    escaped = model.ncp_cluster.replace(":", "\\:")
    query = (f"resource_type:LBVirtualServer AND tags.scope:ncp\\/cluster AND tags.tag:{escaped} "
             "AND tags.scope:ncp\\/created_for AND tags.tag:DLB")
    body = get(nsx_sim, "/policy/api/v1/search/query", query=query).json()
    dlb = [vs for vs in model.virtual_servers if vs.created_for == "DLB"]
    assert body["result_count"] == len(dlb)
    assert {r["id"] for r in body["results"]} == {vs.id for vs in dlb}
    assert body["cursor"] == str(len(dlb))  # like the real search: a cursor even on the last page
    assert set(body) == set(sample("policy-search-query-domain-result.json"))
    domain = get(nsx_sim, "/policy/api/v1/search/query", query="resource_type:Domain").json()
    assert [d["id"] for d in domain["results"]] == [model.ncp_cluster]


def test_refresh_serves_a_mutated_model(nsx_sim: RunningNsx) -> None:
    before = get(nsx_sim, VS).json()["result_count"]
    dropped = nsx_sim.app.model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    assert get(nsx_sim, f"{VS}/{dropped.id}").status_code == 200  # served objects are precomputed
    nsx_sim.app.refresh()
    assert get(nsx_sim, f"{VS}/{dropped.id}").status_code == 404
    assert get(nsx_sim, VS).json()["result_count"] == before - 1


# ---- auth ------------------------------------------------------------------------------------------------


def test_no_credentials_is_401_and_bad_credentials_403_code_403(nsx_sim: RunningNsx) -> None:
    anonymous = requests.get(nsx_sim.url + VS, verify=str(nsx_sim.ca_file), timeout=10)
    assert anonymous.status_code == 401
    wrong = client(nsx_sim, ("admin", "wrong")).get(nsx_sim.url + VS, timeout=10)
    assert wrong.status_code == 403
    assert wrong.json()["error_code"] == 403
    assert "credentials were incorrect" in wrong.json()["error_message"]


def test_session_login_cookie_xsrf_and_logout(nsx_sim: RunningNsx) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(nsx_sim.ca_file)
    login = session.post(nsx_sim.url + "/api/session/create", timeout=10,
                         data={"j_username": nsx_sim.username, "j_password": nsx_sim.password_text})
    assert login.status_code == 200
    cookie = login.headers["Set-Cookie"]
    assert cookie.startswith("JSESSIONID=")
    assert {"Path=/", "Secure", "HttpOnly"} <= {part.strip() for part in cookie.split(";")}
    token = login.headers["x-xsrf-token"]
    assert session.get(nsx_sim.url + VS, headers={"X-XSRF-TOKEN": token}, timeout=10).status_code == 200
    for bad in ({}, {"X-XSRF-TOKEN": "forged"}):
        refused = session.get(nsx_sim.url + VS, headers=bad, timeout=10)
        assert refused.status_code == 403
        assert refused.json()["error_code"] == 98
    logout = session.post(nsx_sim.url + "/api/session/destroy", headers={"X-XSRF-TOKEN": token}, timeout=10)
    assert logout.status_code == 200
    assert session.get(nsx_sim.url + VS, headers={"X-XSRF-TOKEN": token}, timeout=10).status_code == 401
    bad_login = requests.post(nsx_sim.url + "/api/session/create", verify=str(nsx_sim.ca_file), timeout=10,
                              data={"j_username": nsx_sim.username, "j_password": "nope"})
    assert bad_login.status_code == 403
    assert bad_login.json()["error_code"] == 403


def test_writes_are_refused_and_leave_the_objects_alone(nsx_sim: RunningNsx) -> None:
    vs = nsx_sim.app.model.virtual_servers[0]
    before = get(nsx_sim, f"{VS}/{vs.id}").json()
    for method in ("PATCH", "PUT", "DELETE"):
        response = client(nsx_sim).request(method, f"{nsx_sim.url}{VS}/{vs.id}", json={"ports": ["1"]}, timeout=10)
        assert response.status_code == 405
    assert get(nsx_sim, f"{VS}/{vs.id}").json() == before


# ---- request log, faults, delays ---------------------------------------------------------------------------


def test_faults_answer_the_next_n_requests_then_stop(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.fail(VS, 503, times=2, error_code=60576, retry_after=1)
    first, second, third = (get(nsx_sim, VS) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json()["error_code"] == 60576
    assert first.headers["Retry-After"] == "1"
    assert get(nsx_sim, "/policy/api/v1/infra/lb-pools").status_code == 200  # other prefixes untouched
    assert [r.status for r in nsx_sim.app.requests_to(VS)] == [503, 503, 200]
    nsx_sim.app.fail("/policy/", 429, times=None, retry_after=3)
    assert {get(nsx_sim, VS).status_code for _ in range(3)} == {429}
    nsx_sim.app.clear_faults()
    assert get(nsx_sim, VS).status_code == 200


def test_delays_are_applied_and_bounded(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.delay(0.4, "/api/v1/node")
    start = time.monotonic()
    assert get(nsx_sim, "/api/v1/node/version").status_code == 200
    assert time.monotonic() - start >= 0.4
    nsx_sim.app.clear_faults()
    nsx_sim.app.delay(10**6)
    assert nsx_sim.app.delays.for_path("/") == MAX_DELAY_S
