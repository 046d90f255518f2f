"""The verdict of a run, its scope, and the one-line summary for cron.

HEALTHY: every selected check ran and passed. UNHEALTHY: a check failed (the site is wrong).
INCOMPLETE: nothing failed, but something could not be observed, did not run, or the run was cut
short. Could-not-observe is never reported as broken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wcp_acceptance.report.records import OUTCOMES, Selection, TestRecord

Verdict = Literal["HEALTHY", "UNHEALTHY", "INCOMPLETE", "NO CHECKS RAN"]


def totals(records: Iterable[TestRecord]) -> dict[str, int]:
    listed = list(records)
    counts = Counter(r.outcome for r in listed)
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES} | {"total": len(listed)}


def verdict_of(records: Iterable[TestRecord], *, interrupted_by: str | None = None) -> Verdict:
    t = totals(records)
    if t["failed"]:
        return "UNHEALTHY"
    if t["error"] or t["not_run"] or interrupted_by:
        return "INCOMPLETE"
    if t["passed"] == 0:
        return "NO CHECKS RAN"  # nothing selected, or every target excluded
    return "HEALTHY"


@dataclass(frozen=True)
class Scope:
    """What was in scope: the whole catalogue, or a selection; what was not reached."""

    full: bool
    text: str


def scope_of(selection: Selection, records: Iterable[TestRecord], *, interrupted_by: str | None = None) -> Scope:
    t = totals(records)
    parts: list[str] = []
    if selection.markers:
        parts.append(f"-m {selection.markers!r}")
    if selection.keywords:
        parts.append(f"-k {selection.keywords!r}")
    if selection.checks:
        parts.append("--check " + ",".join(selection.checks))
    selected = t["total"]
    text = "full run" if not parts and not selection.deselected else "selection " + " ".join(parts or ["(by id)"])
    details = [f"{selected} targets selected"]
    if selection.deselected:
        details.append(f"{selection.deselected} deselected ({len(selection.deselected_checks)} check ids)")
    if t["not_run"]:
        why = f"cut short by {interrupted_by}" if interrupted_by else (
            f"stopped after {selection.maxfail} failure(s)" if selection.maxfail else "not reached")
        details.append(f"{t['not_run']} not run ({why})")
    full = not parts and not selection.deselected and not t["not_run"] and not interrupted_by
    return Scope(full, f"{text}: {', '.join(details)}")


def cron_line(site: str, records: Iterable[TestRecord], exit_code: int, report: Path | None, *,
              interrupted_by: str | None = None, scope: Scope | None = None) -> str:
    """One line fit for cron mail and log greps: site, verdict, exit code, counts, where the report is."""
    listed = list(records)
    t = totals(listed)
    counts = f"{t['passed']} passed, {t['failed']} failed, {t['error']} could not observe, {t['skipped']} skipped"
    if t["not_run"]:
        counts += f", {t['not_run']} not run"
    verdict = verdict_of(listed, interrupted_by=interrupted_by)
    notes = []
    if scope is not None and not scope.full and not interrupted_by:
        notes.append("partial")
    if interrupted_by:
        notes.append(f"interrupted by {interrupted_by}")
    note = f" ({', '.join(notes)})" if notes else ""
    where = f" report={report}" if report else ""
    return f"wcp-acceptance {site}: {verdict}{note} exit={exit_code} {counts}{where}"
