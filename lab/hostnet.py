"""A normalised snapshot of the host namespace's network state, to prove the lab leaves no trace.

``snapshot()`` reads addresses, links, rules and routes (IPv4 and IPv6, every table), the whole
nftables ruleset, the named network namespaces, the tree under ``/etc/netns`` and the host's
values of the sysctls the lab sets in its namespaces. Counters,
statistics, lifetimes, expiry timers and nftables handles are dropped, so two snapshots of an
unchanged host compare equal. ``diff(a, b)`` lists what appeared and disappeared, one line each.

Only reads: nothing here changes the host.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IP = "/usr/sbin/ip"
NFT = "/usr/sbin/nft"
NETNS_RUN = Path("/run/netns")
NETNS_ETC = Path("/etc/netns")

# Values that change on an idle host: traffic counters, address lifetimes, route/neighbour timers.
_VOLATILE = frozenset({
    "stats", "stats64", "valid_life_time", "preferred_life_time", "expires", "cacheinfo", "packets", "bytes",
    "handle", "metainfo", "used", "age",
})

_COMMANDS: dict[str, list[str]] = {
    "addr": [IP, "-j", "addr", "show"],
    "link": [IP, "-j", "link", "show"],
    "rule": [IP, "-j", "-4", "rule", "show"],
    "rule6": [IP, "-j", "-6", "rule", "show"],
    "route": [IP, "-j", "-4", "route", "show", "table", "all"],
    "route6": [IP, "-j", "-6", "route", "show", "table", "all"],
    "nft": [NFT, "-j", "list", "ruleset"],
}


# The host's values of every sysctl the lab sets inside its namespaces.
SYSCTLS = (
    "net/ipv4/ip_forward", "net/ipv4/icmp_errors_use_inbound_ifaddr", "net/ipv4/icmp_ratelimit",
    "net/ipv4/conf/all/rp_filter",
    "net/ipv4/conf/default/rp_filter", "net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6",
)


class SnapshotError(RuntimeError):
    """A host read failed or did not finish in time."""


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _canon(items: list[Any]) -> tuple[str, ...]:
    return tuple(sorted(json.dumps(item, sort_keys=True) for item in items))


def _json(argv: list[str], timeout: float) -> list[Any]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise SnapshotError(f"{' '.join(argv)}: did not finish within {timeout} s") from None
    if done.returncode != 0:
        raise SnapshotError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    text = done.stdout.strip()
    if not text:
        return []
    data = json.loads(text)
    if isinstance(data, dict) and "nftables" in data:
        data = [obj for obj in data["nftables"] if "metainfo" not in obj]
    return list(data)


def _etc_tree() -> list[str]:
    if not NETNS_ETC.is_dir():
        return []
    out = []
    for root, dirs, files in os.walk(NETNS_ETC):
        rel = Path(root).relative_to(NETNS_ETC)
        out += [f"{rel / d}/" for d in dirs] + [str(rel / f) for f in files]
    return sorted(p.removeprefix("./") for p in out)


def _read_sysctl(key: str) -> str:
    try:
        return Path("/proc/sys", key).read_text().strip()
    except OSError:
        return "(absent)"


@dataclass(frozen=True)
class HostNetSnapshot:
    """Each section is a sorted tuple of canonical JSON lines (order-insensitive, volatile fields dropped)."""

    sections: dict[str, tuple[str, ...]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostNetSnapshot) and self.sections == other.sections

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.sections.items())))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(lines)}" for name, lines in self.sections.items())
        return f"<HostNetSnapshot {sizes}>"


def snapshot(*, timeout: float = 10.0) -> HostNetSnapshot:
    """Read the host namespace's network state (see the module docstring)."""
    sections = {name: _canon(_strip(_json(argv, timeout))) for name, argv in _COMMANDS.items()}
    try:
        netns = sorted(p.name for p in NETNS_RUN.iterdir())
    except FileNotFoundError:
        netns = []
    sections["netns"] = _canon(netns)
    sections["etc_netns"] = _canon(_etc_tree())
    sections["sysctl"] = _canon([f"{key}={_read_sysctl(key)}" for key in SYSCTLS])
    return HostNetSnapshot(sections)


def diff(before: HostNetSnapshot, after: HostNetSnapshot, *,
         netns_filter: Callable[[str], bool] | None = None) -> list[str]:
    """What changed, one line per item: ``<section>: + <json>`` (appeared) or ``- <json>`` (gone).

    ``netns_filter(name)`` limits the ``netns`` and ``etc_netns`` sections to the namespaces it
    accepts (e.g. one lab's ``<prefix>-`` when other programs create namespaces concurrently);
    every other section is compared in full.
    """
    lines: list[str] = []
    for name in sorted(set(before.sections) | set(after.sections)):
        old = Counter(before.sections.get(name, ()))
        new = Counter(after.sections.get(name, ()))
        if netns_filter is not None and name in {"netns", "etc_netns"}:
            def keep(line: str) -> bool:
                return netns_filter(str(json.loads(line)).split("/", 1)[0])

            old = Counter({k: v for k, v in old.items() if keep(k)})
            new = Counter({k: v for k, v in new.items() if keep(k)})
        lines += [f"{name}: - {line}" for line in sorted((old - new).elements())]
        lines += [f"{name}: + {line}" for line in sorted((new - old).elements())]
    return lines
