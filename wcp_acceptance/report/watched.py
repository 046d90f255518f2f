"""The facts of a passing observation worth comparing between runs (no pytest here).

A passing test keeps what it observed; most of that text also holds what changes on every run
(how long it took, which pool member answered, the sender's port). Only the facts below are
compared, so a diff reports "NCP restarted 7 times since" or "the certificate was renewed", never
"connected in 0.03 s instead of 0.02 s".
"""

from __future__ import annotations

import re
from collections.abc import Callable

_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def _one(pattern: str) -> Callable[[str], str | None]:
    regex = re.compile(pattern)

    def find(text: str) -> str | None:
        match = regex.search(text)
        return match.group(1).strip() if match else None

    return find


def _sorted_list(pattern: str) -> Callable[[str], str | None]:
    find = _one(pattern)

    def listed(text: str) -> str | None:
        found = find(text)
        return ", ".join(sorted(p.strip() for p in found.split(","))) if found else None

    return listed


def _addresses(text: str) -> str | None:
    return ", ".join(sorted(set(_IPV4.findall(text)))) or None


# check id -> (fact, how to read it from the passing observed text)
WATCHED: dict[str, tuple[tuple[str, Callable[[str], str | None]], ...]] = {
    "WCP-DNS-001": (("addresses", _addresses),),
    "WCP-DNS-002": (("names", _sorted_list(r"^PTR (.+)$")),),
    "WCP-DNS-003": (("addresses", _addresses),),
    "WCP-VIP-002": (("issuer", _one(r"issued by (.+), valid until")),
                    ("certificate valid until", _one(r"valid until (\S+)"))),
    "WCP-VIP-003": (("gitVersion", _one(r"gitVersion (\S+)")),),
    "WCP-NCP-001": (("restarts", _one(r"\((\d+) restarts?\)")),),
    "WCP-NCP-002": (("nsx_api_managers", _sorted_list(r"nsx_api_managers = (.+)$")),),
    # slb
    "WCP-SLB-001": (("virtual server", _one(r" id=(\S+)>")),),
    "WCP-SLB-002": (("members", _addresses),),
}


def facts(check_id: str, observed: str | None) -> dict[str, str | None]:
    """The watched facts of ``check_id`` in a passing ``observed`` text (empty for a check not watched)."""
    return {name: read(observed or "") for name, read in WATCHED.get(check_id, ())}


def changed_facts(check_id: str, before: str | None, after: str | None) -> list[str]:
    """``restarts 0 -> 7``: each watched fact that differs (none when either text is missing)."""
    if not before or not after:
        return []
    old, new = facts(check_id, before), facts(check_id, after)
    return [f"{name} {old[name]} -> {new[name]}" for name in old if old[name] != new[name]]
