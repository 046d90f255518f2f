"""Send one egress datagram from a VM's workload interface to the runner's observer, and combine both views.

The VM side (``send_egress_datagram``) reports whether it could send, any ICMP error and the
observer's echo; the runner side (:class:`~wcp_acceptance.probes.observer.EgressObserver`) reports
the source address the datagram arrived with. A random nonce ties the two together.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.observations import EgressObservation
from wcp_acceptance.probes.observer import EgressObserver
from wcp_acceptance.probes.script_result import script_record
from wcp_acceptance.targets import EgressProbe
from wcp_acceptance.vm_scripts import EGRESS_SEND_SCRIPT, SenderResult, icmp_text

ECHO_GRACE_S = 0.5  # the VM got an echo or an ICMP error: the runner has seen what it will see
MIN_GRACE_S = 0.2  # after the sender returns, the least time the observer still gets

Sender = Callable[["ReadOnlyRunner", str, str, int, str, float], SenderResult]


def send_egress_datagram(
    runner: ReadOnlyRunner, src: str, observer: str, port: int, nonce: str, wait: float
) -> SenderResult:
    """From ``src`` on the VM, send ``nonce`` in one UDP datagram to ``observer:port``; wait ``wait`` s for a reply.

    Raises :class:`~wcp_acceptance.finding.ObservationError` only when the sender could not run
    (SSH, command timeout, no python3 on the VM).
    """
    argv = ["python3", "-c", EGRESS_SEND_SCRIPT, src, observer, str(port), nonce, f"{max(wait, 0.001):.3f}"]
    result = runner.run(argv)
    target = f"{runner.vm_name} {src} -> {observer}:{port}"
    record = script_record(result, target)
    code = record.get("errno")
    text = str(record.get("text") or "")
    elapsed = record.get("elapsed")
    elapsed_s = float(elapsed) if isinstance(elapsed, int | float) else None
    if not record.get("sent"):
        return SenderResult(sent=False, error=text or f"errno {code}")
    icmp = None
    if isinstance(code, int):
        icmp = icmp_text(code, text, record.get("from"))
    port_used = record.get("port")
    echo = record.get("echo")
    return SenderResult(
        sent=True,
        icmp_error=icmp,
        echo=str(echo) if echo is not None else None,
        source_port=int(port_used) if isinstance(port_used, int) else None,
        elapsed_s=elapsed_s,
    )


def new_nonce() -> str:
    return f"wcp-egress-{secrets.token_hex(8)}"


def observe_egress(runner: ReadOnlyRunner, observer: EgressObserver, probe: EgressProbe, timeout: float,
                   *, send: Sender = send_egress_datagram) -> EgressObservation:
    """Send a nonce from ``probe.source`` on the VM to ``probe.observer:probe.port``; report how it arrived.

    Bounded by ``timeout`` (the VM's wait for the echo) plus the runner's command timeout and a
    short grace. Raises :class:`~wcp_acceptance.finding.ObservationError` only when the sender could
    not run on the VM (from ``send``).
    """
    nonce = new_nonce()
    observer.expect(nonce)
    try:
        start = time.monotonic()
        result = send(runner, str(probe.source), str(probe.observer), probe.port, nonce, timeout)
        if not result.sent:
            arrival = observer.wait(nonce, 0.0)
        elif result.echo is not None or result.icmp_error is not None:
            # an echo: recorded before it was sent; an ICMP error: whatever reached the runner is recorded
            arrival = observer.wait(nonce, ECHO_GRACE_S)
        else:
            arrival = observer.wait(nonce, max(MIN_GRACE_S, start + timeout - time.monotonic()))
        notes = list(observer.notes(nonce))
    finally:
        observer.forget(nonce)
    if result.echo is not None:
        notes.append(f"the VM got the observer's echo {result.echo!r}")
        if arrival is None:
            notes.append("the VM got an echo but the observer recorded no arrival: another host answers "
                         f"for {probe.observer}:{probe.port}")
    elif result.sent and arrival is not None and arrival.method == "socket":
        notes.append("the observer's echo did not reach the VM (the return path through the NAT is broken)")
    if result.sent and result.source_port is not None:
        notes.append(f"the VM sent from {probe.source}:{result.source_port}")
    return EgressObservation(
        probe=probe,
        nonce=nonce,
        arrived=arrival is not None,
        seen_source=arrival.source if arrival else None,
        seen_port=arrival.port if arrival else None,
        icmp_error=result.icmp_error,
        sender_error=None if result.sent else (result.error or "not sent"),
        timeout_s=timeout,
        method=arrival.method if arrival else ("sniff" if observer.sniffing else "socket"),
        other_arrivals=tuple(notes),
    )
