"""vCenter's own word on the Supervisor: Workload Management configured, Kubernetes ready, settings as the inventory.

The three checks judge one read of the cluster's Info. Without vcenter in the inventory they do
not run and say why (skipped, never failed).
"""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.vcenter import check_config_status, check_drift, check_kubernetes_status, stated_settings
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.observations import VcenterCluster


@pytest.mark.check_id("WCP-VC-001")
def test_workload_management_is_running(vcenter_cluster: VcenterCluster, inventory: Inventory) -> None:
    """vCenter's config_status of the Supervisor cluster is RUNNING."""
    expect(check_config_status(vcenter_cluster, inventory.supervisor.name))


@pytest.mark.check_id("WCP-VC-002")
def test_supervisor_kubernetes_is_ready(vcenter_cluster: VcenterCluster, inventory: Inventory) -> None:
    """vCenter's kubernetes_status is READY (WARNING fails as major)."""
    expect(check_kubernetes_status(vcenter_cluster, inventory.supervisor.name))


@pytest.mark.check_id("WCP-VC-003")
def test_vcenter_agrees_with_the_inventory(vcenter_cluster: VcenterCluster, inventory: Inventory) -> None:
    """The settings vCenter holds for the Supervisor are those the inventory states."""
    expect(check_drift(vcenter_cluster, stated_settings(inventory), inventory.supervisor.name))
