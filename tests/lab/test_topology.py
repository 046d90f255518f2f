"""lab.topology: the topology files load, bad ones are refused with every problem and its field path,
and the derived plan is the seed's (rules in the seed's order, table 200, who routes what)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.nft import edge_ruleset
from lab.topology import (
    DEFAULT_TOPOLOGY,
    TOPOLOGIES_DIR,
    Topology,
    TopologyError,
    check_prefix,
    load_topology,
    netns_name,
)

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "iproute"
ALT = TOPOLOGIES_DIR / "alt.yaml"


def _raw(path: Path = DEFAULT_TOPOLOGY) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    file = tmp_path / "topo.yaml"
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(TopologyError) as info:
        load_topology(file)
    return [line.removeprefix(f"{file}: ") for line in info.value.problems]


def _captured_rules(variant: str) -> list[str]:
    lines = (CAPTURES / variant / "rule.txt").read_text().splitlines()
    return [line for line in lines if "lookup 200" in line]


def test_the_seed_and_the_alt_topology_load_with_the_same_nodes_and_no_shared_address() -> None:
    seed, alt = load_topology(), load_topology(ALT)
    assert seed.node_names() == alt.node_names()
    assert seed.supervisor.ncp_cluster == "domain-c8:0c9a4798-6c2b-4c2e-9b7e-8d3e4f5a6b7c"

    def addresses(topo: Topology) -> set[str]:
        return {str(a) for node in topo.nodes for addrs in topo.plan(node).addresses.values() for a in addrs}

    assert addresses(seed)
    assert not addresses(seed) & addresses(alt)


@pytest.mark.parametrize(("variant", "shared"), [("healthy", False), ("seed-shared-dns", True)])
def test_cp_rules_are_the_seed_s_in_its_order(variant: str, shared: bool) -> None:
    seed = load_topology()
    topo = seed.with_shared_dns() if shared else seed
    assert topo.shared_dns is shared
    assert [rule.text() for rule in topo.cp_rules("cp-1")] == _captured_rules(variant)
    captured_json = json.loads((CAPTURES / variant / "rule.json").read_text())
    assert [rule.as_json() for rule in topo.cp_rules("cp-1")] == [r for r in captured_json if r["table"] == "200"]


def test_shared_dns_flag_overrides_the_file_and_names_management_dns() -> None:
    seed = load_topology()
    forced = seed.cp_rules("cp-2", shared_dns=True)
    assert forced[0].text() == "0:\tfrom all to 192.168.10.10 lookup 200"
    assert "0:\tfrom 10.244.0.3 lookup 200" in [r.text() for r in forced]
    assert not seed.with_shared_dns().plan("dns").routes, "the shared-DNS variant has no return route"


def test_table_200_is_the_seed_s() -> None:
    captured = (CAPTURES / "healthy" / "route-table-200.txt").read_text().split("\n")
    rendered = [" ".join(route.ip_args()).replace(" table 200", "") for route in load_topology().cp_table200()]
    assert rendered == [line.strip() for line in captured if line.strip()]


def test_the_alt_plan_derives_everything_from_its_own_numbers() -> None:
    alt = load_topology(ALT)
    texts = [rule.text() for rule in alt.cp_rules("cp-3")]
    assert texts == [
        "0:\tfrom all to 172.20.1.0/24 lookup 200",
        "0:\tfrom all to 10.50.0.0/20 lookup 200",
        "0:\tfrom all to 10.60.0.0/23 lookup 200",
        "0:\tfrom 10.50.0.4 lookup 200",
        "0:\tfrom all to 100.66.0.0/16 lookup 200",
        "0:\tfrom all to 10.20.0.54 lookup 200",
    ]
    ruleset = edge_ruleset(alt)
    assert "snat to 172.20.2.1" in ruleset
    assert "172.16." not in ruleset
    assert "10.244." not in ruleset
    assert "ip daddr 172.20.1.10 tcp dport 6443 dnat to numgen inc mod 3 map " \
           "{ 0 : 10.50.0.2, 1 : 10.50.0.3, 2 : 10.50.0.4 }" in ruleset


def test_each_node_plan_routes_as_the_seed_describes() -> None:
    topo = load_topology()
    edge, router, dns = topo.plan("edge"), topo.plan("router"), topo.plan("dns")
    assert edge.sysctls["net.ipv4.ip_forward"] == router.sysctls["net.ipv4.ip_forward"] == "1"
    assert [r.ip_args() for r in router.routes] == [["172.16.0.0/16", "via", "192.168.255.2"]]
    assert [r.ip_args() for r in dns.routes] == [["172.16.0.0/16", "via", "192.168.10.254"]]
    assert not any(r.dst == "default" for r in dns.routes), "the DNS server has no default route"
    assert ["default", "via", "192.168.255.1"] in [r.ip_args() for r in edge.routes]
    cp = topo.plan("cp-1")
    assert [str(a) for a in cp.addresses["eth0"] + cp.addresses["eth1"]] == ["192.168.10.45/24", "10.244.0.2/28"]
    assert cp.sysctls["net.ipv4.conf.all.rp_filter"] == "2"
    assert "net.ipv4.ip_forward" not in cp.sysctls


def test_links_give_every_node_its_interfaces_and_bridge_ports_are_named_after_nodes() -> None:
    topo = load_topology()
    ends: dict[str, set[str]] = {}
    for link in topo.links():
        ends.setdefault(link.a_node, set()).add(link.a_if)
        ends.setdefault(link.b_node, set()).add(link.b_if)
        if link.bridge_port:
            assert link.b_if == link.a_node
    assert ends["cp-1"] == ends["router"] == ends["edge"] == {"eth0", "eth1"}
    assert ends["jumpbox"] == ends["dns"] == {"eth0"}
    assert ends["mgmt"] == {"router", "dns", "vcenter", "nsx", "jumpbox", "cp-1", "cp-2", "cp-3"}
    assert ends["segment"] == {"cp-1", "cp-2", "cp-3", "edge"}
    assert all(len(name) <= 15 for names in ends.values() for name in names)


def test_namespace_names_and_prefixes() -> None:
    assert netns_name("wcp", "cp-1") == "wcp-cp-1"
    assert load_topology().namespaces("t1ab")["edge"] == "t1ab-edge"
    assert check_prefix("t1ab") == "t1ab"
    for bad in ("", "1ab", "a-b", "A", "abcdefghijk", "a b"):
        with pytest.raises(ValueError, match="lab prefix"):
            check_prefix(bad)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["nodes"]["cp-1"].update(workload="10.244.0.300"),
         "nodes.cp-1.workload: '10.244.0.300' is not an IPv4 address"),
        (lambda d: d["nodes"]["cp-1"].update(workload="10.244.1.2"),
         "nodes.cp-1.workload: 10.244.1.2 is outside the workload network 10.244.0.0/28"),
        (lambda d: d["nodes"]["cp-2"].update(management="192.168.10.45"),
         "nodes.cp-2.management: 192.168.10.45 is already used by nodes.cp-1.management"),
        (lambda d: d["nodes"]["jumpbox"].update(colour="blue"), "nodes.jumpbox.colour: unknown key"),
        (lambda d: d["nodes"]["jumpbox"].update(role="laptop"), "nodes.jumpbox: role 'laptop' is not one of"),
        (lambda d: d["nodes"]["jumpbox"].pop("role"), "nodes.jumpbox: needs a role"),
        (lambda d: d["nodes"].pop("edge"), "nodes: needs exactly one node with role 'edge' (found 0)"),
        (lambda d: d["networks"].update(egress_ip="172.16.3.1"),
         "networks.egress_ip: 172.16.3.1 is outside the egress network 172.16.2.0/24"),
        (lambda d: d["dns"].update(workload="192.168.10.12"),
         "dns.workload: 192.168.10.12 is not an address of the DNS node 'dns'"),
        (lambda d: d["nat"][2].pop("translated"), "nat[2].translated: an SNAT rule needs the address it translates to"),
        (lambda d: d["api_vip"].update(address="172.16.2.9"),
         "api_vip.address: 172.16.2.9 is outside the ingress network 172.16.1.0/24"),
        (lambda d: d["nodes"]["router"].update(routes_to_edge=["172.16.1.0/24"]),
         "dns.return_route: 172.16.0.0/16 is not routed to the edge by the router"),
        (lambda d: d["networks"].update(segment="10.245.0.0/28"),
         "networks.segment: 10.245.0.0/28 is outside the namespace network 10.244.0.0/20"),
        (lambda d: d["nodes"].update({"CP_4": d["nodes"]["cp-3"]}), "nodes: 'CP_4' is not a node name"),
        (lambda d: d["supervisor"].update(cluster_moid="c8"), "supervisor.cluster_moid: 'c8' does not match"),
        (lambda d: d.update(esxi_hosts=["10.0.0.31"]),
         "esxi_hosts[0]: 10.0.0.31 is outside the management network 192.168.10.0/24"),
    ],
)
def test_a_bad_field_is_named_with_its_path_and_reason(tmp_path: Path, mutate: Any, expected: str) -> None:
    data = _raw()
    mutate(data)
    problems = _problems(tmp_path, data)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = _raw()
    data["nodes"]["cp-1"]["workload"] = "nope"
    data["nodes"]["vcenter"]["management"] = "10.0.0.1"
    data["observer"]["port"] = 70000
    problems = _problems(tmp_path, data)
    assert len(problems) == 3, problems
    assert {p.split(":")[0] for p in problems} == {"nodes.cp-1.workload", "observer.port", "nodes.vcenter.management"}


def test_yaml_errors_and_unreadable_files_are_one_line_each(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nname: b\n")
    with pytest.raises(TopologyError, match=r"line 2, column 1: .*duplicate key 'name'"):
        load_topology(dup)
    with pytest.raises(TopologyError, match="cannot read topology"):
        load_topology(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n")
    with pytest.raises(TopologyError, match=r"\(top level\): must be a mapping"):
        load_topology(listed)


def test_values_are_typed() -> None:
    topo = load_topology()
    assert topo.api_vip.address == IPv4Address("172.16.1.2")
    assert topo.networks.namespace == IPv4Network("10.244.0.0/20")
    assert topo.dns.records["vcenter.corp.local"] == IPv4Address("192.168.10.20")
    assert list(topo.control_planes) == ["cp-1", "cp-2", "cp-3"]
    assert topo.jumpbox == ("jumpbox", topo.nodes["jumpbox"])
