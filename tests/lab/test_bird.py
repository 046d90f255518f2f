"""The lab's BGP: the router's static route gives way to BIRD, and the configs say what each side does."""

from __future__ import annotations

from lab.bird import EDGE_AS, ROUTER_AS, Peering, edge_config, router_config
from lab.topology import TOPOLOGIES_DIR, load_topology


def test_in_a_running_lab_the_router_has_no_static_route_to_the_edge() -> None:
    topo = load_topology()
    assert [r.ip_args() for r in topo.plan("router").routes] == [["172.16.0.0/16", "via", "192.168.255.2"]]
    assert topo.plan("router", uplink_routes="bgp").routes == []
    assert topo.plan("edge", uplink_routes="bgp").routes == topo.plan("edge").routes


def test_the_edge_originates_the_routers_ranges_and_the_router_imports_them_into_its_kernel() -> None:
    for name, ranges in (("seed", "172.16.0.0/16"), ("alt", "172.20.0.0/16")):
        peering = Peering.of(load_topology(TOPOLOGIES_DIR / f"{name}.yaml"))
        edge, router = edge_config(peering), router_config(peering)
        assert f"route {ranges} unreachable;" in edge
        assert f"local {peering.edge_address} as {EDGE_AS};" in edge
        assert f"neighbor {peering.router_address} as {ROUTER_AS};" in edge
        assert 'export where proto = "tier0_nets";' in edge
        assert "import none" in edge
        assert "protocol kernel { ipv4 { import none; export all; }" in router
        assert "ipv4 { import all; export none; }" in router
