"""Every per-VM observation a run needs, made once and concurrently, then looked up by probe.

The VMs are independent hosts, so they are observed at the same time: one lane per VM (bounded by
``max_vms``), and inside a lane at most ``channels_per_vm`` commands at once, each on its own SSH
channel of the VM's one connection (SSH multiplexes channels; sshd's default ``MaxSessions`` is 10).
A dead VM then costs one connect timeout for the whole run instead of one per VM.

What is made is what the per-probe calls would make in a serial run: the same probe
functions with the same timeouts; an :class:`ObservationError` is kept for its probe and raised
again (as a fresh copy) when that probe is looked up, so every outcome stays what it was.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory.model import Timeouts
from wcp_acceptance.observations import DnsObservation, EgressObservation, ManagerTlsObservation, ResolverObservation
from wcp_acceptance.plan import return_path_destinations
from wcp_acceptance.probes.dns import resolve_from_vm
from wcp_acceptance.probes.egress import observe_egress
from wcp_acceptance.probes.manager_tls import observe_manager_tls
from wcp_acceptance.probes.observer import EgressObserver
from wcp_acceptance.probes.resolver import resolve_with_vm_resolver
from wcp_acceptance.probes.vmnet import observe_clock, observe_mtu, observe_ntp, observe_return_path
from wcp_acceptance.targets import ClockProbe, DnsProbe, EgressProbe, ManagerTlsProbe, MtuProbe, NtpProbe, ResolverProbe
from wcp_acceptance.vmnet_records import ClockObservation, MtuObservation, NtpObservation, ReturnPathObservation
from wcp_acceptance.vmpool import VmPool, VmRouting, route_pairs

Kind = Literal["A", "PTR", "resolver", "egress", "routing", "manager_tls", "return_path", "clock", "ntp", "mtu"]
Observed = (DnsObservation | ResolverObservation | EgressObservation | VmRouting | ManagerTlsObservation
            | ReturnPathObservation | ClockObservation | NtpObservation | MtuObservation)

MAX_VMS = 16  # lanes at once: more VMs than this wait for a free lane
CHANNELS_PER_VM = 4  # commands at once on one VM's connection
KIND_ORDER: tuple[Kind, ...] = ("routing", "A", "PTR", "resolver", "egress", "manager_tls")  # the order of the tests
# kinds that ask nothing of the DNS servers or the observer share a wave with an earlier kind: the return path,
# clock and path-MTU probes (quick commands) with the routing read, the NTP query (a python3 sender, like the A
# queries) with the A queries, on the channels those leave free. Their peers are not the DNS servers, so they
# cannot use up the per-peer ICMP allowance the DNS probes need.
SAME_WAVE: dict[Kind, Kind] = {"return_path": "routing", "clock": "routing", "mtu": "routing", "ntp": "A"}


def wave_of(kind: Kind) -> int:
    """The wave (index into KIND_ORDER) a kind is observed in on its VM."""
    return KIND_ORDER.index(SAME_WAVE.get(kind, kind))


@dataclass(frozen=True)
class Wanted:
    """One observation to make: ``kind`` of ``probe`` (for ``routing``, the probe is the VM's name)."""

    kind: Kind
    probe: DnsProbe | ResolverProbe | EgressProbe | ManagerTlsProbe | ClockProbe | NtpProbe | MtuProbe | str

    @property
    def vm(self) -> str:
        return self.probe if isinstance(self.probe, str) else self.probe.vm


def resolver_timeout(timeouts: Timeouts) -> float:
    """The resolver may try several servers in turn: allow it a few DNS timeouts, still bounded."""
    return timeouts.dns * 2 + 1


def observe_one(pool: VmPool, wanted: Wanted, timeouts: Timeouts, observer: EgressObserver | None) -> Observed:
    """Make one observation, as the per-test fixture would (raises ObservationError if it cannot)."""
    probe = wanted.probe
    if wanted.kind == "routing" and isinstance(probe, str):
        return pool.routing(probe)
    if wanted.kind in ("A", "PTR") and isinstance(probe, DnsProbe):
        return resolve_from_vm(pool.runner(probe.vm), probe, wanted.kind, timeouts.dns)
    if wanted.kind == "resolver" and isinstance(probe, ResolverProbe):
        return resolve_with_vm_resolver(pool.runner(probe.vm), probe, resolver_timeout(timeouts))
    if wanted.kind == "egress" and isinstance(probe, EgressProbe) and observer is not None:
        return observe_egress(pool.runner(probe.vm), observer, probe, timeouts.egress)
    if wanted.kind == "manager_tls" and isinstance(probe, ManagerTlsProbe):
        return observe_manager_tls(pool.runner(probe.vm), probe, timeouts.connect)
    vmnet = _observe_vmnet(pool, wanted, timeouts)
    if vmnet is not None:
        return vmnet
    raise ValueError(f"cannot observe {wanted.kind} of {probe!r}")


def ping_wait(timeouts: Timeouts) -> int:
    """ping -W takes whole seconds: the egress timeout, rounded up, 1 to 10."""
    return min(10, max(1, math.ceil(timeouts.egress)))


def _observe_vmnet(pool: VmPool, wanted: Wanted, timeouts: Timeouts) -> Observed | None:
    """The return-path, clock, NTP and path-MTU observations (None: not one of those)."""
    probe = wanted.probe
    if wanted.kind == "return_path" and isinstance(probe, str):
        destinations = [address for address, _ in return_path_destinations(pool.inventory)]
        vm = pool.vm(probe)  # what the VM's routing read asks anyway is taken from it, the rest asked beside it
        return observe_return_path(pool.runner(probe), vm, destinations, route_pairs(pool.inventory, vm),
                                   lambda: pool.routing(probe).raw)
    if wanted.kind == "clock" and isinstance(probe, ClockProbe):
        return observe_clock(pool.runner(probe.vm), probe)
    if wanted.kind == "ntp" and isinstance(probe, NtpProbe):
        return observe_ntp(pool.runner(probe.vm), probe, timeouts.egress)
    if wanted.kind == "mtu" and isinstance(probe, MtuProbe):
        return observe_mtu(pool.runner(probe.vm), probe, ping_wait(timeouts))
    return None


class Observations:
    """What :func:`observe_all` made, keyed by (kind, probe); thread-safe to fill."""

    def __init__(self) -> None:
        self._made: dict[Wanted, Observed | BaseException] = {}
        self._lock = threading.Lock()

    def put(self, wanted: Wanted, outcome: Observed | BaseException) -> None:
        with self._lock:
            self._made[wanted] = outcome

    def __contains__(self, wanted: object) -> bool:
        return wanted in self._made

    def update(self, other: Observations) -> None:
        """Add what another :func:`observe_all` made (the egress probes, made once the observer listens)."""
        with self._lock, other._lock:
            self._made.update(other._made)

    def find(self, kind: Kind, match: Callable[[object], bool]) -> Observed | None:
        """A made observation of ``kind`` whose probe ``match`` accepts (None if none, or it could not be made)."""
        with self._lock:
            made = [o for w, o in self._made.items() if w.kind == kind and match(w.probe)]
        return next((o for o in made if not isinstance(o, BaseException)), None)

    def __len__(self) -> int:
        return len(self._made)

    def get(self, wanted: Wanted) -> Observed:
        """The observation made for ``wanted``; its ObservationError raised again if it could not be made."""
        outcome = self._made[wanted]
        if isinstance(outcome, ObservationError):
            raise ObservationError(outcome.target, outcome.cause, outcome.evidence)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _lane(pool: VmPool, wants: Sequence[Wanted], timeouts: Timeouts, observer: EgressObserver | None,
          into: Observations, channels: int) -> None:
    def one(wanted: Wanted) -> None:
        try:
            into.put(wanted, observe_one(pool, wanted, timeouts, observer))
        except Exception as error:  # kept for its probe: its test reports it, as a serial run would
            into.put(wanted, error)

    try:
        pool.connection(wants[0].vm)  # connect once, before the channels race for it
    except ObservationError as error:
        for wanted in wants:
            into.put(wanted, error)
        return
    if channels <= 1 or len(wants) == 1:
        for wanted in wants:
            one(wanted)
        return
    # One kind after the other, as the tests run them: what one kind sends never overtakes the kind
    # before it. A VM's packets to one server meet the same state as in a serial run (the kernel's
    # per-peer ICMP rate limit: getent's retries must not use up the "port unreachable" answers the
    # DNS probes before them get).
    with ThreadPoolExecutor(max_workers=min(channels, len(wants)), thread_name_prefix=f"obs-{wants[0].vm}") as lanes:
        for wave in range(len(KIND_ORDER)):
            list(lanes.map(one, [w for w in wants if wave_of(w.kind) == wave]))


def observe_all(
    pool: VmPool,
    wants: Iterable[Wanted],
    timeouts: Timeouts,
    observer: EgressObserver | None = None,
    *,
    max_vms: int = MAX_VMS,
    channels_per_vm: int = CHANNELS_PER_VM,
    lane: Callable[..., None] = _lane,
) -> Observations:
    """Observe every ``wants`` entry, the VMs concurrently; on each VM one kind after the other."""
    by_vm: dict[str, list[Wanted]] = {}
    for wanted in dict.fromkeys(wants):
        by_vm.setdefault(wanted.vm, []).append(wanted)
    for lane_wants in by_vm.values():
        lane_wants.sort(key=lambda w: wave_of(w.kind))
    made = Observations()
    if not by_vm:
        return made
    executor = ThreadPoolExecutor(max_workers=max(1, min(max_vms, len(by_vm))), thread_name_prefix="obs-vm")
    try:
        futures = [executor.submit(lane, pool, lane_wants, timeouts, observer, made, channels_per_vm)
                   for lane_wants in by_vm.values()]
        for future in futures:
            future.result()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)  # a signal here must not wait for every lane
    return made
