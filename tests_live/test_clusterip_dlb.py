"""NSX distributed load balancer: one virtual server per ClusterIP Service port, none stale."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.dlb import DlbComparison, check_dlb_coverage_of, check_dlb_stale_of
from wcp_acceptance.finding import expect


@pytest.mark.check_id("WCP-DLB-001")
def test_every_service_port_has_dlb_virtual_server(dlb_comparison: DlbComparison) -> None:
    """Every (Service, port, protocol) with a ClusterIP has an NSX DLB virtual server."""
    expect(check_dlb_coverage_of(dlb_comparison))


@pytest.mark.check_id("WCP-DLB-002")
def test_no_stale_dlb_virtual_servers(dlb_comparison: DlbComparison) -> None:
    """No DLB virtual server remains for a Service or port that no longer exists."""
    expect(check_dlb_stale_of(dlb_comparison))
