"""The report's first screen as static HTML: readable with JavaScript off, printable without cuts.

pytest-html renders what :func:`render` returns into its template on the server side (the
``pytest_html_results_summary`` prefix), so a mail preview, a CSP that blocks scripts or a gateway
that strips them still shows the verdict, the areas, the root causes and every failure's evidence.
Every value is escaped: inventory values and API answers are hostile input. No pytest here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape
from importlib import resources

from wcp_acceptance import __version__
from wcp_acceptance.report.causes import Failure, RootCause
from wcp_acceptance.report.diff import Change
from wcp_acceptance.report.screen import NO_BASELINE, AreaRows, CheckRow, Screen, utc_text

# with JavaScript off pytest-html's filters and its per-test table do nothing: the first screen says it all
NO_SCRIPT = ("<noscript><style>.controls, p.filter, #results-table, #environment-header, #environment "
             "{display: none}</style><p class=\"wcp-noscript\">JavaScript is off: the table of every test is not "
             "shown; every failed or unobserved target and its evidence is listed above.</p></noscript>")


def stylesheet() -> str:
    return resources.files("wcp_acceptance.report").joinpath("firstscreen.css").read_text(encoding="utf-8")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


def _status(status: str) -> str:
    return f'<span class="wcp-status">{_e(status)}</span>'


def _n(value: int, outcome: str = "") -> str:
    marked = f" wcp-nonzero-{outcome}" if value and outcome in ("failed", "error") else ""
    return f'<td class="wcp-n{marked}">{value}</td>'


def _banner(screen: Screen) -> str:
    return (f'<header class="wcp-banner wcp-{_slug(screen.verdict)}">'
            f'<div id="wcp-verdict" class="wcp-verdict">{_e(screen.verdict)}</div>'
            f'<div><div id="wcp-site" class="wcp-site">{_e(screen.site)} '
            f'<span class="wcp-supervisor">Supervisor {_e(screen.supervisor)}</span></div>'
            f'<div id="wcp-meaning">{_e(screen.meaning)}</div></div></header>')


def _facts(screen: Screen) -> str:
    run = screen.run_text("; ")
    rows = [("Targets", "wcp-counts", _e(screen.counts_line)), ("Scope", "wcp-scope", _e(screen.scope)),
            ("Root causes", "wcp-cause-count", _digest(screen)), ("Run", "wcp-run", _e(run)),
            ("Since the last good run", "wcp-diff-line", _e(screen.diff_line))]
    return '<dl id="wcp-facts" class="wcp-facts">' + "".join(
        f'<dt>{label}</dt><dd id="{ident}">{value}</dd>' for label, ident, value in rows) + "</dl>"


def _digest(screen: Screen, shown: int = 3) -> str:
    """How many distinct causes, and the first few of them, one line each (the rest is below)."""
    causes, explained = len(screen.causes), len(screen.failures)
    if not causes:
        return "none: no target failed or went unobserved"
    count = (f'<a href="#wcp-causes">{causes} distinct {"cause" if causes == 1 else "causes"}</a> for '
             f"{explained} failed or unobserved {'target' if explained == 1 else 'targets'}")
    items = "".join(f'<li class="wcp-o-{"error" if c.could_not_observe else "failed"}">'
                    f'<a href="#wcp-cause-{c.number}">{len(c.failures)} '
                    f'{"target" if len(c.failures) == 1 else "targets"}</a>: {_e(c.text)}</li>'
                    for c in screen.causes[:shown])
    if causes > shown:
        items += f'<li><a href="#wcp-causes">{causes - shown} more</a></li>'
    return f'<span class="wcp-cause-total">{count}</span><ol id="wcp-digest">{items}</ol>'


def _check_row(row: CheckRow) -> str:
    cause = ""
    if row.first_cause is not None:
        link = f'<a href="#wcp-cause-{row.cause_number}">cause {row.cause_number}</a>: ' if row.cause_number else ""
        cause = link + _e(row.first_cause)
    elif row.status == "not selected":
        cause = "not in this run's selection"
    elif row.status == "excluded":
        cause = "excluded by the inventory"
    return (f'<tr class="wcp-check-row wcp-s-{_slug(row.status)}" data-check="{_e(row.check_id)}">'
            f'<td class="wcp-check-id">{_e(row.check_id)}</td><td>{_e(row.title)}</td>'
            f"<td>{_status(row.status)}</td>{_n(row.passed)}{_n(row.failed, 'failed')}{_n(row.error, 'error')}"
            f'{_n(row.total)}<td class="wcp-first-cause">{cause}</td></tr>')


def _area(area: AreaRows) -> str:
    """The area's row, then its checks; an area the selection left out is one row naming its checks."""
    left_out = area.status == "not selected"
    note = f"not in this run's selection: {', '.join(c.check_id for c in area.checks)}" if left_out else ""
    head = (f'<tr class="wcp-area-row wcp-s-{_slug(area.status)}" data-area="{_e(area.name)}">'
            f'<th colspan="2">{_e(area.title)}</th><td>{_status(area.status)}</td>{_n(area.count("passed"))}'
            f"{_n(area.count('failed'), 'failed')}{_n(area.count('error'), 'error')}{_n(area.total)}"
            f'<td class="wcp-first-cause">{_e(note)}</td></tr>')
    checks = "" if left_out else "".join(_check_row(c) for c in area.checks)
    return f'<tbody class="wcp-area">{head}{checks}</tbody>'


