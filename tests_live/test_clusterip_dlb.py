"""NSX distributed load balancer: one virtual server per ClusterIP Service port, none stale."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.dlb import check_dlb_coverage, check_dlb_stale
from wcp_acceptance.finding import expect
from wcp_acceptance.targets import ServicePort


@pytest.mark.check_id("WCP-DLB-001")
def test_every_service_port_has_dlb_virtual_server(
    service_ports: list[ServicePort], dlb_inputs: dict[str, object],
) -> None:
    """Every (Service, port, protocol) with a ClusterIP has an NSX DLB virtual server."""
    expect(check_dlb_coverage(service_ports, **dlb_inputs))


@pytest.mark.check_id("WCP-DLB-002")
def test_no_stale_dlb_virtual_servers(service_ports: list[ServicePort], dlb_inputs: dict[str, object]) -> None:
    """No DLB virtual server remains for a Service or port that no longer exists."""
    expect(check_dlb_stale(service_ports, **dlb_inputs))
