"""A WAN round trip between the suite and the site: the value, the mechanism, and putting it in place.

The suite runs in the jumpbox's namespace; a real one sits a WAN away from the Supervisor, so the
lab can add ``delay`` to every round trip over the jumpbox's ``eth0`` (SSH to the VMs, DNS, the API
simulators) and to nothing else (a VM's own DNS queries stay on the site's network).

Two mechanisms, chosen by trying inside the lab's namespace:

- ``netem``: ``tc qdisc replace dev eth0 root netem delay D`` where the kernel has netem; it holds
  the packets *leaving* ``eth0``.
- ``delay-line``: where it has not (``Specified qdisc kind is unknown``), one iptables rule sends
  every packet *arriving* on ``eth0`` to an NFQUEUE queue and :mod:`lab.delayline` holds each for
  ``D`` before accepting it. The rule has no ``--queue-bypass``: a dead delay line drops the
  jumpbox's traffic rather than quietly removing the delay. It holds the inbound direction because
  holding the jumpbox's own outbound packets in a queue keeps them charged to their sockets, and TCP
  small queues then lets a flow have only about two segments in flight per delay (a 1 MB upload took
  3.8 s at 20 ms instead of 0.16 s); the round trip grows by ``D`` either way.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .services import DelayLineProcess

IP = "/usr/sbin/ip"
TC = "/usr/sbin/tc"
IPTABLES = "/usr/sbin/iptables"
MAX_LATENCY_S = 1.0
QUEUE = 7
NETEM_LIMIT = 100_000  # packets netem may hold (its default, 1000, would drop a fast flow at 20 ms)

Mechanism = Literal["none", "netem", "delay-line"]
Choice = Literal["auto", "netem", "delay-line"]
CHOICES: tuple[Choice, ...] = ("auto", "netem", "delay-line")

_VALUE = re.compile(r"\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s)?\s*", re.IGNORECASE)
_NETEM_MISSING = ("specified qdisc kind is unknown", "unknown qdisc", "qdisc kind is unknown")


class LatencyError(ValueError):
    """A latency value or mechanism the lab cannot use (the message says what it accepts)."""


# ---- the value -------------------------------------------------------------------------------------
def parse_latency(text: str) -> float:
    """``20ms``, ``0.02s`` or ``0`` -> seconds (0 to :data:`MAX_LATENCY_S`)."""
    match = _VALUE.fullmatch(str(text))
    if match is None:
        raise LatencyError(f"latency {text!r} is not a duration: give milliseconds or seconds, e.g. 20ms or 0.02s")
    number, unit = float(match["number"]), (match["unit"] or "").lower()
    if not unit:
        if number != 0:
            raise LatencyError(f"latency {text!r} has no unit: write {match['number']}ms or {match['number']}s")
        return 0.0
    return check_latency(number / 1000 if unit == "ms" else number, text)


def check_latency(seconds: float, given: object = None) -> float:
    """``seconds`` if it is a usable latency, else :class:`LatencyError` (it names ``given`` when set)."""
    what = f"latency {given!r}" if given is not None else f"latency {seconds!r} s"
    if not isinstance(seconds, int | float) or seconds != seconds:  # noqa: PLR0124 - NaN
        raise LatencyError(f"{what} is not a number")
    if not 0 <= seconds <= MAX_LATENCY_S:
        raise LatencyError(f"{what} is out of range: 0 to {MAX_LATENCY_S * 1000:g} ms")
    return float(seconds)


def format_latency(seconds: float) -> str:
    return f"{seconds * 1000:g} ms"


# ---- the mechanism ---------------------------------------------------------------------------------
def netem_missing(stderr: str) -> bool:
    """Whether a failed ``tc qdisc ... netem`` says the kernel has no netem (rather than anything else)."""
    text = stderr.lower()
    return any(marker in text for marker in _NETEM_MISSING)


def choose(choice: Choice, tc_returncode: int | None, tc_stderr: str = "") -> Mechanism:
    """The mechanism for ``choice`` given how ``tc qdisc replace ... netem`` went (``None``: not tried).

    ``auto`` takes netem when tc succeeded and the delay line when the kernel has no netem; any other
    tc failure is an error (the lab would not be what was asked for), as is netem asked for and missing.
    """
    if choice not in CHOICES:
        raise LatencyError(f"unknown latency mechanism {choice!r} (one of {', '.join(CHOICES)})")
    if choice == "delay-line":
        return "delay-line"
    if tc_returncode is None:
        raise LatencyError("netem was not tried")
    if tc_returncode == 0:
        return "netem"
    if netem_missing(tc_stderr) and choice == "auto":
        return "delay-line"
    if netem_missing(tc_stderr):
        raise LatencyError(f"netem was asked for but this kernel has none: {tc_stderr.strip()}")
    raise LatencyError(f"tc could not add netem: {tc_stderr.strip() or f'exit {tc_returncode}'}")


def netem_argv(interface: str, seconds: float) -> list[str]:
    return [TC, "qdisc", "replace", "dev", interface, "root", "netem", "delay", f"{seconds * 1e6:.0f}us",
            "limit", str(NETEM_LIMIT)]


def delay_line_rule(interface: str, queue: int = QUEUE, *, action: str = "-A") -> list[str]:
    """The iptables rule that hands every packet arriving on ``interface`` to the delay line (no bypass)."""
    return [IPTABLES, "-w", "5", "-t", "mangle", action, "PREROUTING", "-i", interface, "-j", "NFQUEUE",
            "--queue-num", str(queue)]


def _in_netns(netns: str, argv: Sequence[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IP, "netns", "exec", netns, *argv], capture_output=True, text=True,  # noqa: S603
                          timeout=timeout, check=False)


# ---- putting it in place ---------------------------------------------------------------------------
@dataclass
class AppliedLatency:
    """The latency in force on ``interface`` of ``netns``; :meth:`remove` takes it away."""

    netns: str
    interface: str
    seconds: float
    mechanism: Mechanism
    delay_line: DelayLineProcess | None = None
    removed: bool = False

    @property
    def direction(self) -> str:
        return {"netem": "outbound", "delay-line": "inbound", "none": "none"}[self.mechanism]

    def problem(self) -> str | None:
        """Why the latency is not what it claims (the delay line is gone), or ``None``."""
        line = self.delay_line
        if line is None or line.running or self.removed:
            return None
        code = line.returncode
        return (f"the delay line exited (status {code}); packets arriving on {self.netns}:{self.interface} are "
                f"dropped until the lab is brought up again. Its log ({line.log_path}) ends: "
                f"{line.log().strip().splitlines()[-1:] or ['(empty)']}")

    def status(self) -> dict[str, Any]:
        line = self.delay_line
        return {
            "seconds": self.seconds, "text": format_latency(self.seconds), "mechanism": self.mechanism,
            "netns": self.netns, "interface": self.interface, "direction": self.direction,
            "delay_line": None if line is None else {"pid": line.started_pid, "running": line.running,
                                                     "returncode": line.returncode, "log": str(line.log_path)},
            "problem": self.problem(),
        }

    def remove(self) -> None:
        """Take the delay away (the namespace's deletion does as much; this is for a namespace that stays)."""
        self.removed = True
        if self.mechanism == "netem":
            _in_netns(self.netns, [TC, "qdisc", "del", "dev", self.interface, "root"])
        elif self.mechanism == "delay-line":
            _in_netns(self.netns, delay_line_rule(self.interface, action="-D"))
            if self.delay_line is not None:
                self.delay_line.stop()


def apply_latency(netns: str, seconds: float, workdir: Path, *, interface: str = "eth0",
                  choice: Choice = "auto", queue: int = QUEUE) -> AppliedLatency:
    """Add ``seconds`` to every round trip over ``interface`` of ``netns``: netem if the kernel has it,
    else the delay line (started and bound before its rule exists, so no packet waits for nobody)."""
    check_latency(seconds)
    if seconds == 0:
        return AppliedLatency(netns, interface, 0.0, "none")
    tried = None if choice == "delay-line" else _in_netns(netns, netem_argv(interface, seconds))
    mechanism = choose(choice, None if tried is None else tried.returncode, "" if tried is None else tried.stderr)
    if mechanism == "netem":
        return AppliedLatency(netns, interface, seconds, "netem")
    line = DelayLineProcess(netns, seconds, workdir, queue=queue)
    line.start()
    applied = AppliedLatency(netns, interface, seconds, "delay-line", line)
    try:
        done = _in_netns(netns, delay_line_rule(interface, queue))
        if done.returncode != 0:
            raise LatencyError(f"iptables could not add the delay line's rule in {netns}: {done.stderr.strip()}")
    except BaseException:
        applied.remove()
        raise
    return applied