def _areas(screen: Screen) -> str:
    header = ("<thead><tr><th>Check</th><th>Title</th><th>Status</th><th>Passed</th><th>Failed</th>"
              "<th>Error</th><th>Total</th><th>First cause</th></tr></thead>")
    return ('<h2>By area and check</h2><table id="wcp-areas">' + header
            + "".join(_area(a) for a in screen.areas) + "</table>")


def _target_rows(screen: Screen, failures: Iterable[Failure], anchors: Mapping[int, int]) -> str:
    since = screen.diff is not None
    rows = "".join(
        f'<tr class="wcp-o-{_e(f.outcome)}"><td>{_e(f.check_id)}</td><td class="wcp-target">{_e(f.target)}</td>'
        f"<td>{_e(f.outcome)}</td>" + (f"<td>{_e(screen.since(f.check_id, f.target))}</td>" if since else "")
        + f'<td>{_e(f.observed)}</td><td><a href="#wcp-ev-{anchors[id(f)]}">evidence</a></td></tr>'
        for f in failures)
    head = "<th>Since the last good run</th>" if since else ""
    return ('<table class="wcp-cause-rows"><thead><tr><th>Check</th><th>Target</th><th>Outcome</th>'
            f"{head}<th>Observed</th><th></th></tr></thead><tbody>{rows}</tbody></table>")


def _cause(screen: Screen, cause: RootCause, anchors: Mapping[int, int]) -> str:
    n = len(cause.failures)
    outcome = ", ".join(f"{count} {'could not be observed' if o == 'error' else o}"
                        for o, count in cause.by_outcome.items())
    checks = ", ".join(f"{check} \u00d7{count}" for check, count in cause.by_check.items())
    line = (f'<p class="wcp-cause-line"><span class="wcp-cause-count">{n} {"target" if n == 1 else "targets"}'
            f"</span> ({_e(outcome)}; {_e(checks)})</p>")
    text = f'<p class="wcp-cause-text">{_e(cause.text)}</p>'
    variants = [cause.headline, *cause.others] if cause.headline.wordings > 1 or cause.others else []
    listed = "".join(
        f"<li>{len(v.failures)} \u00d7 {_e(v.text)}"
        + (f" (and {v.wordings - 1} like it for other addresses or names)" if v.wordings > 1 else "") + "</li>"
        for v in variants)
    also = f'<ul class="wcp-variants" title="as the checks worded it">{listed}</ul>' if listed else ""
    return (f'<li id="wcp-cause-{cause.number}" class="wcp-cause">{line}{text}{also}'
            f"{_target_rows(screen, cause.failures, anchors)}</li>")


def _causes(screen: Screen, anchors: Mapping[int, int]) -> str:
    if not screen.causes:
        return ('<h2>Root causes</h2><p id="wcp-causes" class="wcp-no-causes">No target failed and every '
                "selected target was observed.</p>")
    return ('<h2>Root causes</h2><ol id="wcp-causes">'
            + "".join(_cause(screen, c, anchors) for c in screen.causes) + "</ol>")


