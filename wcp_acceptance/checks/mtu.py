"""WCP-MTU-001: don't-fragment packets of the expected MTU pass from each VM's workload interface.

From eth1's address, a ping of ``mtu`` bytes (``mtu - 28`` of payload) with DF set must reach the
segment's gateway (the edge) and a target beyond it (the runner). A smaller MTU on the way shows as
large packets (TLS handshakes, image pulls) failing while pings pass, so the message names the largest
size that passed and what ping reported (``Frag needed and DF set (mtu = 1400)`` names the link's MTU
and, with ``From <address>``, the router in front of it).
"""

from __future__ import annotations

from wcp_acceptance.finding import Finding, ObservationError, failed, passed
from wcp_acceptance.probes.vmnet import MIN_MTU
from wcp_acceptance.vmnet_records import MtuObservation

CHECK_ID = "WCP-MTU-001"


def check_path_mtu(obs: MtuObservation) -> Finding:
    probe = obs.probe
    target = str(probe)
    expected = (f"a {probe.mtu}-byte don't-fragment ping (payload {probe.payload}, inventory mtu) from "
                f"{probe.source} reaches {probe.target} ({probe.role})")
    first = obs.expected
    tried = ", ".join(f"{t.size} {'passed' if t.ok else 'failed'}" for t in obs.tries)
    evidence = [f"ping -n -M do -s <size - 28> -c 1 -W {obs.wait_s} -I {probe.source} {probe.target}: {tried}",
                *(f"{t.size} bytes: {t.detail}" for t in obs.tries)]
    if first.ok:
        return passed(CHECK_ID, target, expected, f"{probe.mtu} bytes passed")
    largest = obs.largest_passed
    if largest is None:
        raise ObservationError(target, f"{probe.target} answers no don't-fragment ping at all, not even "
                               f"{MIN_MTU} bytes ({first.detail}): the path MTU cannot be measured (ICMP echo "
                               "filtered, or no path there: see WCP-EGR-001)", evidence)
    reported = obs.reported_mtu
    observed = (f"{probe.mtu} bytes: {first.detail}; the largest that passed: {largest} bytes"
                + (f" (smallest that failed: {obs.smallest_failed})" if obs.smallest_failed != probe.mtu else ""))
    hop = "between the VM and the edge (the segment, or the NSX overlay under it: the transport VLANs need at " \
          "least 1600 bytes)" if probe.role == "edge" else "beyond the edge (its uplink or a router after it)"
    said = f"; the path reports mtu {reported}" if reported is not None else "; no router reported its MTU " \
        "(a black hole: the packets vanish)"
    cause = (f"a link {hop} carries fewer than {probe.mtu} bytes{said}: large packets (TLS handshakes, image "
             "pulls) from the workload network fail while small pings pass")
    return failed(CHECK_ID, target, expected, observed, cause, evidence)
