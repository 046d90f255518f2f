"""The Supervisor's Tier-0 and the physical router: every BGP session up, the ingress and egress ranges advertised."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.bgp import BgpObservation, check_bgp
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory import Inventory


@pytest.mark.check_id("WCP-BGP-001")
def test_tier0_bgp_neighbours_are_established_and_advertise_the_ranges(bgp_observation: BgpObservation,
                                                                        inventory: Inventory) -> None:
    """Every BGP neighbour of the Tier-0 is ESTABLISHED and is advertised the ingress and egress ranges."""
    expect(check_bgp(bgp_observation, inventory.supervisor.name))
