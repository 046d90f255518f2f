"""``<report root>/<site>/index.html``: the site's runs, newest first, and each check's trend (no pytest here).

Static and self-contained: one file, inline style, no script, every value escaped; links are
relative to the site's folder, so the folder can be copied or served as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wcp_acceptance import catalogue
from wcp_acceptance.report.run import write_text_atomic
from wcp_acceptance.report.site_runs import LAST_GOOD, LATEST, RunEntry, link_target
from wcp_acceptance.report.trend import TREND_RUNS, Flap, check_cells, flapping, flips

INDEX = "index.html"
DIFF = "diff.json"  # written by a run that had a baseline
COUNTS = (("passed", "passed"), ("failed", "failed"), ("error", "could not observe"), ("skipped", "skipped"),
          ("not_run", "not run"))
STYLE = """body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.HEALTHY,.passed{background:#dfd}.UNHEALTHY,.failed{background:#fdd}.INCOMPLETE,.error{background:#ffe4c4}
.not_run,.skipped,.absent,.UNKNOWN{color:#666}.flapped{font-weight:bold;background:#fff3b0}
.badge{border:1px solid #888;border-radius:.3em;padding:0 .3em;font-size:.85em;margin-left:.3em}"""


def _link(href: str, text: str) -> str:
    return f'<a href="{escape(quote(href))}">{escape(text)}</a>'


def _run_row(run: RunEntry, links: Mapping[str, str]) -> str:
    summary = run.summary or {}
    badges = "".join(f' <span class="badge">{escape(name)}</span>' for name, target in links.items()
                     if target == run.name)
    files = [_link(f"{run.name}/{name}", name) for name in ("report.html", "summary.json", "junit.xml", DIFF)
             if (run.path / name).is_file()]
    totals = summary.get("totals") or {}
    counts = ", ".join(f"{totals.get(key, 0)} {label}" for key, label in COUNTS if totals.get(key)) or "-"
    scope = (summary.get("scope") or {}).get("text") or "-"
    verdict = run.verdict
    exit_code = summary.get("exit_code")
    shown = f"{verdict} (exit {exit_code})" if exit_code is not None else verdict
    return (f'<tr class="run"><td>{_link(f"{run.name}/", run.name)}{badges}</td>'
            f"<td>{escape(_when(summary.get('started_at'), run))}</td>"
            f"<td>{escape(run.state_text)}</td><td class=\"{escape(verdict)}\">{escape(shown)}</td>"
            f"<td>{escape(str(scope))}</td><td>{escape(counts)}</td><td>{escape(_since(run))}</td>"
            f"<td>{' '.join(files) or '-'}</td></tr>")


def _when(started_at: object, run: RunEntry) -> str:
    try:
        moment = datetime.fromisoformat(str(started_at)) if started_at else run.started
    except ValueError:
        moment = run.started
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _since(run: RunEntry) -> str:
    """The run's own comparison with its baseline (diff.json), as its one line."""
    try:
        data = json.loads((run.path / DIFF).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "-"
    return str(data.get("line") or "-") if isinstance(data, dict) else "-"


def _check_ids(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    seen = {str(t["check_id"]) for s in summaries for t in s.get("tests", [])}
    return [c.id for c in catalogue.CHECKS] + sorted(seen - catalogue.IDS)


def _trend(runs: Sequence[RunEntry], window: int) -> tuple[str, list[Flap]]:
    recent = [r for r in runs if r.summary is not None][:window][::-1]  # oldest first
    summaries = [r.summary for r in recent if r.summary is not None]
    flaps = flapping(summaries, window=window)
    by_check: dict[str, list[Flap]] = {}
    for flap in flaps:
        by_check.setdefault(flap.check_id, []).append(flap)
    cells = [check_cells(s) for s in summaries]
    head = "".join(f"<th>{escape(r.name)}</th>" for r in recent)
    rows = []
    for check_id in _check_ids(summaries):
        outcomes = [c[check_id].outcome if check_id in c else "absent" for c in cells]
        turned = flips(outcomes)
        flapped = by_check.get(check_id, [])
        note = (f"{len(flapped)} target(s) flapped" if flapped else "") or (f"turned {turned} times" if turned >= 2
                                                                           else "")
        title = catalogue.BY_ID[check_id].title if check_id in catalogue.BY_ID else ""
        row_class = ' class="flapped"' if note else ""
        tds = "".join(f'<td class="{escape(c[check_id].outcome if check_id in c else "absent")}">'
                      f"{escape(c[check_id].text if check_id in c else '-')}</td>" for c in cells)
        rows.append(f"<tr{row_class}><th>{escape(check_id)}</th><td>{escape(title)}</td>{tds}"
                    f"<td>{escape(note or 'no')}</td></tr>")
    table = (f'<table id="trend"><tr><th>Check</th><th>Title</th>{head}<th>Flapped</th></tr>{"".join(rows)}</table>'
             if summaries else '<p id="trend">No run with a summary yet.</p>')
    return table, flaps


def render_index(site: str, runs: Sequence[RunEntry], links: Mapping[str, str], *, window: int = TREND_RUNS) -> str:
    """The page: ``runs`` newest first; ``links`` maps ``latest``/``last-good`` to the run folder they name."""
    trend, flaps = _trend(runs, window)
    last_good = links.get(LAST_GOOD)
    good = _link(f"{last_good}/report.html", last_good) if last_good else "none yet (no healthy full run)"
    latest = links.get(LATEST)
    flap_items = "".join(f"<li>{escape(str(f))}</li>" for f in flaps) or "<li>none</li>"
    rows = "".join(_run_row(r, links) for r in runs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wcp-acceptance {escape(site)}: runs</title>
<style>{STYLE}</style></head>
<body><h1>wcp-acceptance {escape(site)}: runs</h1>
<p id="links">Last good run: {good}. Latest: {_link(f"{latest}/report.html", latest) if latest else "none"}.
{len(runs)} run(s) kept.</p>
<h2>Runs, newest first</h2>
<table id="runs"><tr><th>Run</th><th>Started</th><th>State</th><th>Verdict</th><th>Scope</th><th>Counts</th>
<th>Compared with its baseline</th><th>Files</th></tr>{rows}</table>
<h2>Checks over the last {min(window, len([r for r in runs if r.summary is not None]))} runs (oldest first)</h2>
{trend}
<h3>Flapping targets (turned between passed and failed at least twice)</h3>
<ul id="flapping">{flap_items}</ul>
</body></html>
"""


def write_index(site_dir: Path, runs: Sequence[RunEntry], *, window: int = TREND_RUNS) -> Path:
    links = {name: target.name for name in (LATEST, LAST_GOOD) if (target := link_target(site_dir, name))}
    return write_text_atomic(site_dir / INDEX, render_index(site_dir.name, runs, links, window=window))
