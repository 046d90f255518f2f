"""The lab's BGP: the router's static route gives way to BIRD, and the configs say what each side does."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

from lab.bird import EDGE_AS, ROUTER_AS, BgpPeering, Peering, edge_config, router_config
from lab.netns import build
from lab.services import ServiceError
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


def test_a_session_that_never_comes_up_stops_the_start_in_time_naming_both_sides() -> None:
    topo = load_topology()
    prefix = f"b{secrets.token_hex(2)}"
    workdir = Path("/run/wcp-lab") / prefix / "bird"  # short: a unix socket path has at most 107 bytes
    try:
        with build(topo, prefix, uplink_routes="bgp"):
            peering = BgpPeering(topo, topo.namespaces(prefix), workdir, establish_timeout=1.5)
            peering.router.config = peering.router.config.replace(f"as {EDGE_AS};", "as 64999;")  # a wrong peer AS
            with pytest.raises(ServiceError) as caught:
                peering.start()
            text = str(caught.value)
            assert "was not Established with 172.16.0.0/16 in the router's kernel within 1.5 s" in text
            assert "router learnt nothing" in text
            assert "edge " in text
            assert not peering.edge.running
            assert not peering.router.running
    finally:
        shutil.rmtree(workdir.parent, ignore_errors=True)
