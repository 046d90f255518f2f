"""The cross-site index: ``<report root>/index.html``, one row per site from its latest run (no pytest here).

A static page, readable with JavaScript off and opened from a file share: site, verdict of its
latest run, when it finished, the counts, the checks that failed or could not observe, and links
to that run's report and to the site's own history index. Worst verdicts first. Every value is
escaped. Rewritten by each finishing run and after a multi-site run, atomically and under a lock,
so runs of different sites finishing together leave an index that lists all of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wcp_acceptance.redact import redact

INDEX = "index.html"
LOCK = ".index.lock"
ORDER = ("UNHEALTHY", "INCOMPLETE", "NO CHECKS RAN", "HEALTHY")
COUNTS = (("passed", "passed"), ("failed", "failed"), ("error", "could not observe"), ("skipped", "skipped"),
          ("not_run", "not run"))
STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; }
.HEALTHY { background: #d7f5d7; } .UNHEALTHY { background: #f8d0d0; }
.INCOMPLETE { background: #e4e4e4; } .NO-CHECKS-RAN, .UNREADABLE { background: #fff2c4; }
"""


@dataclass(frozen=True)
class SiteRow:
    site: str
    verdict: str
    finished: datetime | None
    exit_code: int | None
    totals: Mapping[str, int]
    partial: bool
    failing: Mapping[str, int]  # check id -> targets failed or not observed
    report: str | None  # relative to the report root
    history: str | None
    problem: str | None = None


def _when(text: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _row(site_dir: Path) -> SiteRow | None:
    latest = site_dir / "latest"
    if not latest.is_dir():
        return None
    run = latest.resolve()
    folder = quote(site_dir.name)
    report = f"{folder}/{quote(run.name)}/report.html" if (run / "report.html").is_file() else None
    history = f"{folder}/{INDEX}" if (site_dir / INDEX).is_file() else None
    try:
        data: Any = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as exc:
        return SiteRow(site_dir.name, "UNREADABLE", None, None, {}, False, {}, report, history,
                       problem=f"{site_dir.name}/{run.name}/summary.json: {exc}")
    failing = Counter(str(t.get("check_id")) for t in data.get("tests", [])
                      if isinstance(t, dict) and t.get("outcome") in ("failed", "error"))
    totals = _mapping(data.get("totals"))
    scope = _mapping(data.get("scope"))
    return SiteRow(str(data.get("inventory") or site_dir.name), str(data.get("verdict") or "UNREADABLE"),
                   _when(data.get("finished_at")), data.get("exit_code"),
                   {key: int(totals.get(key, 0) or 0) for key, _ in COUNTS}, not scope.get("full", True),
                   dict(sorted(failing.items())), report, history)


def site_rows(root: Path) -> list[SiteRow]:
    """One row per site folder under ``root`` that has a finished run, worst verdict first, then by name."""
    rows = [row for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
            if (row := _row(d)) is not None] if root.is_dir() else []
    rank = {verdict: i for i, verdict in enumerate(ORDER)}
    return sorted(rows, key=lambda r: (rank.get(r.verdict, -1), r.site))


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "unknown"
    seconds = max(0, int((now - moment).total_seconds()))
    ago = f"{seconds // 60} min" if seconds < 7200 else (f"{seconds // 3600} h" if seconds < 172800
                                                          else f"{seconds // 86400} days")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({ago} ago)"


def _link(href: str | None, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>' if href else "&mdash;"


def _html_row(row: SiteRow, now: datetime) -> str:
    verdict = row.verdict + (" (partial run)" if row.partial else "")
    cells = [f"<th scope=\"row\">{escape(row.site)}</th>",
             f'<td class="{escape(row.verdict.replace(" ", "-"))}"><strong>{escape(verdict)}</strong></td>',
             f"<td>{escape(_age(row.finished, now))}</td>",
             f'<td class="n">{"" if row.exit_code is None else escape(str(row.exit_code))}</td>']
    cells += [f'<td class="n">{row.totals.get(key, 0)}</td>' for key, _ in COUNTS]
    failing = ", ".join(f"{check} ({n})" for check, n in row.failing.items())
    cells.append(f"<td>{escape(row.problem or failing or '')}</td>")
    cells.append(f"<td>{_link(row.report, 'report')}</td><td>{_link(row.history, 'history')}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


def render(rows: list[SiteRow], now: datetime) -> str:
    verdicts = Counter(r.verdict for r in rows)
    headline = ", ".join(f"{verdicts[v]} {v}" for v in (*ORDER, "UNREADABLE") if verdicts[v]) or "no finished run"
    heads = ["site", "verdict", "finished", "exit", *(label for _, label in COUNTS),
             "checks failed or not observed (targets)", "latest run", "site history"]
    table = ("<table>\n<thead><tr>" + "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
             + "</tr></thead>\n<tbody>\n" + "\n".join(_html_row(r, now) for r in rows) + "\n</tbody>\n</table>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>wcp-acceptance: {len(rows)} sites</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>wcp-acceptance: {len(rows)} sites</h1>\n<p id=\"headline\">{escape(headline)}. "
        f"Latest run of each site; written {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC.</p>\n"
        f"{table}\n</body>\n</html>\n"
    )


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    with (root / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_index(root: Path, now: datetime | None = None) -> Path | None:
    """Rewrite ``<root>/index.html`` from every site's latest run; its path, or None (and a line on stderr)
    when it cannot be written: the index never changes a run's verdict or exit code."""
    path = root / INDEX
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root):
            text = redact(render(site_rows(root), now or datetime.now(UTC)))
            tmp = root / f".{INDEX}.{os.getpid()}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
    except OSError as exc:
        print(f"wcp-acceptance: cannot write the cross-site index {path}: {exc}", file=sys.stderr)  # noqa: T201
        return None
    return path
