"""NCP, which realises every NSX object the other checks look at: running, and pointed at the right NSX."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.ncp import check_ncp_managers, check_ncp_pod
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory import Inventory


@pytest.mark.check_id("WCP-NCP-001")
def test_ncp_pod_is_running_and_ready(ncp_namespace_pods: list[dict[str, object]]) -> None:
    """The nsx-ncp pod runs with every container ready (not crash-looping)."""
    expect(check_ncp_pod(ncp_namespace_pods))


@pytest.mark.check_id("WCP-NCP-002")
def test_ncp_talks_to_the_inventorys_nsx_managers(ncp_ini_managers: list[str], inventory: Inventory) -> None:
    """NCP's nsx_api_managers are the NSX managers the inventory names."""
    expect(check_ncp_managers(ncp_ini_managers, inventory.nsx.managers))
