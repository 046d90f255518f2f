"""The kube-apiserver VIP, from the runner: TCP, TLS verified against the inventory CA, /version."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.vip import check_vip_tcp, check_vip_tls, check_vip_version
from wcp_acceptance.finding import expect
from wcp_acceptance.probes.vip import VipObservation


@pytest.mark.check_id("WCP-VIP-001")
def test_vip_accepts_tcp(vip_observation: VipObservation) -> None:
    """The VIP accepts a TCP connection on the port."""
    expect(check_vip_tcp(vip_observation))


@pytest.mark.check_id("WCP-VIP-002")
def test_vip_completes_tls(vip_observation: VipObservation) -> None:
    """TLS completes with a certificate valid for the VIP (or its FQDN), signed by the inventory CA."""
    expect(check_vip_tls(vip_observation))


@pytest.mark.check_id("WCP-VIP-003")
def test_vip_answers_as_kube_apiserver(vip_observation: VipObservation) -> None:
    """GET /version answers as kube-apiserver."""
    expect(check_vip_version(vip_observation))
