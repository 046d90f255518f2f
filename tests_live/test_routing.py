"""Policy routing on the control-plane VMs: management traffic must stay on the management interface, and
replies must come back where their requests left (or rp_filter must let them in)."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.return_path import check_return_path
from wcp_acceptance.checks.routing import check_management_dependency_route
from wcp_acceptance.finding import expect
from wcp_acceptance.targets import ReturnPathProbe, RouteProbe
from wcp_acceptance.vmnet_records import ReturnPathObservation


@pytest.mark.check_id("WCP-RT-001")
def test_management_dependency_not_steered_into_workload_table(
    route_probe: RouteProbe, route_context: dict[str, object],
) -> None:
    """No ip rule steers a management dependency (DNS, vCenter, NSX, NTP) into the workload table."""
    expect(check_management_dependency_route(route_probe, **route_context))


@pytest.mark.check_id("WCP-RT-002")
def test_replies_return_by_the_interface_the_request_left(
    return_path_probe: ReturnPathProbe, return_path_observation: ReturnPathObservation,
) -> None:
    """A request from an interface's address leaves by it, or strict rp_filter is not there to drop the reply."""
    expect(check_return_path(return_path_probe, return_path_observation))
