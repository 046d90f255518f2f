"""What the report's first screen says, as data: built from summary.json data, rendered by
:mod:`~wcp_acceptance.report.firstscreen` (HTML) and :mod:`~wcp_acceptance.report.tables` (Markdown, CSV).

Site and Supervisor, the verdict and what it means, the scope, one row per area and check, the
root causes, what changed since the last good run and the site's facts. No pytest here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wcp_acceptance import catalogue
from wcp_acceptance.report.causes import Failure, RootCause, group_causes
from wcp_acceptance.report.diff import RunDiff, diff_summaries

NO_BASELINE = "no earlier healthy run of this site"

MEANING = {
    "HEALTHY": "every selected check passed",
    "UNHEALTHY": "a check failed: the site is wrong",
    "INCOMPLETE": "nothing failed, but something could not be observed or the run was cut short",
    "NO CHECKS RAN": "no check was selected, or the inventory excluded every target",
}


def seconds(value: float) -> str:
    """Every duration in the report, in one unit."""
    return f"{value:.2f} s"


def utc_text(moment: datetime | None) -> str:
    """Every timestamp in the report: UTC, with the zone named."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "not finished"


def _moment(text: object) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CheckRow:
    """One check of the catalogue in this run: its targets by outcome and the first cause."""

    check_id: str
    title: str
    passed: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    not_run: int = 0
    first_cause: str | None = None
    cause_number: int | None = None  # the root cause the first failure belongs to

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.error + self.skipped + self.not_run

    @property
    def status(self) -> str:
        if self.failed:
            return "failed"
        if self.error:
            return "could not observe"
        if self.not_run:
            return "not run"
        if not self.total:
            return "not selected"
        if not self.passed:
            return "excluded"
        return "passed"


@dataclass(frozen=True)
class AreaRows:
    name: str
    title: str
    checks: tuple[CheckRow, ...]

    def count(self, outcome: str) -> int:
        return sum(int(getattr(c, outcome)) for c in self.checks)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.checks)

    @property
    def status(self) -> str:
        for status in ("failed", "could not observe", "not run"):
            if any(c.status == status for c in self.checks):
                return status
        selected = [c.status for c in self.checks if c.status != "not selected"]
        if not selected:
            return "not selected"
        return "passed" if "passed" in selected else "excluded"


@dataclass(frozen=True)
class Screen:
    site: str
    supervisor: str
    verdict: str
    scope: str
    full: bool
    totals: Mapping[str, int]
    areas: tuple[AreaRows, ...]
    causes: tuple[RootCause, ...]
    started: datetime | None
    finished: datetime | None
    exit_code: int | None
    interrupted_by: str | None
    environment: Mapping[str, str] = field(default_factory=dict)
    diff: RunDiff | None = None
    wall_s: float | None = None  # the run's wall time when known precisely (summary.json has whole seconds)
    baseline_label: str | None = None
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def meaning(self) -> str:
        return MEANING.get(self.verdict, "")

    @property
    def title(self) -> str:
        """The report's title: site, Supervisor, verdict."""
        return f"{self.site} ({self.supervisor}): {self.verdict} - wcp-acceptance"

    @property
    def duration_s(self) -> float | None:
        if self.wall_s is not None:
            return self.wall_s
        return (self.finished - self.started).total_seconds() if self.started and self.finished else None

    @property
    def duration_text(self) -> str | None:
        """The wall time in seconds; whole seconds when only summary.json's timestamps tell it."""
        if self.wall_s is not None:
            return seconds(self.wall_s)
        value = self.duration_s
        return f"{value:.0f} s" if value is not None else None

    def run_text(self, sep: str = "; ") -> str:
        """When the run started and finished, its wall time, exit code and what cut it short."""
        run = f"started {utc_text(self.started)}, finished {utc_text(self.finished)}"
        if self.duration_text is not None:
            run += f" ({self.duration_text})"
        if self.exit_code is not None:
            run += f"{sep}exit code {self.exit_code}"
        if self.interrupted_by:
            run += f"{sep}cut short by {self.interrupted_by}"
        return run

    @property
    def counts_line(self) -> str:
        t = self.totals
        line = (f"{t.get('total', 0)} targets: {t.get('passed', 0)} passed, {t.get('failed', 0)} failed, "
                f"{t.get('error', 0)} could not be observed, {t.get('skipped', 0)} excluded")
        if t.get("not_run"):
            line += f", {t['not_run']} not run"
        return line

    @property
    def failures(self) -> tuple[Failure, ...]:
        """Every failed or unobserved target, root cause by root cause."""
        return tuple(f for c in self.causes for f in c.failures)

    def cause_number(self, check_id: str, target: str) -> int | None:
        for cause in self.causes:
            if any(f.check_id == check_id and f.target == target for f in cause.failures):
                return cause.number
        return None

    def since(self, check_id: str, target: str) -> str:
        """``new`` or ``still failing`` since the last good run for a failed target ("" without a baseline)."""
        if self.diff is None:
            return ""
        if any(c.check_id == check_id and c.target == target for c in self.diff.new_failures):
            return "new"
        if any(c.check_id == check_id and c.target == target for c in self.diff.still_failing):
            return "still failing"
        return ""

    @property
    def diff_line(self) -> str:
        if self.diff is None:
            return NO_BASELINE
        d = self.diff
        return (f"since {d.before_label}: {len(d.new_failures)} new failures, {len(d.fixed)} fixed, "
                f"{len(d.still_failing)} still failing")


