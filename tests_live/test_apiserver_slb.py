"""The kube-apiserver VIP on the NSX side: its SLB virtual servers, their pools, the LoadBalancer Service."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.slb import SlbComparison, SlbInputs, check_slb_members, check_slb_target
from wcp_acceptance.finding import expect
from wcp_acceptance.targets import ServiceRef, VipPort


@pytest.mark.check_id("WCP-SLB-001")
def test_vip_has_slb_virtual_server_and_service_ingress(slb_target: VipPort | ServiceRef,
                                                        slb_inputs: SlbInputs) -> None:
    """Each VIP port has an enabled SLB virtual server with a pool on the Supervisor's lb-service, and
    kube-system/kube-apiserver-lb-svc has status.loadBalancer.ingress[].ip equal to the VIP."""
    expect(check_slb_target(slb_target, slb_inputs))


@pytest.mark.check_id("WCP-SLB-002")
def test_vip_pool_holds_exactly_the_control_plane_vms(vip_port: VipPort, slb_pools: SlbComparison) -> None:
    """The pool behind the VIP port holds exactly the control-plane VMs' workload addresses, enabled."""
    expect(check_slb_members(vip_port, slb_pools))
