"""The control-plane VMs keep time: their clocks agree with the runner's and their NTP servers answer."""

from __future__ import annotations

import pytest
from wcp_acceptance.checks.clock import check_time
from wcp_acceptance.finding import expect
from wcp_acceptance.inventory.model import TimeSpec
from wcp_acceptance.targets import ClockProbe, NtpProbe
from wcp_acceptance.vmnet_records import ClockObservation, NtpObservation


@pytest.mark.check_id("WCP-TIME-001")
def test_vm_keeps_time(time_target: ClockProbe | NtpProbe, time_observation: ClockObservation | NtpObservation,
                       time_limits: TimeSpec) -> None:
    """A VM's clock is within the inventory's thresholds of the runner's; each NTP server answers the VM."""
    expect(check_time(time_observation, time_limits))
