"""Trends over a site's last runs: which (check, target) flapped, and each check's outcome per run (no pytest here).

A target *flaps* when its outcome turns between passed and failed/error at least twice within the
window (passed, failed, passed; or failed, passed, failed). One turn is a change, not a flap.
Runs where the target was not observed (not run, skipped, not selected) are left out of the count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wcp_acceptance.report.volatile import port_numbers, without_ports

BAD = ("failed", "error")
OBSERVED = ("passed", *BAD)
TREND_RUNS = 10  # the window of the site index and of flapping, unless told otherwise
Key = tuple[str, str]


def tests_by_key(summary: Mapping[str, Any]) -> dict[Key, Mapping[str, Any]]:
    return {(str(t["check_id"]), str(t["target"])): t for t in summary.get("tests", [])}


def pair_keys(before: Iterable[Key], after: Iterable[Key]) -> dict[Key, Key]:
    """Which key of ``after`` each key of ``before`` is: the same key, else the one that differs only in its
    ports (an observer or VIP on an ephemeral port), paired in port order when several do; unpaired if unsure."""
    old, new = list(dict.fromkeys(before)), set(after)
    mapping = {k: k for k in old if k in new}
    taken = set(mapping.values())
    groups: dict[Key, tuple[list[Key], list[Key]]] = defaultdict(lambda: ([], []))
    for k in old:
        if k not in mapping:
            groups[(k[0], without_ports(k[1]))][0].append(k)
    for k in new - taken:
        groups[(k[0], without_ports(k[1]))][1].append(k)
    for olds, news in groups.values():
        if olds and len(olds) == len(news):
            def by_port(key: Key) -> tuple[tuple[int, ...], str]:
                return port_numbers(key[1]), key[1]
            mapping.update(zip(sorted(olds, key=by_port), sorted(news, key=by_port), strict=True))
    return mapping


def flips(outcomes: Iterable[str]) -> int:
    """How often the observed outcomes turn between passed and failed/error."""
    seen = [o in BAD for o in outcomes if o in OBSERVED]
    return sum(1 for a, b in zip(seen, seen[1:], strict=False) if a != b)


@dataclass(frozen=True)
class Flap:
    """A (check, target) whose outcome turned at least twice over the window, oldest run first."""

    check_id: str
    target: str
    outcomes: tuple[str, ...]

    @property
    def flips(self) -> int:
        return flips(self.outcomes)

    def __str__(self) -> str:
        return (f"{self.check_id} [{self.target}] flapped: turned {self.flips} times over the last "
                f"{len(self.outcomes)} runs ({', '.join(self.outcomes)}; oldest first)")

    def as_json(self) -> dict[str, object]:
        return {"check_id": self.check_id, "target": self.target, "flips": self.flips,
                "outcomes": list(self.outcomes)}


def series(summaries: Sequence[Mapping[str, Any]]) -> dict[Key, list[str]]:
    """Each (check, target) of the runs, named as in the newest run, with its outcome per run, oldest first
    (``absent`` where the run did not have it)."""
    if not summaries:
        return {}
    newest = tests_by_key(summaries[-1])
    out: dict[Key, list[str]] = {}
    for n, summary in enumerate(summaries):
        tests = tests_by_key(summary)
        names = pair_keys(tests, newest)
        for key, test in tests.items():
            out.setdefault(names.get(key, key), ["absent"] * len(summaries))[n] = str(test["outcome"])
    return out


def flapping(summaries: Sequence[Mapping[str, Any]], *, window: int = TREND_RUNS) -> list[Flap]:
    """The (check, target) that flapped over the last ``window`` runs (``summaries`` oldest first)."""
    recent = list(summaries)[-window:] if window > 0 else []
    found = [Flap(key[0], key[1], tuple(outcomes)) for key, outcomes in series(recent).items()
             if flips(outcomes) >= 2]
    return sorted(found, key=lambda f: (f.check_id, f.target))


@dataclass(frozen=True)
class CheckCell:
    """One check in one run: how many of its targets had each outcome."""

    counts: Mapping[str, int]

    @property
    def outcome(self) -> str:
        """The worst outcome among the targets: failed > error > not_run > skipped > passed; ``absent``."""
        for outcome in ("failed", "error", "not_run", "skipped", "passed"):
            if self.counts.get(outcome):
                return outcome
        return "absent"

    @property
    def text(self) -> str:
        total = sum(self.counts.values())
        outcome = self.outcome
        if outcome == "absent":
            return "-"
        if outcome == "passed":
            return f"passed {total}"
        return f"{outcome} {self.counts[outcome]}/{total}"


def check_cells(summary: Mapping[str, Any]) -> dict[str, CheckCell]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for test in summary.get("tests", []):
        counts[str(test["check_id"])][str(test["outcome"])] += 1
    return {check: CheckCell(dict(c)) for check, c in counts.items()}
