"""WCP-SLB-001/002: the API VIP's SLB virtual servers, pool members and Service ingress, and their messages.

The objects are the real NSX shapes (tests/data/nsx: a virtual server and a pool with a member captured
from a Supervisor), moved onto the VIP and the control-plane VMs' workload addresses, plus the
simulator's model-derived objects."""

from __future__ import annotations

import copy
import json
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from lab.model import SupervisorModel
from lab.sim.nsx import lb_services_json, pool_json, virtual_server_json
from wcp_acceptance.checks.dlb import DlbVirtualServer
from wcp_acceptance.checks.slb import (
    CHECK_MEMBERS,
    CHECK_VS,
    SlbComparison,
    check_apiserver_ingress,
    check_slb_members,
    check_slb_virtual_server,
    compare_slb,
    slb_service_path,
)
from wcp_acceptance.report.watched import facts
from wcp_acceptance.targets import VipPort

DATA = Path(__file__).resolve().parent.parent / "data" / "nsx"
VIP = IPv4Address("172.16.1.2")
CLUSTER = "domain-c8:0c9a4798-6c2b-4c2e-9b7e-8d3e4f5a6b7c"
LBS = "/infra/lb-services/lbs_t1_sup"
CP = {"cp-1": "10.244.0.2", "cp-2": "10.244.0.3", "cp-3": "10.244.0.4"}
P443, P6443 = VipPort(VIP, 443, str(VIP)), VipPort(VIP, 6443, str(VIP))


def sample(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def real_vs(port: int) -> dict[str, Any]:
    """The captured kube-apiserver-lb-svc virtual server, as the VIP's SLB virtual server on ``port``."""
    vs = sample("policy-lb-virtual-server-dlb-kube-apiserver-lb-svc-443-tcp.json")
    vs_id = f"kube-apiserver-lb-svc_{port}_TCP_slb01"
    vs.update(ip_address=str(VIP), ports=[str(port)], lb_service_path=LBS, id=vs_id,
              pool_path=f"/infra/lb-pools/{vs_id}", path=f"/infra/lb-virtual-servers/{vs_id}")
    for tag in vs["tags"]:
        if tag["scope"] == "ncp/cluster":
            tag["tag"] = CLUSTER
        if tag["scope"] == "ncp/created_for":
            tag["tag"] = "SLB"
        if tag["scope"] == "ncp/service_port":
            tag["tag"] = str(port)
    return vs


def real_pool(port: int, ips: list[str]) -> dict[str, Any]:
    """The captured pool with a member, its member copied once per address on ``port``."""
    pool = sample("policy-lb-pool-dlb-with-member.json")
    member = pool["members"][0]
    pool["members"] = [dict(copy.deepcopy(member), ip_address=ip, port=str(port)) for ip in ips]
    pool_id = f"kube-apiserver-lb-svc_{port}_TCP_slb01"
    pool.update(id=pool_id, path=f"/infra/lb-pools/{pool_id}")
    return pool


def lb_service() -> dict[str, Any]:
    svc = sample("policy-lb-service-vpc-small.json")
    svc.update(id="lbs_t1_sup", path=LBS, tags=[{"scope": "ncp/cluster", "tag": CLUSTER},
                                                 {"scope": "ncp/created_for", "tag": "SLB"}])
    return svc


def comparison(servers: list[dict[str, Any]] | None = None, pools: list[dict[str, Any]] | None = None,
               services: list[dict[str, Any]] | None = None, cluster: str | None = CLUSTER) -> SlbComparison:
    servers = [real_vs(443), real_vs(6443)] if servers is None else servers
    pools = [real_pool(443, list(CP.values())), real_pool(6443, list(CP.values()))] if pools is None else pools
    return compare_slb(VIP, CP, [DlbVirtualServer.from_json(v) for v in servers],
                       [lb_service()] if services is None else services, pools, cluster)


def service(ips: list[str] | None) -> dict[str, Any]:
    ingress = {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ips]} if ips is not None else {}
    return {"metadata": {"namespace": "kube-system", "name": "kube-apiserver-lb-svc"},
            "spec": {"type": "LoadBalancer", "loadBalancerIP": str(VIP)}, "status": {"loadBalancer": ingress}}


# ---- WCP-SLB-001: the virtual servers ---------------------------------------------------------------
def test_the_real_shapes_on_the_vip_pass_both_checks() -> None:
    slb = comparison()
    for target in (P443, P6443):
        vs = check_slb_virtual_server(target, slb)
        assert vs.ok, vs.message()
        assert (vs.check_id, vs.target) == (CHECK_VS, str(target))
        members = check_slb_members(target, slb)
        assert members.ok, members.message()
        assert "run-time UP/DOWN not read" in members.observed


