"""Full-size packets pass from the workload network to the edge and beyond it."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.mtu import check_path_mtu
from wcp_acceptance.finding import expect
from wcp_acceptance.targets import MtuProbe
from wcp_acceptance.vmnet_records import MtuObservation


@pytest.mark.check_id("WCP-MTU-001")
def test_full_size_packets_pass_without_fragmenting(mtu_probe: MtuProbe, mtu_observation: MtuObservation) -> None:
    """A don't-fragment ping of the inventory's MTU from eth1's address reaches the target."""
    expect(check_path_mtu(mtu_observation))
