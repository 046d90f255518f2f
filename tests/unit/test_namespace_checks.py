"""WCP-NS-001 over Namespaces as the Kubernetes simulator serves them and NAT rules as the NSX simulator does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lab.faults import apply_to_model
from lab.model import LAB_NAMESPACE, SupervisorModel
from lab.sim.kube import KubeApiSim
from lab.sim.nsx import nat_rule_json
from wcp_acceptance.checks.namespaces import check_namespace_egress, is_system, is_vsphere_namespace
from wcp_acceptance.observations import NamespaceEgress, NamespaceInfo
from wcp_acceptance.targets import NamespaceRef

TOKEN = "t-unit"
SYSTEM, TEAM, OTHERS = NamespaceRef("system"), NamespaceRef("named", LAB_NAMESPACE), NamespaceRef("others")


def namespaces(model: SupervisorModel) -> list[NamespaceInfo]:
    status, _, body = KubeApiSim(model, TOKEN).handle("GET", "/api/v1/namespaces", {"authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    return [NamespaceInfo.from_json(item) for item in json.loads(body)["items"]]


def egress(model: SupervisorModel, *, named: tuple[str, ...] = (LAB_NAMESPACE,),
           infos: list[NamespaceInfo] | None = None,
           rules: dict[str, tuple[dict[str, Any], ...] | None] | None = None) -> NamespaceEgress:
    infos = namespaces(model) if infos is None else infos
    if rules is None:
        routers = {ns.annotations.get("ncp/router_id") for ns in infos} - {None}
        rules = {str(t1): tuple(nat_rule_json(model, r) for r in model.nat_rules if r.tier1 == t1) for t1 in routers}
    return NamespaceEgress(tuple(infos), rules, model.egress_cidr, model.egress_ip, named)


def faulted(*faults: str) -> SupervisorModel:
    model = SupervisorModel.seed()
    apply_to_model(model, set(faults))
    return model


def test_the_seed_passes_for_the_system_namespaces_team_a_and_the_others() -> None:
    data = egress(SupervisorModel.seed())
    system = check_namespace_egress(SYSTEM, data)
    assert system.ok, system.message()
    assert system.observed.startswith("12 system namespaces leave as 172.16.2.1 via t1_")
    team = check_namespace_egress(TEAM, data)
    assert team.ok, team.message()
    assert team.observed.startswith("team-a leaves as 172.16.2.2 via t1_")
    others = check_namespace_egress(OTHERS, data)
    assert others.ok
    assert others.observed == "0 Namespaces: none on the Supervisor"


def test_ids_read_as_sentences() -> None:
    assert [str(r) for r in (SYSTEM, TEAM, OTHERS)] == [
        "system namespaces (the Supervisor's own Tier-1)", "namespace team-a",
        "vSphere Namespaces the inventory does not name"]


def test_system_and_vsphere_namespaces_are_told_apart() -> None:
    assert is_system("default")
    assert is_system("kube-system")
    assert is_system("vmware-system-nsx")
    assert not is_system("team-a")
    assert not is_system("kubernetes-dashboard")  # kube- is the prefix, not kube
    assert not is_vsphere_namespace(NamespaceInfo("scratch"))  # no NCP annotation, no label: not judged
    assert is_vsphere_namespace(NamespaceInfo("team-b", vsphere_cluster="domain-c8"))
    assert is_vsphere_namespace(NamespaceInfo("team-c", {"ncp/snat_ip": "172.16.2.9"}))
    assert not is_vsphere_namespace(NamespaceInfo("kube-system", {"ncp/snat_ip": "172.16.2.1"}))


def test_a_missing_snat_rule_on_the_namespaces_tier1_fails_naming_it() -> None:
    finding = check_namespace_egress(TEAM, egress(faulted("ns-snat-missing")))
    assert not finding.ok
    assert "has no enabled SNAT rule to 172.16.2.2: it has no SNAT rule at all" in finding.observed
    assert "SNAT rule is missing" in finding.cause
    assert any(line.startswith("Namespace team-a: ncp/router_id=t1_") for line in finding.evidence)
    assert check_namespace_egress(SYSTEM, egress(faulted("ns-snat-missing"))).ok  # the Supervisor's is kept


def test_a_shared_snat_ip_fails_both_sides_naming_the_other() -> None:
    data = egress(faulted("ns-snat-shared"))
    team = check_namespace_egress(TEAM, data)
    assert not team.ok
    assert "also the SNAT IP of the system namespaces (12: default, kube-system, " in team.observed
    assert "handed it out twice" in team.cause
    system = check_namespace_egress(SYSTEM, data)
    assert not system.ok
    assert system.observed.count("also the SNAT IP of team-a on another Tier-1") == 1  # said once, not per namespace


def test_the_supervisors_missing_or_wrong_snat_rule_fails_the_system_target() -> None:
    missing = check_namespace_egress(SYSTEM, egress(faulted("snat-missing")))
    assert not missing.ok
    assert "no SNAT rule at all" in missing.observed
    assert check_namespace_egress(TEAM, egress(faulted("snat-missing"))).ok
    wrong = check_namespace_egress(SYSTEM, egress(faulted("snat-wrong-ip")))
    assert not wrong.ok
    assert "its SNAT rules translate to 172.16.2.9, not 172.16.2.1" in wrong.observed


def test_a_snat_ip_outside_the_egress_range_or_not_an_address_fails() -> None:
    model = SupervisorModel.seed()
    infos = [NamespaceInfo(ns.name, {**ns.annotations, "ncp/snat_ip": "10.9.9.9"}, ns.vsphere_cluster)
             if ns.name == LAB_NAMESPACE else ns for ns in namespaces(model)]
    finding = check_namespace_egress(TEAM, egress(model, infos=infos))
    assert not finding.ok
    assert "its SNAT IP 10.9.9.9 is outside the egress range 172.16.2.0/24" in finding.observed
    assert "no enabled SNAT rule to 10.9.9.9" in finding.observed
    infos = [NamespaceInfo(ns.name, {**ns.annotations, "ncp/snat_ip": "pending"}, ns.vsphere_cluster)
             if ns.name == LAB_NAMESPACE else ns for ns in namespaces(model)]
    assert check_namespace_egress(TEAM, egress(model, infos=infos)).observed == (
        "ncp/snat_ip 'pending' is not an IPv4 address")


def test_a_disabled_rule_and_an_unknown_tier1_say_so() -> None:
    model = SupervisorModel.seed()
    data = egress(model)
    team_t1 = model.vsphere_namespaces[0].tier1
    disabled = {**data.rules_by_tier1, team_t1: tuple({**r, "enabled": False} for r in data.rules_by_tier1[team_t1]
                                                       or ())}
    finding = check_namespace_egress(TEAM, egress(model, rules=disabled))
    assert not finding.ok
    assert "is disabled" in finding.observed
    gone = {**data.rules_by_tier1, team_t1: None}
    finding = check_namespace_egress(TEAM, egress(model, rules=gone))
    assert not finding.ok
    assert f"NSX has no Tier-1 {team_t1}" in finding.observed


@pytest.mark.parametrize(("infos", "observed"), [
    ([], "no Namespace team-a on the Supervisor"),
    ([NamespaceInfo(LAB_NAMESPACE, {}, "domain-c8")], "Namespace team-a carries no ncp/router_id or ncp/snat_ip"),
])
def test_a_named_namespace_that_is_gone_or_not_realised_fails(infos: list[NamespaceInfo], observed: str) -> None:
    finding = check_namespace_egress(TEAM, egress(SupervisorModel.seed(), infos=infos, rules={}))
    assert not finding.ok
    assert finding.observed == observed


def test_other_namespaces_are_judged_together_and_no_snat_namespaces_pass() -> None:
    model = SupervisorModel.seed()
    infos = [*namespaces(model), NamespaceInfo("team-b", {}, "domain-c8"),
             NamespaceInfo("routed", {"ncp/router_id": "t1_x_rtr", "ncp-nsx/no-snat": "true"}),
             NamespaceInfo("scratch")]
    finding = check_namespace_egress(OTHERS, egress(model, infos=infos))
    assert not finding.ok
    assert finding.observed == "team-b: no ncp/router_id or ncp/snat_ip: NCP has not realised it"
    assert "NCP has not realised" in finding.cause
    infos = [i for i in infos if i.name != "team-b"]
    finding = check_namespace_egress(OTHERS, egress(model, infos=infos))
    assert finding.ok, finding.message()
    assert finding.observed == "1 Namespace: routed routed without SNAT (ncp-nsx/no-snat)"


def test_system_namespaces_without_annotations_are_not_judged() -> None:
    model = SupervisorModel.seed()
    infos = [NamespaceInfo(ns.name) if is_system(ns.name) else ns for ns in namespaces(model)]
    finding = check_namespace_egress(SYSTEM, egress(model, infos=infos))
    assert finding.ok
    assert "they are not vSphere Namespaces" in finding.observed


def test_namespace_info_keeps_only_ncp_annotations_and_survives_odd_shapes() -> None:
    info = NamespaceInfo.from_json({"metadata": {"name": "a", "annotations": {"ncp/snat_ip": "1.2.3.4", "x": "y"},
                                                 "labels": {"vSphereClusterID": "domain-c8"}}})
    assert info == NamespaceInfo("a", {"ncp/snat_ip": "1.2.3.4"}, "domain-c8")
    assert NamespaceInfo.from_json({"metadata": None}) == NamespaceInfo("")
    odd = {"metadata": {"name": "b", "annotations": "nope", "labels": []}}
    assert NamespaceInfo.from_json(odd) == NamespaceInfo("b")


def test_the_plan_has_the_system_target_each_named_namespace_and_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.inventories import EXAMPLE, EXAMPLE_ENV
    from wcp_acceptance.inventory import load_inventory
    from wcp_acceptance.plan import manager_tls_probes, namespace_refs

    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    inv = load_inventory(EXAMPLE)
    assert [str(r) for r in namespace_refs(inv)] == [
        "system namespaces (the Supervisor's own Tier-1)", "namespace team-a",
        "vSphere Namespaces the inventory does not name"]
    probes = manager_tls_probes(inv)
    assert len(probes) == len(inv.supervisor.control_plane) * len(inv.nsx.managers)
    assert all(p.iface == "eth0" and p.address is not None for p in probes)
