"""Replies to the control-plane VMs come back where their requests left (or rp_filter lets them in)."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.return_path import check_return_path
from wcp_acceptance.finding import expect
from wcp_acceptance.targets import ReturnPathProbe
from wcp_acceptance.vmnet_records import ReturnPathObservation


@pytest.mark.check_id("WCP-RT-002")
def test_replies_return_by_the_interface_the_request_left(
    return_path_probe: ReturnPathProbe, return_path_observation: ReturnPathObservation,
) -> None:
    """A request from an interface's address leaves by it, or strict rp_filter is not there to drop the reply."""
    expect(check_return_path(return_path_probe, return_path_observation))
