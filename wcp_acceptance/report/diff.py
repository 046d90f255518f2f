"""What changed between two runs of a site: new failures, fixed, still failing (no pytest here).

Runs are compared by (check id, target), never by node id, so renaming a test function does not
turn into a change. Both sides are summary.json data (schema 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BAD = ("failed", "error")


@dataclass(frozen=True)
class Change:
    check_id: str
    target: str
    before: str
    after: str
    cause: str | None = None

    def __str__(self) -> str:
        because = f": {self.cause}" if self.cause else ""
        return f"{self.check_id} [{self.target}] {self.before} -> {self.after}{because}"


@dataclass(frozen=True)
class RunDiff:
    """The change from ``before`` (a baseline) to ``after``."""

    before_label: str
    new_failures: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    still_failing: list[Change] = field(default_factory=list)

    @property
    def worse(self) -> bool:
        return bool(self.new_failures)


def _outcomes(summary: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(str(t["check_id"]), str(t["target"])): t for t in summary.get("tests", [])}


def diff_summaries(before: Mapping[str, Any], after: Mapping[str, Any], *, label: str = "baseline") -> RunDiff:
    old, new = _outcomes(before), _outcomes(after)
    result = RunDiff(label)
    for key in sorted(new):
        now = new[key]
        then = old.get(key)
        was = str(then["outcome"]) if then else "absent"
        change = Change(key[0], key[1], was, str(now["outcome"]), now.get("cause"))
        if now["outcome"] in BAD:
            (result.still_failing if was in BAD else result.new_failures).append(change)
        elif now["outcome"] == "passed" and was in BAD:
            result.fixed.append(change)
    return result
