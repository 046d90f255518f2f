"""Every vSphere Namespace's egress: its own SNAT IP in the egress range, SNATed by its own Tier-1."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.namespaces import check_namespace_egress
from wcp_acceptance.finding import expect
from wcp_acceptance.observations import NamespaceEgress
from wcp_acceptance.targets import NamespaceRef


@pytest.mark.check_id("WCP-NS-001")
def test_vsphere_namespace_leaves_as_its_own_snat_ip(namespace_ref: NamespaceRef,
                                                    namespace_egress: NamespaceEgress) -> None:
    """The Namespace's ncp/snat_ip lies in the egress range, is its Tier-1's alone, and that Tier-1 SNATs to it."""
    expect(check_namespace_egress(namespace_ref, namespace_egress))
