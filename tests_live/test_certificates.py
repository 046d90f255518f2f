"""Days left on the certificates of the API VIP (each port), the NSX managers and vCenter, and their chain."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.cert import check_cert_days
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory.model import CertificatesSpec
from wcp_acceptance.probes.cert import CertObservation


@pytest.mark.check_id("WCP-CERT-001")
def test_certificate_is_not_about_to_run_out(cert_observation: CertObservation,
                                              certificate_limits: CertificatesSpec) -> None:
    """Every certificate the endpoint serves has at least warn_days left (major below it, critical below fail_days)."""
    expect(check_cert_days(cert_observation, certificate_limits))