def test_a_missing_virtual_server_is_named_with_the_ports_the_vip_has() -> None:
    finding = check_slb_virtual_server(P6443, comparison(servers=[real_vs(443)]))
    assert not finding.ok
    assert finding.target == "172.16.1.2:6443"
    assert "virtual server for 172.16.1.2:6443 is missing" in finding.cause
    assert "the VIP has virtual servers on 443" in finding.cause
    assert any(LBS in e for e in finding.evidence)  # the lb-service it looked on


def test_a_disabled_virtual_server_says_so_with_the_trimmed_object() -> None:
    off = real_vs(443)
    off["enabled"] = False
    finding = check_slb_virtual_server(P443, comparison(servers=[off, real_vs(6443)]))
    assert not finding.ok
    assert "is disabled (enabled: false)" in finding.cause
    (evidence,) = finding.evidence
    trimmed = json.loads(evidence)
    assert trimmed["enabled"] is False
    assert trimmed["ip_address"] == str(VIP)
    assert "_create_user" not in trimmed
    assert "unique_id" not in trimmed


def test_a_virtual_server_without_a_pool_or_with_an_unlisted_pool() -> None:
    bare = real_vs(443)
    del bare["pool_path"]
    finding = check_slb_virtual_server(P443, comparison(servers=[bare, real_vs(6443)]))
    assert "has no pool_path" in finding.cause
    finding = check_slb_virtual_server(P443, comparison(pools=[real_pool(6443, list(CP.values()))]))
    assert "which NSX does not list" in finding.cause
    assert not check_slb_members(P443, comparison(pools=[real_pool(6443, list(CP.values()))])).ok


def test_a_virtual_server_on_another_lb_service_is_named() -> None:
    moved = real_vs(443)
    moved["lb_service_path"] = "/infra/lb-services/other"
    finding = check_slb_virtual_server(P443, comparison(servers=[moved, real_vs(6443)]))
    assert "is on lb-service /infra/lb-services/other, not " + LBS in finding.cause


def test_without_the_cluster_name_the_vip_names_its_lb_service() -> None:
    path, how = slb_service_path([lb_service()], None, [DlbVirtualServer.from_json(real_vs(443))])
    assert path == LBS
    assert "named by the VIP's virtual servers" in how
    assert check_slb_virtual_server(P443, comparison(cluster=None)).ok
    # tagged with the cluster: the SLB one, never the DLB one
    dlb = dict(lb_service(), id="clusterip_x_dlb", path="/infra/lb-services/clusterip_x_dlb", size="DLB")
    assert slb_service_path([dlb, lb_service()], CLUSTER)[0] == LBS


def test_no_lb_service_at_all() -> None:
    finding = check_slb_virtual_server(P443, comparison(servers=[], services=[]))
    assert not finding.ok
    assert "NSX lists no lb-service for the Supervisor" in finding.cause


# ---- WCP-SLB-002: the members -----------------------------------------------------------------------
def test_a_missing_member_names_the_vm_and_its_address() -> None:
    pools = [real_pool(443, ["10.244.0.2", "10.244.0.3"]), real_pool(6443, list(CP.values()))]
    finding = check_slb_members(P443, comparison(pools=pools))
    assert not finding.ok
    assert finding.check_id == CHECK_MEMBERS
    assert "cp-3's workload address 10.244.0.4:443 is not a member" in finding.cause
    assert "10.244.0.2:443 ENABLED" in finding.observed
    assert check_slb_members(P6443, comparison(pools=pools)).ok


def test_a_member_that_is_no_vm_makes_the_vip_half_work() -> None:
    pools = [real_pool(443, [*CP.values(), "10.244.0.14"]), real_pool(6443, list(CP.values()))]
    finding = check_slb_members(P443, comparison(pools=pools))
    assert not finding.ok
    assert "member 10.244.0.14:443 is not a control-plane VM's workload address" in finding.cause
    assert "only half works" in finding.cause
    assert "firewall" not in finding.cause
    (evidence,) = finding.evidence
    assert {m["ip_address"] for m in json.loads(evidence)["members"]} == {*CP.values(), "10.244.0.14"}


