"""What the return-path, clock, NTP and path-MTU probes saw on a control-plane VM: plain frozen records.

They sit below both the probes that make them (:mod:`wcp_acceptance.probes.vmnet`) and the checks that
judge them (:mod:`wcp_acceptance.checks.return_path`, :mod:`~wcp_acceptance.checks.clock`,
:mod:`~wcp_acceptance.checks.mtu`). A probe that could look returns one even when the VM is wrong; it
raises ObservationError only when it could not look at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wcp_acceptance.targets import ClockProbe, MtuProbe, NtpProbe


@dataclass(frozen=True)
class RouteAnswer:
    """The VM's ``ip -j route get DST from SRC``: its exit status, stdout and stderr."""

    status: int | None
    out: str
    err: str


@dataclass(frozen=True)
class ReturnPathObservation:
    """One VM's rp_filter values (``all`` and each interface; None: unreadable) and its route-get answers."""

    vm: str
    rp_filter: dict[str, int | None]
    routes: dict[tuple[str, str], RouteAnswer] = field(default_factory=dict)  # (dst, src) -> answer
    raw: str = ""  # the command's evidence block

    def effective_rp_filter(self, iface: str) -> int | None:
        """What the kernel applies on ``iface``: max(conf/all/rp_filter, conf/<iface>/rp_filter)."""
        mine, every = self.rp_filter.get(iface), self.rp_filter.get("all")
        if mine is None or every is None:
            return None
        return max(mine, every)


@dataclass(frozen=True)
class ClockObservation:
    """The VM's clock (``date +%s.%N``), read between two readings of the runner's clock."""

    probe: ClockProbe
    vm_time: float
    runner_before: float
    runner_after: float
    raw: str = ""

    @property
    def offset_s(self) -> float:
        """VM minus runner, at the midpoint of the round trip (half the round trip subtracted)."""
        return self.vm_time - (self.runner_before + self.runner_after) / 2

    @property
    def error_bound_s(self) -> float:
        """The most the estimate can be off: half the round trip."""
        return (self.runner_after - self.runner_before) / 2


NtpOutcome = Literal["answer", "no_reply", "icmp_unreachable", "send_error", "bad_reply"]


@dataclass(frozen=True)
class NtpObservation:
    """One NTP (mode 3) query from the VM's management address, and what came back."""

    probe: NtpProbe
    outcome: NtpOutcome
    stratum: int | None = None
    leap: int | None = None  # 3: the server's clock is not synchronised
    server_time: float | None = None  # the reply's transmit timestamp, Unix seconds
    runner_before: float | None = None
    runner_after: float | None = None
    detail: str = ""
    timeout_s: float = 0.0

    @property
    def server_offset_s(self) -> float | None:
        """The server's clock minus the runner's (midpoint of the round trip), when it answered."""
        if self.server_time is None or self.runner_before is None or self.runner_after is None:
            return None
        return self.server_time - (self.runner_before + self.runner_after) / 2


@dataclass(frozen=True)
class PingTry:
    """One don't-fragment ping: the packet size (payload + 28), whether a reply came, and what ping said."""

    size: int
    ok: bool
    detail: str = ""
    reported_mtu: int | None = None  # "Frag needed and DF set (mtu = 1400)" / "message too long, mtu=1400"


@dataclass(frozen=True)
class MtuObservation:
    """The expected size's don't-fragment ping and, when it failed, a short search for the largest that passes."""

    probe: MtuProbe
    tries: tuple[PingTry, ...]
    wait_s: int = 1

    @property
    def expected(self) -> PingTry:
        return self.tries[0]

    @property
    def largest_passed(self) -> int | None:
        sizes = [t.size for t in self.tries if t.ok]
        return max(sizes) if sizes else None

    @property
    def smallest_failed(self) -> int | None:
        sizes = [t.size for t in self.tries if not t.ok]
        return min(sizes) if sizes else None

    @property
    def reported_mtu(self) -> int | None:
        return next((t.reported_mtu for t in self.tries if t.reported_mtu is not None), None)