def _areas(tests: Sequence[Mapping[str, Any]], causes: Sequence[RootCause]) -> tuple[AreaRows, ...]:
    number_of = {(f.check_id, f.target): c.number for c in causes for f in c.failures}
    counts: dict[str, dict[str, int]] = {}
    first: dict[str, tuple[str, int | None]] = {}
    titles: dict[str, str] = {}
    for test in tests:
        check_id, outcome = str(test["check_id"]), str(test["outcome"])
        counts.setdefault(check_id, {})[outcome] = counts.get(check_id, {}).get(outcome, 0) + 1
        titles.setdefault(check_id, str(test.get("title") or check_id))
        if outcome in ("failed", "error") and check_id not in first:
            first[check_id] = (str(test.get("cause") or ""), number_of.get((check_id, str(test["target"]))))

    def row(check_id: str, title: str) -> CheckRow:
        c = counts.get(check_id, {})
        cause, number = first.get(check_id, (None, None))
        return CheckRow(check_id, title, c.get("passed", 0), c.get("failed", 0), c.get("error", 0),
                        c.get("skipped", 0), c.get("not_run", 0), cause, number)

    areas = [AreaRows(a.name, a.title, tuple(row(c.id, c.title) for c in catalogue.checks_in(a.name)))
             for a in catalogue.AREAS]
    unknown = sorted(set(counts) - catalogue.IDS)
    if unknown:
        areas.append(AreaRows("other", "Not in the catalogue", tuple(row(i, titles[i]) for i in unknown)))
    return tuple(areas)


def screen_of(summary: Mapping[str, Any], *, environment: Mapping[str, str] | None = None,
              baseline: Mapping[str, Any] | None = None, baseline_label: str | None = None,
              wall_s: float | None = None) -> Screen:
    """The first screen of one run, from its summary.json data (and the baseline's, when there is one)."""
    tests = list(summary.get("tests", []))
    causes = tuple(group_causes(tests))
    scope = summary.get("scope") or {}
    diff = None
    if baseline is not None:
        diff = diff_summaries(baseline, summary, label=baseline_label or "the last good run")
    exit_code = summary.get("exit_code")
    return Screen(
        site=str(summary.get("inventory", "")), supervisor=str(summary.get("supervisor", "")),
        verdict=str(summary.get("verdict", "INCOMPLETE")), scope=str(scope.get("text", "")),
        full=bool(scope.get("full")), totals=dict(summary.get("totals") or {}), areas=_areas(tests, causes),
        causes=causes, started=_moment(summary.get("started_at")), finished=_moment(summary.get("finished_at")),
        exit_code=int(exit_code) if exit_code is not None else None,
        interrupted_by=str(summary["interrupted_by"]) if summary.get("interrupted_by") else None,
        environment=dict(environment or {}), diff=diff, baseline_label=baseline_label, wall_s=wall_s)
