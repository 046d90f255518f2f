"""WCP-CAP-001: NCP's IP pools' free addresses and the edge load balancer's usage, messages and edge cases."""

from __future__ import annotations

import copy
from ipaddress import IPv4Network

import pytest

from lab.model import SupervisorModel
from lab.sim.nsx import lb_services_json
from lab.sim.nsx_routing import edge_node_paths, ip_pools_json, lb_node_usage_json
from wcp_acceptance.checks.capacity import CapacityReads, check_lb, check_pool, parse_lb_usage, pools_in
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.targets import CapacityTarget

EGRESS, INGRESS = IPv4Network("172.16.2.0/24"), IPv4Network("172.16.1.0/24")
API = "NSX GET /api/v1/pools/ip-pools"
LB = CapacityTarget("lb")


def test_targets_read_as_sentences() -> None:
    assert [str(CapacityTarget(k)) for k in ("ingress", "egress", "lb")] == [  # type: ignore[arg-type]
        "ingress IP pool", "egress IP pool", "edge load balancer"]


def test_a_pool_with_room_passes_and_only_pools_inside_the_range_count() -> None:
    pools = ip_pools_json(SupervisorModel.seed())
    found = pools_in(pools, EGRESS, API)
    assert [p.ranges for p in found] == [("172.16.2.1-172.16.2.254",)]
    finding = check_pool(CapacityTarget("egress"), EGRESS, found, 5, len(pools))
    assert finding.ok
    assert finding.observed.startswith("253 free (1 of 254 allocated) in pool ")


def test_an_exhausted_pool_fails_critical_and_says_what_ncp_cannot_do() -> None:
    m = SupervisorModel.seed()
    m.routing.egress_allocated = 10_000
    finding = check_pool(CapacityTarget("egress"), EGRESS, pools_in(ip_pools_json(m), EGRESS, API), 5, 2)
    assert not finding.ok
    assert finding.severity == "critical"
    assert finding.observed.startswith("0 free (254 of 254 allocated)")
    assert "SNAT IP" in finding.cause
    assert "IP_POOL_EXHAUSTED" in finding.cause


def test_a_pool_below_the_minimum_but_not_empty_fails_major() -> None:
    m = SupervisorModel.seed()
    m.routing.ingress_allocated = 251
    finding = check_pool(CapacityTarget("ingress"), INGRESS, pools_in(ip_pools_json(m), INGRESS, API), 5, 2)
    assert not finding.ok
    assert finding.severity == "major"
    assert "LoadBalancer Service's VIP" in finding.cause
    assert "before the last 3 go" in finding.cause


def test_no_pool_in_the_range_is_an_error_not_a_full_pool() -> None:
    with pytest.raises(ObservationError, match="none of the 2 IP pools"):
        check_pool(CapacityTarget("egress"), IPv4Network("10.9.0.0/24"), [], 5, 2)


@pytest.mark.parametrize("usage", [None, {}, {"total_ids": 254, "allocated_ids": "1", "free_ids": 253},
                                   {"total_ids": 254, "allocated_ids": True, "free_ids": 253}])
def test_a_pool_without_a_whole_pool_usage_is_an_error_naming_the_api(usage: object) -> None:
    pools = copy.deepcopy(ip_pools_json(SupervisorModel.seed()))
    pools[1]["pool_usage"] = usage
    with pytest.raises(ObservationError) as caught:
        pools_in(pools, EGRESS, API)
    assert caught.value.target == API
    assert "no whole pool_usage" in caught.value.cause


def test_lb_usage_passes_below_the_limit_and_fails_major_above_it() -> None:
    m = SupervisorModel.seed()
    node = edge_node_paths(m)[0]
    healthy = parse_lb_usage(lb_node_usage_json(m, node, lb_services_json(m)), node, "api")
    assert check_lb(LB, [healthy], 80).ok
    m.routing.lb_extra_credits = 35
    high = parse_lb_usage(lb_node_usage_json(m, node, lb_services_json(m)), node, "api")
    finding = check_lb(LB, [high], 80)
    assert not finding.ok
    assert finding.severity == "major"
    assert finding.observed == "edge-node-1 at 90% (load balancer credits 36 of 40)"
    assert "LB Edge Capacity In Use High" in finding.cause


def test_lb_usage_with_no_known_pair_or_no_node_is_an_error() -> None:
    with pytest.raises(ObservationError, match="holds no usage against a capacity"):
        parse_lb_usage({"current_load_balancer_credits": 3}, "n", "api")
    with pytest.raises(ObservationError, match="not an object"):
        parse_lb_usage([], "n", "api")
    with pytest.raises(ObservationError, match="lists no edge node"):
        check_lb(LB, [], 80)


def test_capacity_reads_raise_a_fresh_copy_of_a_kept_error() -> None:
    error = ObservationError("NSX", "503")
    reads = CapacityReads({"nsx_ip_pools": (False, error), "lb_node_usage": (True, [])})
    assert reads.value("lb_node_usage") == []
    with pytest.raises(ObservationError) as caught:
        reads.value("nsx_ip_pools")
    assert caught.value is not error
    assert caught.value.cause == "503"
