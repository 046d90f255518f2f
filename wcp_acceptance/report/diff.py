"""What changed between two runs of a site: new failures, fixed, still failing, flapping (no pytest here).

Runs are compared by (check id, target), never by node id, so renaming a test function does not
turn into a change; a target that differs only in a port (an observer or VIP on an ephemeral port)
is the same target. What changes on every run is never compared: durations, timestamps, nonces,
ports, pids, node ids; of a passing observation only the facts that matter are (NCP restarts, the
certificate's issuer and end date, ...: :mod:`wcp_acceptance.report.watched`). Both sides are
summary.json data (schema 2).

Exit codes for a change gate (:meth:`RunDiff.exit_code`):

- 0 nothing worse: no (check, target) fails or errors that did not before;
- 1 worse: at least one new failure, or a new could-not-observe error;
- 3 cannot tell: nothing got worse among what was compared, but the later run did not finish or did not
  reach a target that passed before;
- 4 unreadable input (a missing folder, no summary.json, not JSON, not a summary): :data:`UNREADABLE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wcp_acceptance.report.trend import BAD, OBSERVED, TREND_RUNS, Flap, flapping, pair_keys, tests_by_key
from wcp_acceptance.report.watched import changed_facts

NOTHING_WORSE, WORSE, CANNOT_TELL, UNREADABLE = 0, 1, 3, 4
EXIT_CODES = {
    NOTHING_WORSE: "nothing worse: no check fails or errors that did not before",
    WORSE: "worse: a new failure, or a new could-not-observe error",
    CANNOT_TELL: "cannot tell: the later run did not finish, or did not reach a target that passed before",
    UNREADABLE: "unreadable input: a run folder or summary.json that cannot be read",
}


@dataclass(frozen=True)
class Change:
    """One (check, target) whose outcome or observation differs between the runs."""

    check_id: str
    target: str
    before: str
    after: str
    cause: str | None = None
    observed_before: str | None = None
    observed_after: str | None = None
    before_target: str | None = None  # when the earlier run named the target with another port
    facts: tuple[str, ...] = ()  # passed both times: the watched facts that changed ("restarts 0 -> 7")

    def __str__(self) -> str:
        if self.before == self.after == "passed":
            return f"{self.check_id} [{self.target}] passed both times; {'; '.join(self.facts)}"
        because = f": {self.cause}" if self.cause else ""
        return f"{self.check_id} [{self.target}] {self.before} -> {self.after}{because}"

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {"check_id": self.check_id, "target": self.target, "before": self.before,
                                   "after": self.after}
        for name in ("cause", "observed_before", "observed_after", "before_target"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.facts:
            data["facts"] = list(self.facts)
        return data


@dataclass(frozen=True)
class RunDiff:
    """The change from ``before`` (a baseline) to ``after``."""

    before_label: str
    new_failures: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    still_failing: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)  # passed both times, but a watched fact changed
    unobserved: list[Change] = field(default_factory=list)  # observed before, selected now but not reached
    flapping: list[Flap] = field(default_factory=list)
    after_label: str = "this run"
    after_state: str = "finished"
    not_compared: int = 0  # in the baseline only: not selected now, or excluded (skipped) now
    notes: list[str] = field(default_factory=list)

    @property
    def worse(self) -> bool:
        return bool(self.new_failures)

    @property
    def undecided(self) -> bool:
        """Nothing compared got worse, but a target that passed before was not observed now."""
        return self.after_state != "finished" or any(c.before == "passed" for c in self.unobserved)

    @property
    def exit_code(self) -> int:
        if self.worse:
            return WORSE
        return CANNOT_TELL if self.undecided else NOTHING_WORSE

    @property
    def verdict(self) -> str:
        return EXIT_CODES[self.exit_code].split(":")[0]

    def line(self) -> str:
        """One line: ``since <label>: N new failures, M fixed, K still failing`` (and what else there is)."""
        parts = [f"{len(self.new_failures)} new failure{'s' if len(self.new_failures) != 1 else ''}",
                 f"{len(self.fixed)} fixed", f"{len(self.still_failing)} still failing"]
        if self.flapping:
            parts.append(f"{len(self.flapping)} flapping")
        if self.unobserved:
            parts.append(f"{len(self.unobserved)} not reached")
        return f"since {self.before_label}: {', '.join(parts)}"

    def render_text(self) -> str:
        lines = [f"{self.before_label} -> {self.after_label}", self.line()]
        lines += [f"note: {n}" for n in self.notes]
        sections: list[tuple[str, Sequence[object]]] = [
            ("new failures (failed or could not observe, not before)", self.new_failures),
            ("fixed", self.fixed),
            ("still failing", self.still_failing),
            ("flapping (turned at least twice over the recent runs)", self.flapping),
            ("a fact changed (passed both times)", self.changed),
            ("not reached this time", self.unobserved),
        ]
        for title, items in sections:
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  {item}" for item in items]
        if self.not_compared:
            lines.append(f"not compared: {self.not_compared} target(s) of {self.before_label} were not selected "
                         "or were excluded this time")
        lines.append(f"{self.verdict} (exit {self.exit_code}): {EXIT_CODES[self.exit_code].split(': ', 1)[1]}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        return {
            "before": self.before_label, "after": self.after_label, "after_state": self.after_state,
            "verdict": self.verdict, "exit_code": self.exit_code, "worse": self.worse, "line": self.line(),
            "new_failures": [c.as_json() for c in self.new_failures],
            "fixed": [c.as_json() for c in self.fixed],
            "still_failing": [c.as_json() for c in self.still_failing],
            "flapping": [f.as_json() for f in self.flapping],
            "changed": [c.as_json() for c in self.changed],
            "unobserved": [c.as_json() for c in self.unobserved],
            "not_compared": self.not_compared, "notes": list(self.notes),
        }


def _notes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    notes = []
    for key, what in (("inventory", "sites"), ("suite_version", "suite versions"),
                      ("catalogue_version", "check catalogues")):
        a, b = before.get(key), after.get(key)
        if a and b and a != b:
            notes.append(f"different {what}: {a} -> {b}")
    return notes


def diff_summaries(before: Mapping[str, Any], after: Mapping[str, Any], *, label: str = "baseline",
                   after_label: str = "this run", history: Sequence[Mapping[str, Any]] = (),
                   window: int = TREND_RUNS) -> RunDiff:
    """Compare ``after`` with ``before``; ``history`` (the site's runs before ``after``, oldest first) adds
    the targets that flapped over the last ``window`` runs."""
    old, new = tests_by_key(before), tests_by_key(after)
    names = pair_keys(old, new)
    then_of = {names[k]: (k, t) for k, t in old.items() if k in names}
    compared = {k for k, test in new.items() if test["outcome"] != "skipped"}
    result = RunDiff(label, after_label=after_label, after_state=str(after.get("state") or "finished"),
                     notes=_notes(before, after),
                     flapping=flapping([*history, after], window=window) if history else [],
                     not_compared=sum(1 for k, t in old.items() if t["outcome"] in OBSERVED
                                      and names.get(k) not in compared))
    for key in sorted(new):
        now = new[key]
        old_key, then = then_of.get(key, (key, None))
        was, is_ = (str(then["outcome"]) if then else "absent"), str(now["outcome"])
        change = Change(key[0], key[1], was, is_, now.get("cause"),
                        then.get("observed") if then else None, now.get("observed"),
                        old_key[1] if old_key != key else None)
        if is_ in BAD:
            (result.still_failing if was in BAD else result.new_failures).append(change)
        elif is_ == "passed" and was in BAD:
            result.fixed.append(change)
        elif is_ == was == "passed" and (moved := changed_facts(key[0], change.observed_before,
                                                                 change.observed_after)):
            result.changed.append(replace(change, facts=tuple(moved)))
        elif is_ == "not_run" and was in OBSERVED:
            result.unobserved.append(change)
    return result
