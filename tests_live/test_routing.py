"""Policy routing on the control-plane VMs: management traffic must stay on the management interface."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.routing import check_management_dependency_route
from wcp_acceptance.finding import expect
from wcp_acceptance.targets import RouteProbe


@pytest.mark.check_id("WCP-RT-001")
def test_management_dependency_not_steered_into_workload_table(
    route_probe: RouteProbe, route_context: dict[str, object],
) -> None:
    """No ip rule steers a management dependency (DNS, vCenter, NSX, NTP) into the workload table."""
    expect(check_management_dependency_route(route_probe, **route_context))
