"""Targets that differ between two runs of an unchanged site only by a port (no pytest here).

A simulator or an observer may listen on an ephemeral port that changes on every run
(``cp-1/eth1 -> observer 192.168.10.5:40123``); such targets are the same target. The other
volatile parts of a run (durations, timestamps, nonces, pids, the node ids) are never compared at
all: runs are compared by (check id, target), outcome and the facts of :mod:`.watched`.
"""

from __future__ import annotations

import re

# any ":port" after an address or a name
_ANY_PORT = re.compile(r"(?<=[\w\]]):\d{1,5}\b")


def without_ports(target: str) -> str:
    """``target`` with every ``:port`` replaced: two targets equal here differ only in a port."""
    return _ANY_PORT.sub(":<port>", target)


def port_numbers(target: str) -> tuple[int, ...]:
    return tuple(int(m.group()[1:]) for m in _ANY_PORT.finditer(target))
