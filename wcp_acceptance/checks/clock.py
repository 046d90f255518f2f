"""WCP-TIME-001: each control-plane VM's clock agrees with the runner's, and the NTP servers answer the VM.

WCP requires the control-plane VMs, vCenter, ESXi and NSX to agree on the time: drift breaks token and
certificate validation. The VM's clock is read (``date +%s.%N``) between two readings of the runner's
clock; the offset is taken at the midpoint and half the round trip bounds its error, so a threshold is
exceeded only when even the most favourable reading within that bound exceeds it. Thresholds come from
the inventory, ``time: {warn_seconds: 1, fail_seconds: 5}``: beyond warn_seconds fails with severity
major, beyond fail_seconds critical. The runner's clock is the reference: run the suite from a machine
that keeps time. Each NTP server in ``ntp_servers`` must answer an NTP mode 3 query sent from the VM's
management address with a synchronised clock (stratum 1-15, leap indicator not 3).
"""

from __future__ import annotations

from typing import Literal

from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.inventory.model import TimeSpec
from wcp_acceptance.vmnet_records import ClockObservation, NtpObservation

CHECK_ID = "WCP-TIME-001"


def _signed(seconds: float) -> str:
    return f"{seconds:+.3f} s"


def check_clock(obs: ClockObservation, limits: TimeSpec) -> Finding:
    """The VM's offset against the runner, within warn_seconds (else major) and fail_seconds (else critical)."""
    target = str(obs.probe)
    offset, bound = obs.offset_s, obs.error_bound_s
    least = max(abs(offset) - bound, 0.0)  # the smallest offset the readings allow
    expected = (f"{obs.probe.vm}'s clock within {limits.warn_seconds:g} s (time.warn_seconds) of the runner's")
    observed = f"offset {_signed(offset)} (VM minus runner, ±{bound:.3f} s: half the round trip)"
    evidence = [f"runner {obs.runner_before:.6f} .. {obs.runner_after:.6f}, VM {obs.vm_time:.6f}", obs.raw]
    if least <= limits.warn_seconds:
        return passed(CHECK_ID, target, expected, observed)
    direction = "ahead of" if offset > 0 else "behind"
    severity: Literal["critical", "major"]
    if least > limits.fail_seconds:
        limit, severity = f"more than fail_seconds {limits.fail_seconds:g}", "critical"
    else:
        limit, severity = (f"more than warn_seconds {limits.warn_seconds:g}, within fail_seconds "
                           f"{limits.fail_seconds:g}"), "major"
    cause = (f"{obs.probe.vm}'s clock is {abs(offset):.3f} s {direction} the runner's ({limit}): the VM does not "
             "keep time with NTP (see its NTP targets), or its clock was set by hand; drift breaks token and "
             "certificate validation between the Supervisor, vCenter, ESXi and NSX")
    return failed(CHECK_ID, target, expected, observed, cause, evidence, severity=severity)


def check_ntp(obs: NtpObservation) -> Finding:
    """The NTP server answers the VM's query with a synchronised clock."""
    probe = obs.probe
    target = str(probe)
    expected = f"{probe.server} answers an NTP query from {probe.source} ({probe.vm}/{probe.iface}), synchronised"
    evidence = [f"NTP mode 3 query {probe.source} -> {probe.server}:{probe.port}, wait {obs.timeout_s:g} s "
                "(egress timeout)"]
    if obs.outcome == "answer":
        offset = obs.server_offset_s
        bound = ((obs.runner_after or 0) - (obs.runner_before or 0)) / 2
        clock = f", its clock {_signed(offset)} (±{bound:.3f} s) from the runner's" if offset is not None else ""
        observed = f"stratum {obs.stratum}, leap indicator {obs.leap}{clock}"
        if obs.stratum is not None and 1 <= obs.stratum <= 15 and obs.leap != 3:
            return passed(CHECK_ID, target, expected, observed)
        cause = (f"{probe.server} answers but is not synchronised itself (stratum 0 is a kiss-o'-death refusal, "
                 "16 or leap indicator 3 an unsynchronised server): the VMs cannot take the time from it")
        return failed(CHECK_ID, target, expected, observed, cause, evidence)
    if obs.outcome == "bad_reply":
        return failed(CHECK_ID, target, expected, f"a reply that is not an NTP answer to our query: {obs.detail}",
                      f"something other than an NTP server answers on {probe.server}:{probe.port}", evidence)
    observed = {"no_reply": f"no answer: {obs.detail}", "icmp_unreachable": f"no NTP answer: {obs.detail}",
                "send_error": f"the VM could not send: {obs.detail}"}[obs.outcome]
    cause = (f"the NTP server {probe.server} does not answer {probe.vm} (ntpd/chronyd down, UDP 123 filtered, "
             "or no route back to the VM's management address): the VM's clock drifts")
    return failed(CHECK_ID, target, expected, observed, cause, evidence)


def check_time(obs: ClockObservation | NtpObservation, limits: TimeSpec) -> Finding:
    """WCP-TIME-001 for one target: a VM's clock, or one NTP server asked from a VM."""
    return check_clock(obs, limits) if isinstance(obs, ClockObservation) else check_ntp(obs)
