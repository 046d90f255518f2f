"""Room to grow: free addresses in NCP's ingress and egress IP pools, the edge load balancer below its limit."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.capacity import IpPoolUsage, LbNodeUsage, check_lb, check_pool
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.targets import CapacityTarget


@pytest.mark.check_id("WCP-CAP-001")
def test_ip_pools_and_edge_load_balancer_have_room(capacity_target: CapacityTarget,
                                                   capacity_pools: tuple[list[IpPoolUsage], int],
                                                   capacity_nodes: list[LbNodeUsage], inventory: Inventory) -> None:
    """Each IP pool keeps capacity.ip_pool_free_min free; the edge LB stays under capacity.lb_usage_max_percent."""
    limits = inventory.capacity
    if capacity_target.kind == "lb":
        expect(check_lb(capacity_target, capacity_nodes, limits.lb_usage_max_percent))
    else:
        network = inventory.networks.ingress if capacity_target.kind == "ingress" else inventory.networks.egress
        pools, listed = capacity_pools
        expect(check_pool(capacity_target, network, pools, limits.ip_pool_free_min, listed))
