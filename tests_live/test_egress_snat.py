"""Egress SNAT: workload traffic leaves the cluster as the egress IP."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.egress import check_egress_snat
from wcp_acceptance.checks.nat import check_nat_case
from wcp_acceptance.finding import expect
from wcp_acceptance.observations import EgressObservation
from wcp_acceptance.targets import NatCase


@pytest.mark.check_id("WCP-EGR-001")
def test_workload_egress_leaves_as_egress_ip(
    egress_observation: EgressObservation, egress_context: dict[str, object],
) -> None:
    """A datagram from the workload interface reaches the observer with the egress IP as source."""
    expect(check_egress_snat(egress_observation, **egress_context))


@pytest.mark.check_id("WCP-EGR-002")
def test_nsx_nat_rules_snat_only_traffic_leaving_the_cluster(nat_case: NatCase, nsx_nat: dict[str, object]) -> None:
    """NSX SNATs workload traffic leaving the cluster to the egress IP, and nothing inside the cluster."""
    expect(check_nat_case(nat_case, nsx_nat["rules"], nsx_nat["tier1s"]))