def _by_cause(screen: Screen, ident: str, title: str, changes: list[Change]) -> str:
    """Failures now, counted by root cause (their rows are under the cause)."""
    counts = Counter(screen.cause_number(c.check_id, c.target) for c in changes)
    parts = ", ".join(f'<a href="#wcp-cause-{n}">cause {n}</a> \u00d7{count}' if n else f"no cause \u00d7{count}"
                      for n, count in sorted(counts.items(), key=lambda item: item[0] or 0))
    return f'<p id="{ident}" data-count="{len(changes)}"><b>{_e(title)}</b> ({len(changes)}): {parts or "none"}</p>'


def _fixed(changes: list[Change]) -> str:
    if not changes:
        return '<p id="wcp-fixed" data-count="0"><b>Fixed</b> (0): none</p>'
    items = "".join(f"<li><b>{_e(c.check_id)}</b> {_e(c.target)}: {_e(c.before)} \u2192 {_e(c.after)}</li>"
                    for c in changes)
    return f'<div id="wcp-fixed" data-count="{len(changes)}"><b>Fixed</b> ({len(changes)}):<ul>{items}</ul></div>'


def _diff(screen: Screen) -> str:
    if screen.diff is None:
        return f'<h2>Since the last good run</h2><p id="wcp-diff" class="wcp-no-baseline">{_e(NO_BASELINE)}</p>'
    d = screen.diff
    return ('<h2>Since the last good run</h2><div id="wcp-diff">'
            f"<p>Compared with {_e(d.before_label)}.</p>"
            + _by_cause(screen, "wcp-new-failures", "New failures", d.new_failures)
            + _fixed(d.fixed)
            + _by_cause(screen, "wcp-still-failing", "Still failing", d.still_failing) + "</div>")


def _environment(screen: Screen) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in screen.environment.items())
    return f'<h2>Site</h2><table id="wcp-environment">{rows}</table>'


def _evidence(screen: Screen, anchors: Mapping[int, int]) -> str:
    if not screen.failures:
        return ""
    blocks = []
    for cause in screen.causes:
        for f in cause.failures:
            facts = "".join(f"<dt>{label}</dt><dd>{_e(value)}</dd>" for label, value in (
                ("expected", f.expected), ("observed", f.observed), ("likely cause", f.cause)) if value)
            lines = _e("\n".join(f.evidence)) if f.evidence else "no evidence was recorded"
            blocks.append(
                f'<article id="wcp-ev-{anchors[id(f)]}" class="wcp-evidence wcp-o-{_e(f.outcome)}" '
                f'data-check="{_e(f.check_id)}" data-target="{_e(f.target)}" '
                f'aria-label="evidence {_e(f.check_id)} {_e(f.target)}">'
                f"<h3>{_e(f.check_id)} {_e(f.target)}: {_e(f.outcome)} "
                f'(<a href="#wcp-cause-{cause.number}">cause {cause.number}</a>)</h3><dl>{facts}</dl>'
                f'<pre class="wcp-evidence-text">{lines}</pre></article>')
    return ('<section id="wcp-evidence" class="wcp"><h2>Evidence of every failed or unobserved target</h2>'
            + "".join(blocks) + "</section>")


def render(screen: Screen) -> list[str]:
    """The HTML fragments for pytest-html's summary prefix: the first screen, the evidence, the table heading."""
    anchors = {id(f): n for n, f in enumerate(screen.failures, start=1)}
    generated = (f'<p class="wcp-generated">Report generated {_e(utc_text(screen.generated))} by wcp-acceptance '
                 f"{_e(__version__)} (pytest-html); every duration in seconds, every time in UTC.</p>")
    first = (f'<section id="wcp-first-screen" class="wcp"><style>{stylesheet()}</style>{_banner(screen)}'
             f"{_facts(screen)}{_areas(screen)}{_causes(screen, anchors)}{_diff(screen)}{_environment(screen)}"
             f"{generated}</section>")
    return [first, _evidence(screen, anchors), '<h2 id="wcp-tests-heading">Every test</h2>', NO_SCRIPT]


def render_error(problem: str) -> list[str]:
    """What the first screen says when it could not be built (the per-test table below still stands)."""
    return [f'<section id="wcp-first-screen" class="wcp"><p id="wcp-first-screen-error">The first screen could '
            f"not be built: {_e(problem)}. summary.json and the table of every test below are complete.</p>"
            "</section>"]
