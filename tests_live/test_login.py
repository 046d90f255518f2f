"""``kubectl vsphere login`` through the API VIP, as the plugin does it: opt-in (login.enabled in the inventory).

Without the opt-in the check does not run and says why (skipped, never failed): it is the suite's one
POST beyond API session logins.
"""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.login import check_login
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.probes.login import LoginObservation


@pytest.mark.check_id("WCP-LOGIN-001")
def test_kubectl_vsphere_login_works(login_observation: LoginObservation, inventory: Inventory) -> None:
    """The SSO user logs in through the VIP, and kube-apiserver accepts the session token."""
    expect(check_login(login_observation, inventory.supervisor.name))
