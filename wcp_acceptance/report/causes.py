"""Root causes: the failures of a run grouped so that each distinct cause is said once (no pytest here).

A site with one broken thing usually fails many targets (the seed's shared DNS address fails 27 of
them, through four checks). Three rules turn the per-target causes into root causes:

1. **Same cause**: causes that read the same once addresses, names and numbers are set aside
   (``192.168.10.10 has no PTR ...`` and ``192.168.10.11 has no PTR ...``) are one cause.
2. **Same diagnosis**: causes of different checks that share a diagnosis clause naming the same
   address or name (``management and workload DNS share 192.168.10.10``) are one root cause.
3. **Named consequence**: a cause that names another check (``see ... WCP-DNS-001``) is explained by
   that check's failures on the same VM that name one of its addresses.

Each root cause is headed by the cause most of its targets support; the others are listed under it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BAD = ("failed", "error")

_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?::\d+)?\b")
_NAME = re.compile(r"\b(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_CHECK_ID = re.compile(r"\bWCP-[A-Z]+-\d{3}\b")
_CLAUSE_SPLIT = re.compile(r"[;:()]|,\s+(?:so|where|which|because|or|and|but)\s+|\.\s+")
_MIN_CLAUSE_WORDS = 4


def normalise(text: str) -> str:
    """The cause with addresses, names and numbers set aside, case and spacing folded (rule 1)."""
    text = _ADDRESS.sub("<address>", text)
    text = _NAME.sub("<name>", text)
    text = _NUMBER.sub("<n>", text)
    return " ".join(text.lower().split())


def subjects(text: str) -> set[str]:
    """The addresses and names a cause speaks of."""
    return {m.group(0).lower() for m in _ADDRESS.finditer(text)} | {
        m.group(0).lower() for m in _NAME.finditer(_ADDRESS.sub(" ", text))}


def diagnosis_clauses(text: str) -> set[str]:
    """The clauses of a cause that name an address or name and say something about it (rule 2)."""
    clauses = set()
    for part in _CLAUSE_SPLIT.split(text):
        clause = " ".join(part.lower().split()).strip(" ,.")
        if len(clause.split()) >= _MIN_CLAUSE_WORDS and subjects(clause):
            clauses.add(clause)
    return clauses


def vm_of(target: str) -> str:
    """The VM (or endpoint) a target belongs to: ``cp-1/eth0 -> x`` and ``cp-1 resolver -> x`` are cp-1."""
    return target.split("/", 1)[0].split(" ", 1)[0]


@dataclass(frozen=True)
class Failure:
    """One target that failed or could not be observed, as the report lists it."""

    check_id: str
    target: str
    outcome: str
    cause: str
    observed: str
    expected: str
    evidence: tuple[str, ...]
    title: str = ""

    @classmethod
    def of(cls, test: Mapping[str, Any]) -> Failure:
        cause = str(test.get("cause") or "") or f"no cause given (observed: {test.get('observed') or 'nothing'})"
        return cls(str(test["check_id"]), str(test["target"]), str(test["outcome"]), cause,
                   str(test.get("observed") or ""), str(test.get("expected") or ""),
                   tuple(str(e) for e in test.get("evidence") or ()), str(test.get("title") or ""))


@dataclass(frozen=True)
class Variant:
    """One wording of a cause within a root cause, and the failures that gave it."""

    text: str  # as the first failure gave it
    failures: tuple[Failure, ...]

    @property
    def wordings(self) -> int:
        """How many different texts read as this one (other addresses or names)."""
        return len({f.cause for f in self.failures})


@dataclass(frozen=True)
class RootCause:
    """One distinct cause: its headline, the other wordings it explains, every target it explains."""

    number: int
    headline: Variant
    others: tuple[Variant, ...]
    failures: tuple[Failure, ...]

    @property
    def text(self) -> str:
        return self.headline.text

    @property
    def by_check(self) -> dict[str, int]:
        return dict(sorted(Counter(f.check_id for f in self.failures).items()))

    @property
    def by_outcome(self) -> dict[str, int]:
        counts = Counter(f.outcome for f in self.failures)
        return {o: counts[o] for o in BAD if counts[o]}

    @property
    def could_not_observe(self) -> bool:
        """Every target of this cause errored: the suite could not look, the site may be fine."""
        return all(f.outcome == "error" for f in self.failures)


class _Groups:
    """A small union-find over cause keys."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.parent = {k: k for k in keys}

    def find(self, key: str) -> str:
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _join_by_diagnosis(groups: _Groups, failures: Sequence[Failure], keys: Sequence[str]) -> None:
    owner: dict[str, str] = {}
    for failure, key in zip(failures, keys, strict=True):
        for clause in diagnosis_clauses(failure.cause):
            groups.join(owner.setdefault(clause, key), key)


def _join_consequences(groups: _Groups, failures: Sequence[Failure], keys: Sequence[str]) -> None:
    for failure, key in zip(failures, keys, strict=True):
        named = set(_CHECK_ID.findall(failure.cause)) - {failure.check_id}
        if not named:
            continue
        mine = subjects(failure.cause)
        for other, other_key in zip(failures, keys, strict=True):
            if other.check_id in named and vm_of(other.target) == vm_of(failure.target) and (
                    not mine or mine & subjects(other.cause)):
                groups.join(key, other_key)


def _headline(variants: Sequence[Variant], failures: Sequence[Failure]) -> Variant:
    """The wording most targets support: not a named consequence, sharing a diagnosis with most targets."""
    clauses = [diagnosis_clauses(f.cause) for f in failures]

    def support(variant: Variant) -> tuple[int, int, int, int]:
        mine = diagnosis_clauses(variant.text)
        backed = sum(1 for c in clauses if c & mine) if mine else 0
        consequence = bool(set(_CHECK_ID.findall(variant.text)) - {variant.failures[0].check_id})
        return (not consequence, backed, len(variant.failures), -len(variant.text))

    return max(variants, key=support)


def group_causes(tests: Iterable[Mapping[str, Any]]) -> list[RootCause]:
    """The root causes of the failed and errored tests (summary.json entries), most targets first."""
    failures = [Failure.of(t) for t in tests if t.get("outcome") in BAD]
    order = {id(f): n for n, f in enumerate(failures)}
    keys = [normalise(f.cause) for f in failures]
    groups = _Groups(keys)
    _join_by_diagnosis(groups, failures, keys)
    _join_consequences(groups, failures, keys)
    members: dict[str, dict[str, list[Failure]]] = {}
    for failure, key in zip(failures, keys, strict=True):
        members.setdefault(groups.find(key), {}).setdefault(key, []).append(failure)
    roots: list[tuple[Variant, tuple[Variant, ...], tuple[Failure, ...]]] = []
    for by_key in members.values():
        variants = [Variant(found[0].cause, tuple(found)) for found in by_key.values()]
        explained = tuple(sorted((f for v in variants for f in v.failures), key=lambda f: order[id(f)]))
        head = _headline(variants, explained)
        others = tuple(sorted((v for v in variants if v is not head), key=lambda v: -len(v.failures)))
        roots.append((head, others, explained))
    roots.sort(key=lambda r: (-len(r[2]), order[id(r[2][0])]))  # most targets first, then in run order
    return [RootCause(n, head, others, explained) for n, (head, others, explained) in enumerate(roots, start=1)]
