"""summary.md and summary.csv: the first screen as Markdown (for a ticket or a chat) and one CSV row per
target (for a spreadsheet), both from summary.json data. No pytest here.

CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) are quoted with a
leading apostrophe: causes and targets carry text from the site.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wcp_acceptance import catalogue
from wcp_acceptance.redact import redact, redact_data
from wcp_acceptance.report.diff import Change
from wcp_acceptance.report.screen import Screen, screen_of

CSV_COLUMNS = ("site", "check_id", "area", "title", "target", "outcome", "root_cause", "cause", "observed",
               "duration_s")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _by_cause(screen: Screen, title: str, changes: list[Change]) -> str:
    counts = Counter(screen.cause_number(c.check_id, c.target) for c in changes)
    parts = ", ".join(f"cause {n} x{count}" if n else f"no cause x{count}" for n, count in sorted(
        counts.items(), key=lambda item: item[0] or 0))
    return f"- {title} ({len(changes)}): {parts or 'none'}"


def _fixed(changes: list[Change]) -> list[str]:
    lines = [f"- Fixed ({len(changes)})" + (":" if changes else ": none")]
    return lines + [f"  - `{c.check_id}` {_cell(c.target)}: {c.before} -> {c.after}" for c in changes]


def markdown(screen: Screen) -> str:
    run = screen.run_text(", ")
    lines = [f"# {_cell(screen.site)} ({_cell(screen.supervisor)}): {screen.verdict}", "", screen.meaning, "",
             f"- Targets: {screen.counts_line}", f"- Scope: {_cell(screen.scope)}", f"- Run: {run}",
             f"- {_cell(screen.diff_line).capitalize()}", "", "## By area and check", "",
             "| area | check | title | status | passed | failed | error | total | first cause |",
             "|---|---|---|---|---:|---:|---:|---:|---|"]
    for area in screen.areas:
        for row in area.checks:
            first = f"cause {row.cause_number}: {row.first_cause}" if row.first_cause is not None else ""
            lines.append(f"| {area.title} | `{row.check_id}` | {_cell(row.title)} | {row.status} | {row.passed} | "
                         f"{row.failed} | {row.error} | {row.total} | {_cell(first)} |")
    lines += ["", "## Root causes", ""]
    if not screen.causes:
        lines.append("No target failed and every selected target was observed.")
    for cause in screen.causes:
        checks = ", ".join(f"`{c}` x{n}" for c, n in cause.by_check.items())
        lines.append(f"{cause.number}. **{len(cause.failures)} targets** ({checks}): {_cell(cause.text)}")
        lines += [f"   - {_cell(f.check_id)} {_cell(f.target)}: {f.outcome}, {_cell(f.observed)}"
                  for f in cause.failures]
    lines += ["", "## Since the last good run", ""]
    if screen.diff is None:
        lines += [screen.diff_line, ""]
    else:
        lines += [f"Compared with {_cell(screen.diff.before_label)}.", "",
                  _by_cause(screen, "New failures", screen.diff.new_failures), *_fixed(screen.diff.fixed),
                  _by_cause(screen, "Still failing", screen.diff.still_failing)]
    return "\n".join(lines).rstrip() + "\n"


def _safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(screen: Screen, tests: list[Mapping[str, Any]]) -> str:
    number_of = {(f.check_id, f.target): c.number for c in screen.causes for f in c.failures}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for test in tests:
        check = catalogue.BY_ID.get(str(test["check_id"]))
        key = (str(test["check_id"]), str(test["target"]))
        writer.writerow([_safe(v) for v in (
            screen.site, test["check_id"], check.area if check else "", test.get("title", ""), test["target"],
            test["outcome"], number_of.get(key, ""), test.get("cause") or test.get("skip_reason") or "",
            test.get("observed") or "", test.get("duration_s", ""))])
    return out.getvalue()


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(redact(text), encoding="utf-8")
    tmp.replace(path)
    return path


def write_tables(run_dir: Path, summary: Mapping[str, Any], *, baseline: Mapping[str, Any] | None = None,
                 baseline_label: str | None = None) -> tuple[Path, Path]:
    """Write ``summary.md`` and ``summary.csv`` next to summary.json (atomically, as summary.json)."""
    summary = redact_data(summary)  # cell by cell first, so a mask never spans a CSV or Markdown cell
    screen = screen_of(summary, baseline=baseline, baseline_label=baseline_label)
    tests = list(summary.get("tests", []))
    return (_write(run_dir / "summary.md", markdown(screen)), _write(run_dir / "summary.csv", csv_text(screen, tests)))
