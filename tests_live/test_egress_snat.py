"""Egress SNAT: workload traffic leaves the cluster as the egress IP."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.egress import check_egress_snat
from wcp_acceptance.finding import expect
from wcp_acceptance.observations import EgressObservation

pytestmark = pytest.mark.egress


@pytest.mark.check_id("WCP-EGR-001")
def test_workload_egress_leaves_as_egress_ip(
    egress_observation: EgressObservation, egress_context: dict[str, object],
) -> None:
    """A datagram from the workload interface reaches the observer with the egress IP as source."""
    expect(check_egress_snat(egress_observation, **egress_context))
