"""NCP, which realises every NSX object the other checks look at: running, pointed at the right NSX, heard by NSX,
and able to reach it from the control-plane VMs."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.ncp import check_manager_tls, check_ncp_managers, check_ncp_pod, check_ncp_view
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.observations import ManagerTlsObservation, NcpErrors, NcpStatus
from wcp_acceptance.targets import ManagerTlsProbe, NcpViewRef


@pytest.mark.check_id("WCP-NCP-001")
def test_ncp_pod_is_running_and_ready(ncp_namespace_pods: list[dict[str, object]]) -> None:
    """The nsx-ncp pod runs with every container ready (not crash-looping)."""
    expect(check_ncp_pod(ncp_namespace_pods))


@pytest.mark.check_id("WCP-NCP-002")
def test_ncp_talks_to_the_inventorys_nsx_managers(ncp_ini_managers: list[str], inventory: Inventory) -> None:
    """NCP's nsx_api_managers are the NSX managers the inventory names."""
    expect(check_ncp_managers(ncp_ini_managers, inventory.nsx.managers))


@pytest.mark.check_id("WCP-NCP-003")
def test_nsx_hears_ncp_healthy_and_ncp_reports_no_error(ncp_view: NcpViewRef,
                                                        ncp_view_input: NcpStatus | NcpErrors) -> None:
    """NSX's ncpstatus of the container cluster is HEALTHY; no ncp/error annotation on Services, Namespaces, pods."""
    expect(check_ncp_view(ncp_view, ncp_view_input))


@pytest.mark.check_id("WCP-NCP-004")
def test_ncp_nsx_manager_completes_tls_from_the_management_interface(
    manager_tls_probe: ManagerTlsProbe, manager_tls_observation: ManagerTlsObservation,
    manager_tls_route: str | None,
) -> None:
    """The NSX manager NCP uses completes a TLS handshake from the VM's management interface."""
    expect(check_manager_tls(manager_tls_observation, manager_tls_route))
