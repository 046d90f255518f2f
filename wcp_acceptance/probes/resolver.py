"""A name through the VM's own resolver (nsswitch + /etc/resolv.conf), as the VM's processes see it."""

from __future__ import annotations

import math

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.observations import TIMED_OUT, ResolverObservation
from wcp_acceptance.targets import ResolverProbe

# getent: 0 found, 2 the key was not found; 1 and 3 mean getent itself could not do the lookup.
# Under coreutils timeout, 124 means the resolver was still waiting: an answer of its own (none in time).
_GETENT_ANSWERED = (0, 2, TIMED_OUT)


def parse_getent_ahosts(text: str) -> tuple[str, ...]:
    """The distinct addresses in ``getent ahostsv4`` output, in the order the resolver gave them."""
    addresses: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] not in addresses:
            addresses.append(fields[0])
    return tuple(addresses)


def resolve_with_vm_resolver(runner: ReadOnlyRunner, probe: ResolverProbe, timeout: float = 5.0) -> ResolverObservation:
    """``timeout <s> getent ahostsv4 <name>`` on the VM, with its /etc/resolv.conf kept as evidence.

    "Not found" (exit 2) and "no answer within ``timeout``" (exit 124) are observations; a getent
    that could not run at all raises :class:`ObservationError`. The bound keeps a resolver that
    retries for tens of seconds (resolv.conf ``timeout``/``attempts``) inside the check's time.
    """
    seconds = max(1, min(60, math.ceil(timeout)))
    result = runner.run(["timeout", str(seconds), "getent", "ahostsv4", probe.name])
    if result.exit_status not in _GETENT_ANSWERED:
        raise ObservationError(
            str(probe),
            f"getent ahostsv4 exited {result.exit_status} (not an answer)"
            + (f": {result.stderr.strip()[:200]}" if result.stderr.strip() else ""),
            (result.evidence(),),
        )
    resolv = runner.run(["cat", "/etc/resolv.conf"])
    resolv_conf = resolv.stdout
    if not resolv.ok:
        resolv_conf = f"(cat /etc/resolv.conf exited {resolv.exit_status}: {resolv.stderr.strip()})"
    return ResolverObservation(
        probe=probe,
        addresses=parse_getent_ahosts(result.stdout) if result.ok else (),
        exit_status=result.exit_status,
        resolv_conf=resolv_conf,
        timeout_s=float(seconds),
    )