def test_a_member_on_the_wrong_port_or_disabled() -> None:
    pool = real_pool(443, list(CP.values()))
    pool["members"][0]["port"] = "8443"
    pool["members"][1]["admin_state"] = "DISABLED"
    finding = check_slb_members(P443, comparison(pools=[pool, real_pool(6443, list(CP.values()))]))
    assert "10.244.0.2:8443 (cp-1) is on port 8443, not 443" in finding.cause
    assert "10.244.0.3:443 (cp-2) has admin_state DISABLED" in finding.cause


def test_a_pool_without_members_key_is_judged_empty() -> None:
    empty = sample("policy-lb-pool-dlb-no-members.json")
    empty.update(id="kube-apiserver-lb-svc_443_TCP_slb01", path="/infra/lb-pools/kube-apiserver-lb-svc_443_TCP_slb01")
    assert "members" not in empty
    finding = check_slb_members(P443, comparison(pools=[empty, real_pool(6443, list(CP.values()))]))
    assert not finding.ok
    assert "no members (the pool has no members key)" in finding.observed
    assert all(f"{name}'s workload address" in finding.cause for name in CP)


def test_no_virtual_server_means_no_pool_to_judge() -> None:
    finding = check_slb_members(P6443, comparison(servers=[real_vs(443)]))
    assert not finding.ok
    assert finding.observed == "no pool to judge"
    assert CHECK_VS in finding.cause


def test_only_the_pools_the_vip_names_are_kept() -> None:
    other = real_pool(8093, ["172.26.0.2"])
    other.update(id="nsx-operator", path="/infra/lb-pools/nsx-operator")
    slb = comparison(pools=[real_pool(443, list(CP.values())), real_pool(6443, list(CP.values())), other])
    assert "/infra/lb-pools/nsx-operator" not in slb.pools
    assert len(slb.pools) == 2


# ---- WCP-SLB-001: the Service -----------------------------------------------------------------------
def test_the_service_ingress() -> None:
    ok = check_apiserver_ingress(service([str(VIP)]), VIP)
    assert ok.ok
    assert ok.target == "kube-system/kube-apiserver-lb-svc"
    wrong = check_apiserver_ingress(service(["172.16.1.254"]), VIP)
    assert not wrong.ok
    assert wrong.observed == "ingress IP 172.16.1.254, not 172.16.1.2"
    assert "different VIP" in wrong.cause
    assert '"ip": "172.16.1.254"' in wrong.evidence[0]
    pending = check_apiserver_ingress(service(None), VIP)
    assert "no status.loadBalancer.ingress IP" in pending.observed
    assert "ncp/error.loadbalancer" in pending.cause
    gone = check_apiserver_ingress(None, VIP)
    assert gone.observed == "the Service does not exist"


# ---- the simulator's own objects pass, and its faults are seen ----------------------------------------
def model_comparison(model: SupervisorModel) -> SlbComparison:
    servers = [DlbVirtualServer.from_json(virtual_server_json(model, vs)) for vs in model.virtual_servers]
    pools = [pool_json(model, vs) for vs in model.virtual_servers]
    cp = {f"cp-{i + 1}": ip for i, ip in enumerate(model.workload_ips)}
    return compare_slb(IPv4Address(model.api_vip), cp, servers, lb_services_json(model), pools, model.ncp_cluster)


def test_the_seed_model_passes_and_its_faults_are_caught() -> None:
    model = SupervisorModel.seed()
    slb = model_comparison(model)
    assert slb.lb_service_path == f"/infra/lb-services/lbs_{model.system_tier1}"
    assert all(check_slb_virtual_server(t, slb).ok and check_slb_members(t, slb).ok for t in (P443, P6443))
    model.drop_slb_member("kube-system", "kube-apiserver-lb-svc", "10.244.0.4")
    assert "cp-3's workload address" in check_slb_members(P6443, model_comparison(model)).cause
    model = SupervisorModel.seed()
    model.add_slb_member("kube-system", "kube-apiserver-lb-svc", "10.244.0.14")
    assert "10.244.0.14:6443 is not a control-plane VM" in check_slb_members(P6443, model_comparison(model)).cause


def test_a_passing_run_keeps_the_virtual_server_and_members_for_diffs() -> None:
    slb = comparison()
    vs = facts(CHECK_VS, check_slb_virtual_server(P443, slb).observed)
    assert vs == {"virtual server": "kube-apiserver-lb-svc_443_TCP_slb01"}
    assert facts(CHECK_MEMBERS, check_slb_members(P443, slb).observed) == {"members": ", ".join(sorted(CP.values()))}
