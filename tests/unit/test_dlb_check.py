"""WCP-DLB-001/002: Service ports against NSX DLB virtual servers, with real NSX objects and at scale."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from lab.model import SupervisorModel
from lab.sim.nsx import virtual_server_json
from wcp_acceptance.checks.dlb import (
    CHECK_COVERAGE,
    CHECK_STALE,
    DlbVirtualServer,
    check_dlb_coverage,
    check_dlb_stale,
    check_service_port_dlb,
    compare_dlb,
    dlb_lb_service_path,
    protocol_of,
)
from wcp_acceptance.targets import ServicePort

DATA = Path(__file__).resolve().parent.parent / "data" / "nsx"
CLUSTER = "f06fd228-8088-4439-a9e6-26c90a829c57"  # the captured Supervisor's ncp/cluster (a bare UUID)
LB = dlb_lb_service_path(CLUSTER)
SAMPLES = ("kube-dns-53-tcp", "kube-dns-53-udp", "kubernetes-443-tcp", "kube-apiserver-lb-svc-443-tcp",
           "loadbalancer-svc-8080-tcp")
# the Service ports those virtual servers were made for, as the Kubernetes reader would list them
PORTS = (
    ServicePort("kube-system", "kube-dns", "172.24.0.10", 53, "TCP"),
    ServicePort("kube-system", "kube-dns", "172.24.0.10", 53, "UDP"),
    ServicePort("default", "kubernetes", "172.24.0.1", 443, "TCP"),
    ServicePort("kube-system", "kube-apiserver-lb-svc", "172.24.94.45", 443, "TCP"),
    ServicePort("test-prevpc-8f1a464f", "prevpc-loadbalancer", "172.24.99.198", 8080, "TCP"),
)


@pytest.fixture
def real_servers() -> dict[str, dict[str, Any]]:
    return {name: json.loads((DATA / f"policy-lb-virtual-server-dlb-{name}.json").read_text()) for name in SAMPLES}


def tag(obj: dict[str, Any], scope: str, value: str) -> None:
    for item in obj["tags"]:
        if item["scope"] == scope:
            item["tag"] = value


# ---- with the real samples ---------------------------------------------------------------------------------


def test_real_virtual_servers_cover_their_services(real_servers: dict[str, dict[str, Any]]) -> None:
    coverage = check_dlb_coverage(PORTS, real_servers.values(), LB, CLUSTER)
    stale = check_dlb_stale(PORTS, real_servers.values(), LB, CLUSTER)
    assert coverage.ok, coverage.message()
    assert stale.ok, stale.message()
    assert (coverage.check_id, stale.check_id) == (CHECK_COVERAGE, CHECK_STALE)
    assert coverage.target == f"DLB clusterip_{CLUSTER}_dlb"
    assert coverage.observed == "all 5 covered by 5 virtual servers"
    assert coverage.evidence == stale.evidence == ()


def test_short_repr_names_service_endpoint_and_id(real_servers: dict[str, dict[str, Any]]) -> None:
    vs = DlbVirtualServer.from_json(real_servers["kube-dns-53-udp"])
    assert repr(vs) == "<VirtualServer kube-system/kube-dns 172.24.0.10:53/UDP id=kube-dns_53_UDP_hof1c>"
    assert vs.keys == (("172.24.0.10", 53, "UDP"),)


def test_protocol_comes_from_the_profile_then_the_tag(real_servers: dict[str, dict[str, Any]]) -> None:
    udp = copy.deepcopy(real_servers["kube-dns-53-udp"])
    tag(udp, "ncp/service_port_protocol", "TCP")
    assert protocol_of(udp) == "UDP"  # the profile decides
    udp["application_profile_path"] = "/infra/lb-app-profiles/custom-l4"
    tag(udp, "ncp/service_port_protocol", "UDP")
    assert protocol_of(udp) == "UDP"  # a custom profile: the tag decides
    del udp["tags"]
    assert protocol_of(udp) == "TCP"


def test_missing_virtual_server_is_listed_with_its_endpoint(real_servers: dict[str, dict[str, Any]]) -> None:
    del real_servers["kube-dns-53-udp"]
    finding = check_dlb_coverage(PORTS, real_servers.values(), LB, CLUSTER)
    assert not finding.ok
    assert finding.observed == ("1 of 5 Service ports have no virtual server; "
                                "missing: kube-system/kube-dns 53/UDP (172.24.0.10:53/UDP)")
    assert finding.cause.startswith("NCP has not realised 1 Service port(s) (kube-system/kube-dns 53/UDP)")
    assert finding.evidence == ("kube-system/kube-dns 53/UDP: no virtual server for 172.24.0.10:53/UDP",)
    message = finding.message()
    assert "expected a DLB virtual server" in message
    assert "Likely cause: NCP has not realised" in message


def test_port_mismatch_names_the_virtual_server(real_servers: dict[str, dict[str, Any]]) -> None:
    real_servers["kube-dns-53-udp"]["ports"] = ["5353"]
    comparison = compare_dlb(PORTS, real_servers.values(), LB, CLUSTER)
    coverage = comparison.coverage()
    assert "missing: kube-system/kube-dns 53/UDP (172.24.0.10:53/UDP)" in coverage.observed
    assert coverage.cause == ("port/protocol mismatch: kube-system/kube-dns 53/UDP expects 172.24.0.10:53/UDP but the "
                              "virtual server tagged for that Service is <VirtualServer kube-system/kube-dns "
                              "172.24.0.10:5353/UDP id=kube-dns_53_UDP_hof1c>")
    (evidence,) = coverage.evidence
    trimmed = json.loads(evidence)
    assert trimmed["id"] == "kube-dns_53_UDP_hof1c"
    assert trimmed["ports"] == ["5353"]
    assert trimmed["tags"]["ncp/service"] == "kube-dns"
    assert "_create_user" not in trimmed  # trimmed to what explains the finding
    stale = comparison.stale()
    assert "unexpected: <VirtualServer kube-system/kube-dns 172.24.0.10:5353/UDP id=kube-dns_53_UDP_hof1c>" in (
        stale.observed)
    assert "the Service exists but port 5353/UDP no longer does (it has 53/TCP, 53/UDP)" in stale.cause


def test_protocol_mismatch_is_recognised(real_servers: dict[str, dict[str, Any]]) -> None:
    real_servers["kube-dns-53-udp"]["application_profile_path"] = "/infra/lb-app-profiles/default-tcp-lb-app-profile"
    real_servers["kube-dns-53-udp"]["ports"] = ["54"]
    finding = check_dlb_coverage(PORTS, real_servers.values(), LB, CLUSTER)
    assert finding.cause.startswith("port/protocol mismatch: kube-system/kube-dns 53/UDP")
    assert "172.24.0.10:54/TCP id=kube-dns_53_UDP_hof1c" in finding.cause


def test_stale_virtual_server_names_its_ncp_service_tag(real_servers: dict[str, dict[str, Any]]) -> None:
    finding = check_dlb_stale(PORTS[:4], real_servers.values(), LB, CLUSTER)
    assert not finding.ok
    assert finding.observed == ("1 of 5 virtual servers match no Service port; unexpected: <VirtualServer "
                                "test-prevpc-8f1a464f/prevpc-loadbalancer 172.24.99.198:8080/TCP "
                                "id=prevpc-loadbalancer_8080_TCP_j7n9u>")
    assert finding.cause == ("prevpc-loadbalancer_8080_TCP_j7n9u (ncp/service=test-prevpc-8f1a464f/"
                             "prevpc-loadbalancer, ncp/service_port=8080): the Service no longer exists; NCP left its "
                             "virtual server behind")
    assert json.loads(finding.evidence[0])["id"] == "prevpc-loadbalancer_8080_TCP_j7n9u"


def test_changed_cluster_ip_is_named_as_the_cause(real_servers: dict[str, dict[str, Any]]) -> None:
    moved = [p if p.name != "kubernetes" else ServicePort("default", "kubernetes", "172.24.0.2", 443, "TCP")
             for p in PORTS]
    finding = check_dlb_stale(moved, real_servers.values(), LB, CLUSTER)
    assert "the Service's ClusterIP is now 172.24.0.2, not 172.24.0.1" in finding.cause


def test_virtual_servers_of_other_clusters_and_services_do_not_count(real_servers: dict[str, dict[str, Any]]) -> None:
    other_cluster = real_servers.pop("kube-dns-53-udp")
    tag(other_cluster, "ncp/cluster", "domain-c9:other")
    other_service = real_servers.pop("kubernetes-443-tcp")
    other_service["lb_service_path"] = "/infra/lb-services/some-other-lb"
    doc_example = json.loads((DATA / "policy-lb-virtual-server-doc-example.json").read_text())  # untagged
    servers = [*real_servers.values(), other_cluster, other_service, doc_example]
    comparison = compare_dlb(PORTS, servers, LB, CLUSTER)
    assert {p.name for p in comparison.missing} == {"kube-dns", "kubernetes"}
    assert comparison.stale().ok  # none of the foreign ones is this cluster's stale object
    cause = comparison.coverage().cause
    assert "does not count because it is tagged ncp/cluster=domain-c9:other" in cause
    assert "does not count because it is on lb-service /infra/lb-services/some-other-lb" in cause


def test_wrong_cluster_name_says_no_virtual_server_carries_it(real_servers: dict[str, dict[str, Any]]) -> None:
    finding = check_dlb_coverage(PORTS, real_servers.values(), dlb_lb_service_path("domain-c8:x"), "domain-c8:x")
    assert finding.observed.startswith("5 of 5 Service ports have no virtual server")
    assert "no virtual server on /infra/lb-services/clusterip_domain-c8:x_dlb carries ncp/cluster=domain-c8:x" in (
        finding.cause)
    assert finding.cause.startswith("no virtual server on")
    assert f"(5 virtual servers seen in all; the virtual servers seen carry ncp/cluster={CLUSTER})" in finding.cause
    assert "kubernetes_443_TCP_6mqcw serves 172.24.0.1:443/TCP but does not count because it is tagged " \
           f"ncp/cluster={CLUSTER}, not domain-c8:x" in finding.cause


def test_per_port_findings_read_as_the_service_port(real_servers: dict[str, dict[str, Any]]) -> None:
    del real_servers["kube-dns-53-udp"]
    comparison = compare_dlb(PORTS, real_servers.values(), LB, CLUSTER)
    ok = check_service_port_dlb(PORTS[0], comparison)
    assert ok.ok
    assert ok.target == "kube-system/kube-dns 53/TCP"
    assert ok.observed == "<VirtualServer kube-system/kube-dns 172.24.0.10:53/TCP id=kube-dns_53_TCP_hof1c>"
    missing = check_service_port_dlb(PORTS[1], comparison)
    assert not missing.ok
    assert missing.target == "kube-system/kube-dns 53/UDP"
    assert missing.expected == f"a DLB virtual server for 172.24.0.10:53/UDP on {LB}"
    assert missing.cause.startswith("NCP has not realised this Service port")


# ---- model-derived, at scale ----------------------------------------------------------------------------------


def expected_ports(model: SupervisorModel) -> list[ServicePort]:
    return [ServicePort(s.namespace, s.name, str(s.cluster_ip), p.port, p.protocol)
            for s in model.services if s.has_cluster_ip for p in s.ports]


def test_2500_service_ports_set_diffs_are_capped(capsys: pytest.CaptureFixture[str]) -> None:
    model = SupervisorModel.scaled(2500 - len(expected_ports(SupervisorModel.seed())))
    expected = expected_ports(model)
    assert len(expected) == 2500
    servers = [virtual_server_json(model, vs) for vs in model.virtual_servers]
    start = time.perf_counter()
    comparison = compare_dlb(expected, servers, dlb_lb_service_path(model.ncp_cluster), model.ncp_cluster)
    assert comparison.coverage().ok
    assert comparison.stale().ok
    assert comparison.coverage().observed == "all 2500 covered by 2500 virtual servers"
    assert len(comparison.servers) == 2500  # the SLB virtual servers do not count
    clean = time.perf_counter() - start

    for index in range(25):
        model.drop_dlb_virtual_server(f"scale-{index // 100:03d}", f"svc-{index:05d}", 8000, "TCP")
    for index in range(30):
        model.add_stale_dlb_virtual_server("gone", f"old-{index:02d}", f"10.97.0.{index + 1}", 80)
    servers = [virtual_server_json(model, vs) for vs in model.virtual_servers]
    start = time.perf_counter()
    comparison = compare_dlb(expected, servers, dlb_lb_service_path(model.ncp_cluster), model.ncp_cluster)
    coverage, stale = comparison.coverage(), comparison.stale()
    broken = time.perf_counter() - start
    print(f"\n2,500 Service ports vs {len(servers)} virtual servers: {clean * 1000:.0f} ms clean, "
          f"{broken * 1000:.0f} ms with findings")
    assert coverage.observed.startswith("25 of 2500 Service ports have no virtual server; missing: ")
    assert coverage.observed.endswith(" ... and 5 more")
    assert coverage.observed.count("scale-") == 20
    assert stale.observed.startswith("30 of 2505 virtual servers match no Service port; unexpected: ")
    assert stale.observed.endswith(" ... and 10 more")
    assert len(stale.evidence) == 21
    assert stale.evidence[-1] == "... and 10 more"
    assert "ncp/service=gone/old-00" in stale.cause
    assert clean + broken < 2.0


def test_model_port_mismatch_is_reported_with_the_virtual_server_id() -> None:
    model = SupervisorModel.seed()
    vs = model.mismatch_dlb_port("kube-system", "kube-dns", 53, "UDP", new_port=5353)
    servers = [virtual_server_json(model, v) for v in model.virtual_servers]
    finding = check_dlb_coverage(expected_ports(model), servers, dlb_lb_service_path(model.ncp_cluster),
                                 model.ncp_cluster)
    assert not finding.ok
    assert "port/protocol mismatch: kube-system/kube-dns 53/UDP" in finding.cause
    assert f"id={vs.id}" in finding.cause


def test_a_mismatch_is_blamed_only_on_the_service_port_it_was_created_for() -> None:
    model = SupervisorModel.seed()
    model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    vs = model.mismatch_dlb_port("kube-system", "kube-dns", 9153, "TCP", new_port=9154)
    servers = [virtual_server_json(model, v) for v in model.virtual_servers]
    finding = check_dlb_coverage(expected_ports(model), servers, dlb_lb_service_path(model.ncp_cluster),
                                 model.ncp_cluster)
    assert "port/protocol mismatch: kube-system/kube-dns 9153/TCP" in finding.cause
    assert "port/protocol mismatch: kube-system/kube-dns 53/UDP" not in finding.cause
    assert "NCP has not realised 1 Service port(s) (kube-system/kube-dns 53/UDP)" in finding.cause
    assert f"id={vs.id}" in finding.cause
