"""Test ids read as sentences, come from the domain objects, are unique, and listing them touches nothing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.inventories import EXAMPLE, EXAMPLE_ENV, example_data, write
from tests.support.run_suite import run_suite


def collect(inventory: Path, tmp_path: Path) -> list[str]:
    result = run_suite(["--inventory", str(inventory), "--report-dir", str(tmp_path / "reports"),
                        "--collect-only", "-q"], env=EXAMPLE_ENV)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert not (tmp_path / "reports").exists()  # listing the checks writes no report
    return [line for line in result.stdout.splitlines() if line.startswith("tests_live/")]


def test_ids_of_the_example_site_read_as_sentences(tmp_path: Path) -> None:
    ids = collect(EXAMPLE, tmp_path)
    assert len(ids) == len(set(ids))
    for expected in (
        "tests_live/test_dns.py::test_name_resolves[cp-1/eth1 -> vcenter.corp.local]",
        "tests_live/test_dns.py::test_reverse_lookup_round_trips[cp-3/eth0 -> nsx.corp.local]",
        "tests_live/test_dns.py::test_vm_resolver_resolves_management_name[cp-2 resolver -> vcenter.corp.local]",
        "tests_live/test_routing.py::test_management_dependency_not_steered_into_workload_table"
        "[cp-1 -> 192.168.10.10 (management DNS)]",
        "tests_live/test_egress_snat.py::test_workload_egress_leaves_as_egress_ip[cp-2/eth1 -> observer "
        "192.168.10.5:40123]",
        "tests_live/test_egress_snat.py::test_nsx_nat_rules_snat_only_traffic_leaving_the_cluster"
        "[10.244.0.2 -> 10.244.0.16 (inside the cluster)]",
        "tests_live/test_apiserver_vip.py::test_vip_completes_tls[172.16.1.2:6443]",
        "tests_live/test_clusterip_dlb.py::test_every_service_port_has_dlb_virtual_server",
        "tests_live/test_apiserver_slb.py::test_vip_has_slb_virtual_server_and_service_ingress[172.16.1.2:6443]",
        "tests_live/test_apiserver_slb.py::test_vip_has_slb_virtual_server_and_service_ingress"
        "[kube-system/kube-apiserver-lb-svc]",
        "tests_live/test_apiserver_slb.py::test_vip_pool_holds_exactly_the_control_plane_vms[172.16.1.2:443]",
        "tests_live/test_bgp.py::test_tier0_bgp_neighbours_are_established_and_advertise_the_ranges",
        "tests_live/test_capacity.py::test_ip_pools_and_edge_load_balancer_have_room[egress IP pool]",
        "tests_live/test_capacity.py::test_ip_pools_and_edge_load_balancer_have_room[edge load balancer]",
    ):
        assert expected in ids
    assert not [i for i in ids if re.search(r"\[\w+\d+\]$", i)], "an id fell back to argname<N>"


def test_an_interface_with_two_dns_servers_names_the_server(tmp_path: Path) -> None:
    data = example_data()
    data["supervisor"]["control_plane"][0]["interfaces"]["eth0"]["dns_servers"] = ["192.168.10.10", "192.168.10.12"]
    ids = collect(write(tmp_path, data), tmp_path)
    assert "tests_live/test_dns.py::test_name_resolves[cp-1/eth0 -> vcenter.corp.local via 192.168.10.12]" in ids
    assert "tests_live/test_dns.py::test_name_resolves[cp-2/eth0 -> vcenter.corp.local]" in ids
