"""The simulators serve the API VIP's SLB objects as NCP would have made them: a virtual server per VIP
port on the system Tier-1's lb-service, a pool of the three VMs' workload addresses in the real pool's
shape, and kube-apiserver-lb-svc's status.loadBalancer.ingress; the SLB faults change exactly those."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from lab.model import SupervisorModel
from tests.sim.conftest import RunningNsx
from tests.sim.kube_fixtures import kube_lab

DATA = Path(__file__).resolve().parent.parent / "data" / "nsx"
SERVICE = ("kube-system", "kube-apiserver-lb-svc")


def sample(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def get(sim: RunningNsx, path: str) -> Any:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sim.ca_file)
    session.auth = (sim.username, sim.password_text)
    response = session.get(sim.url + "/policy/api/v1" + path, timeout=10)
    response.raise_for_status()
    return response.json()


def vip_servers(sim: RunningNsx) -> list[dict[str, Any]]:
    model = sim.app.model
    return [vs for vs in get(sim, "/infra/lb-virtual-servers")["results"] if vs["ip_address"] == model.api_vip]


def test_the_vip_has_one_slb_virtual_server_per_port_on_the_tier1_lb_service(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    servers = sorted(vip_servers(nsx_sim), key=lambda vs: int(vs["ports"][0]))
    assert [vs["ports"] for vs in servers] == [["443"], ["6443"]]
    real = sample("policy-lb-virtual-server-dlb-kube-apiserver-lb-svc-443-tcp.json")
    services = {s["path"]: s for s in get(nsx_sim, "/infra/lb-services")["results"]}
    for vs in servers:
        assert list(vs) == list(real)  # the real virtual server's keys, in its order
        assert vs["enabled"] is True
        assert vs["lb_service_path"] == f"/infra/lb-services/lbs_{model.system_tier1}"
        tags = {t["scope"]: t["tag"] for t in vs["tags"]}
        assert tags["ncp/created_for"] == "SLB"
        assert tags["ncp/cluster"] == model.ncp_cluster
        lb = services[vs["lb_service_path"]]
        assert lb["connectivity_path"] == f"/infra/tier-1s/{model.system_tier1}"
        assert {t["scope"]: t["tag"] for t in lb["tags"]}["ncp/created_for"] == "SLB"


def test_each_vip_pool_holds_the_three_vms_on_its_port_in_the_real_shape(nsx_sim: RunningNsx) -> None:
    model = nsx_sim.app.model
    real = sample("policy-lb-pool-dlb-with-member.json")
    for vs in vip_servers(nsx_sim):
        pool = get(nsx_sim, vs["pool_path"].removeprefix("/policy/api/v1"))
        assert list(pool) == list(real)
        assert pool["path"] == vs["pool_path"]
        assert [(m["ip_address"], m["port"], m["admin_state"]) for m in pool["members"]] == [
            (ip, vs["ports"][0], "ENABLED") for ip in model.workload_ips]
        assert all(list(m) == list(real["members"][0]) for m in pool["members"])


def test_the_slb_faults_change_the_pools(nsx_sim: RunningNsx) -> None:
    model = SupervisorModel.seed()
    model.drop_slb_member(*SERVICE, model.workload_ips[-1])
    model.add_slb_member(*SERVICE, "10.244.0.14")
    nsx_sim.app.reset(model)
    for vs in vip_servers(nsx_sim):
        pool = get(nsx_sim, vs["pool_path"])
        assert [m["ip_address"] for m in pool["members"]] == [*model.workload_ips[:2], "10.244.0.14"]
    dlb = model.find_virtual_server("kube-system", "kube-dns", 53, "UDP")  # DLB pools are untouched
    assert [ip for ip, _port in dlb.pool_members] == model.workload_ips


def test_the_service_reports_the_vip_as_ingress_and_the_fault_another(tmp_path: Path) -> None:
    model = SupervisorModel.seed()
    with kube_lab(tmp_path, model) as lab:
        service = lab.reader().service(*SERVICE)
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["status"]["loadBalancer"]["ingress"] == [{"ip": model.api_vip, "ipMode": "VIP"}]
    model.set_ingress_ip(*SERVICE, "172.16.1.254")
    with kube_lab(tmp_path, model) as lab:
        service = lab.reader().service(*SERVICE)
    assert service["status"]["loadBalancer"]["ingress"] == [{"ip": "172.16.1.254", "ipMode": "VIP"}]
    assert service["spec"]["loadBalancerIP"] == model.api_vip  # NSX and the spec keep the VIP


def test_a_stack_moves_the_vip_and_the_members_where_it_listens() -> None:
    model = SupervisorModel.seed()
    model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    model.serve_api_vip_at("127.0.1.2", [40001, 40002], ["127.0.64.2", "127.0.64.3", "127.0.64.4"])
    slb = [vs for vs in model.virtual_servers if vs.created_for == "SLB" and vs.service == SERVICE[1]]
    assert sorted((vs.ip_address, vs.ports[0]) for vs in slb) == [("127.0.1.2", "40001"), ("127.0.1.2", "40002")]
    assert all([ip for ip, _ in vs.pool_members] == ["127.0.64.2", "127.0.64.3", "127.0.64.4"] for vs in slb)
    try:
        model.find_virtual_server("kube-system", "kube-dns", 53, "UDP")
    except KeyError:
        pass  # a change made before the move is kept
    else:
        raise AssertionError("the move undid an earlier change to the model")
    assert model.to_json() == SupervisorModel.from_json(model.to_json()).to_json()  # ingress_ip round-trips
