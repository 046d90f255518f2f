"""WCP-RT-002: a request from an interface's address leaves by that interface, or its replies survive rp_filter.

A dual-homed Supervisor VM (eth0 management, eth1 workload) that sends a request from eth0's address out
eth1 (an ip rule or route steers the destination there) gets the reply back on eth0: eth0's address is
reachable only through eth0's network. The kernel then checks the reply's source against its own route
back (reverse-path filtering): with strict rp_filter (1) on eth0 that route leaves eth1, not eth0, and
the reply is dropped without a trace, the known "vCenter/ESXi unreachable from the Supervisor". Loose (2)
or off (0) lets it through; the pass then says so. The value the kernel applies on an interface is
max(net.ipv4.conf.all.rp_filter, net.ipv4.conf.<iface>.rp_filter).
"""

from __future__ import annotations

from wcp_acceptance.finding import Finding, ObservationError, failed, passed
from wcp_acceptance.iproute import parse_route_get
from wcp_acceptance.targets import ReturnPathProbe
from wcp_acceptance.vmnet_records import ReturnPathObservation

CHECK_ID = "WCP-RT-002"
RP_NAMES = {0: "off", 1: "strict", 2: "loose"}


def rp_text(obs: ReturnPathObservation, iface: str) -> str:
    """``rp_filter 1 (strict: max(all 0, eth0 1))``."""
    value = obs.effective_rp_filter(iface)
    name = RP_NAMES.get(value if value is not None else -1, "unknown")
    return f"rp_filter {value} ({name}: max(all {obs.rp_filter.get('all')}, {iface} {obs.rp_filter.get(iface)}))"


def check_return_path(probe: ReturnPathProbe, obs: ReturnPathObservation) -> Finding:
    """WCP-RT-002 for one (VM, interface, destination): judged on the VM's own ``ip route get`` and rp_filter."""
    target = str(probe)
    dst, src = str(probe.destination), str(probe.source)
    command = f"ip -j route get {dst} from {src}"
    answer = obs.routes.get((dst, src))
    if answer is None:
        raise ObservationError(target, f"the return-path script gave no answer for {command}", (obs.raw,))
    expected = (f"a request from {src} ({probe.iface}) to {dst} ({probe.role}) leaves by {probe.iface}, or "
                f"{probe.iface}'s rp_filter lets its replies in")
    evidence = [f"{command} -> {(answer.out or answer.err).strip()[:300]}",
                f"net.ipv4.conf.all.rp_filter = {obs.rp_filter.get('all')}, "
                f"net.ipv4.conf.{probe.iface}.rp_filter = {obs.rp_filter.get(probe.iface)}"]
    if answer.status is None:
        raise ObservationError(target, f"{command} could not run on {probe.vm}: {answer.err.strip()[:200]}",
                               (obs.raw,))
    if answer.status != 0:
        why = answer.err.strip().removeprefix("RTNETLINK answers:").strip() or f"exit {answer.status}"
        return failed(CHECK_ID, target, expected, f"the VM has no route for it from {src}: {why}",
                      f"{probe.vm} cannot send to {probe.role} {dst} from {probe.iface} at all", evidence)
    try:
        route = parse_route_get(answer.out, command)
    except ValueError as error:
        raise ObservationError(target, f"unreadable ip -j route get output: {error}", (obs.raw,)) from None
    where = route.summary() + ("" if route.table != "main" else ", table main")
    if route.dev == probe.iface:
        return passed(CHECK_ID, target, expected, f"it leaves by {probe.iface} ({where}): replies come back "
                      "where the request left")
    rp = obs.effective_rp_filter(probe.iface)
    if rp is None:
        raise ObservationError(target, f"rp_filter of {probe.iface} or all is unreadable on {probe.vm} "
                               f"(/proc/sys/net/ipv4/conf/{probe.iface}/rp_filter)", (obs.raw,))
    observed = (f"it leaves by {route.dev} ({where}) while its replies, to {src}, arrive on {probe.iface}, where "
                f"{rp_text(obs, probe.iface)}")
    if rp == 1:
        cause = (f"asymmetric return path: strict reverse-path filtering on {probe.vm}/{probe.iface} drops the "
                 f"replies from {dst}, because the VM's own route back to {dst} leaves {route.dev}, not "
                 f"{probe.iface}; something (an ip rule or route for {dst}) steers {probe.role} out {route.dev}. "
                 f"Remove it, or set net.ipv4.conf.{probe.iface}.rp_filter and net.ipv4.conf.all.rp_filter "
                 "to 2 (loose), as the Supervisor's policy routing needs")
        return failed(CHECK_ID, target, expected, observed, cause, evidence)
    return passed(CHECK_ID, target, expected, observed + " lets them in (noted: the path is asymmetric)")
