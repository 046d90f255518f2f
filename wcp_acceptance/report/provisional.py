"""The report.html a run keeps while it has no finished one: "INCOMPLETE: this run has not finished".

Written at the start of a run and refreshed as tests finish, so a run killed with SIGKILL still
leaves a report that says it is incomplete and shows what had run; replaced by pytest-html's
report when the run finishes. The same page, with another headline, is the report of a run
whose report the watchdog had to finish after a signal, and of a run found orphaned. Plain
HTML, no script, no side files; it shows only what summary.json holds (never a credential).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from wcp_acceptance.report.run import write_text_atomic

RUNNING = "INCOMPLETE: this run has not finished"
RUNNING_NOTE = ("The suite is still running, or it was killed before it could finish its report (SIGKILL, a "
                "crash, a power loss). The next run of this site marks a killed run as orphaned.")
ORDER = {"failed": 0, "error": 1, "not_run": 2, "skipped": 3, "passed": 4}


def _row(test: Mapping[str, Any]) -> str:
    detail = test.get("cause") or test.get("observed") or test.get("skip_reason") or ""
    return (f"<tr class=\"{escape(str(test.get('outcome', '')))}\"><td>{escape(str(test.get('check_id', '')))}</td>"
            f"<td>{escape(str(test.get('target', '')))}</td><td>{escape(str(test.get('outcome', '')))}</td>"
            f"<td>{escape(str(detail))}</td></tr>")


def render(summary: Mapping[str, Any], headline: str, note: str) -> str:
    totals = summary.get("totals") or {}
    counts = ", ".join(f"{totals.get(k, 0)} {k.replace('_', ' ')}"
                       for k in ("passed", "failed", "error", "skipped", "not_run"))
    tests = sorted(summary.get("tests") or [], key=lambda t: (ORDER.get(str(t.get("outcome")), 5),
                                                              str(t.get("check_id")), str(t.get("target"))))
    scope = (summary.get("scope") or {}).get("text", "")
    facts = [("Site (inventory)", summary.get("inventory")), ("Supervisor", summary.get("supervisor")),
             ("State", summary.get("state")), ("Started", summary.get("started_at")),
             ("Process", f"pid {summary.get('pid')}" if summary.get("pid") else None),
             ("Interrupted by", summary.get("interrupted_by")), ("Scope", scope), ("Counts", counts)]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts if v)
    site = escape(str(summary.get("inventory", "")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wcp-acceptance {site}: {escape(headline)}</title>
<style>body{{font-family:sans-serif;margin:2em}} .verdict{{background:#999;color:#fff;padding:.5em 1em}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}
tr.failed td{{background:#fdd}} tr.error td{{background:#ffe4c4}} tr.not_run td{{color:#777}}</style></head>
<body><h1>wcp-acceptance {site}</h1>
<h2 class="verdict" id="verdict">{escape(headline)}</h2>
<p id="note">{escape(note)}</p>
<table id="facts">{rows}</table>
<h3>Tests</h3>
<table id="tests"><tr><th>Check</th><th>Target</th><th>Outcome</th><th>Why</th></tr>{"".join(map(_row, tests))}</table>
</body></html>
"""


def write(path: Path, summary: Mapping[str, Any], headline: str = RUNNING, note: str = RUNNING_NOTE) -> Path:
    return write_text_atomic(path, render(summary, headline, note))
