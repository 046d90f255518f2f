"""The pure part of ``wcp-acceptance discover``: site facts and operator input to inventory data, shapes that lie."""

from __future__ import annotations

from typing import Any

import yaml

from wcp_acceptance.site_discovery import (
    OperatorInput,
    SiteFacts,
    build_inventory,
    egress_ip_from_nat,
    fill_placeholders,
    system_egress,
    vip_members,
)

GIVEN = OperatorInput("vcenter.corp.local", "readonly@vsphere.local", "VC_PW", "/ca/vc.pem")
INFO: dict[str, Any] = {
    "api_server_cluster_endpoint": "172.16.1.2",
    "api_servers": ["192.168.10.45", "192.168.10.46"],
    "master_DNS": ["192.168.10.10"],
    "worker_DNS": ["192.168.10.11"],
    "master_NTP_servers": ["192.168.10.1", "ntp.corp.local"],
    "service_cidr": {"address": "10.96.0.0", "prefix": 23},
    "ncp_cluster_network_info": {"pod_cidrs": [{"address": "10.244.0.0", "prefix": 20}],
                                 "ingress_cidrs": [{"address": "172.16.1.0", "prefix": 24}],
                                 "egress_cidrs": [{"address": "172.16.2.0", "prefix": 24}],
                                 "nsx_tier0_gateway": "t0", "namespace_subnet_prefix": 28},
}


def test_every_fact_lands_in_its_field_and_secrets_are_references() -> None:
    facts = SiteFacts("domain-c8", "supervisor-1", INFO, egress_ip="172.16.2.1",
                      vip_pool_members=("10.244.0.3", "10.244.0.2"))
    found = build_inventory(facts, GIVEN)
    data = found.data
    assert data["networks"]["namespace"] == "10.244.0.0/20"
    assert data["networks"]["service"] == "10.96.0.0/23"
    assert data["ntp_servers"] == ["192.168.10.1"]
    assert any("only IPv4 addresses" in n for n in found.notes)
    assert data["vcenter"]["password"] == {"env": "VC_PW"}
    assert data["nsx"]["password"] == {"env": "WCP_NSX_PASSWORD"}
    vms = data["supervisor"]["control_plane"]
    assert vms[0]["ssh"]["password"] == {"env": "WCP_CP_PASSWORD"}
    assert vms[1]["interfaces"]["eth1"]["address"] == "10.244.0.3/28"  # namespace_subnet_prefix
    assert "password: {env: VC_PW}" in found.render()
    assert "&id" not in found.render()


def test_what_is_missing_is_a_listed_placeholder() -> None:
    found = build_inventory(SiteFacts("domain-c8", None, {}), GIVEN)
    paths = {path for path, _ in found.placeholders}
    assert {"supervisor.control_plane", "networks.management", "networks.namespace", "networks.egress_ip",
            "api_vip.address", "dns.management.servers", "kubernetes.kubeconfig", "nsx.managers",
            "observer.address"} <= paths
    text = found.render()
    assert all(f"#   {path}:" in text for path in paths)
    assert len(fill_placeholders(text)) >= len(paths)
    assert yaml.safe_load(text)["name"] == "domain-c8"


def test_lying_shapes_become_placeholders_not_crashes() -> None:
    info = {"api_servers": "192.168.10.45", "master_DNS": [None, "not-an-ip"], "service_cidr": {"address": "x"},
            "ncp_cluster_network_info": "oops"}
    found = build_inventory(SiteFacts("domain-c8", None, info,
                                      wcp_network_config={"api_servers_management_ips": "192.168.10.45,192.168.10.46",
                                                          "service_cidr": "10.96.0.0/23"}), GIVEN)
    assert [vm["management_address"] for vm in found.data["supervisor"]["control_plane"]] == \
        ["192.168.10.45", "192.168.10.46"]  # from wcp-network-config
    assert found.data["networks"]["service"] == "10.96.0.0/23"
    assert "dns.management.servers" in {p for p, _ in found.placeholders}


def test_pool_members_that_do_not_match_the_vms_are_not_paired() -> None:
    found = build_inventory(SiteFacts("domain-c8", None, INFO, vip_pool_members=("10.244.0.2",)), GIVEN)
    assert "supervisor.control_plane[0].interfaces.eth1.address" in {p for p, _ in found.placeholders}


def test_the_egress_ip_is_the_first_snat_rules_translation() -> None:
    rules = [{"action": "NO_SNAT", "sequence_number": 0},
             {"action": "SNAT", "sequence_number": 20, "translated_network": "172.16.2.9"},
             {"action": "SNAT", "sequence_number": 10, "translated_network": "172.16.2.1/32"}]
    assert egress_ip_from_nat(rules) == "172.16.2.1"
    assert egress_ip_from_nat([{"action": "SNAT", "translated_network": "not-an-ip"}]) is None


def test_vip_members_come_from_the_vips_non_dlb_pools_only() -> None:
    servers = [{"ip_address": "172.16.1.2", "pool_path": "/infra/lb-pools/vip"},
               {"ip_address": "172.16.1.2", "pool_path": "/infra/lb-pools/dlb",
                "tags": [{"scope": "ncp/created_for", "tag": "DLB"}]},
               {"ip_address": "10.96.0.1", "pool_path": "/infra/lb-pools/other"}]
    pools = [{"path": "/infra/lb-pools/vip", "members": [{"ip_address": "10.244.0.3"}, {"ip_address": "10.244.0.2"},
                                                         {"ip_address": "bogus"}]},
             {"path": "/infra/lb-pools/dlb", "members": [{"ip_address": "10.244.0.9"}]},
             {"path": "/infra/lb-pools/other", "members": [{"ip_address": "10.244.0.8"}]}]
    assert vip_members("172.16.1.2", servers, pools) == ["10.244.0.2", "10.244.0.3"]


def test_the_supervisors_own_tier1_and_snat_come_from_kube_system_not_a_vsphere_namespace() -> None:
    def ns(name: str, router: str, snat: str) -> dict[str, object]:
        return {"metadata": {"name": name, "annotations": {"ncp/router_id": router, "ncp/snat_ip": snat}}}

    listed = [ns("team-a", "t1_team_rtr", "172.16.2.9"), ns("kube-system", "t1_sys_rtr", "172.16.2.1")]
    assert system_egress(listed) == ("t1_sys_rtr", "172.16.2.1")
    assert system_egress([ns("kube-system", "t1_sys_rtr", "not-an-address")]) == ("t1_sys_rtr", None)
    assert system_egress([{"metadata": {"name": "kube-system"}}]) == (None, None)
    assert system_egress([ns("team-a", "t1_team_rtr", "172.16.2.9")]) == (None, None)
