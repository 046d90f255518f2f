"""pytest-html hooks: the report a change board reads.

The title names the site, the Supervisor and the verdict; the first screen (site, verdict, scope,
areas, root causes, the change since the last good run, the site's facts, every failure's
evidence) is static HTML in pytest-html's summary, so it reads with JavaScript off; the site's
facts lead pytest-html's environment table; the per-test table has a Check column and shows
evidence inline (no data: links, which Chromium will not open from a self-contained report).
"""

from __future__ import annotations

import warnings
from collections.abc import Generator
from datetime import UTC, datetime
from html import escape
from typing import Any

import pytest

from wcp_acceptance.plugin.finish import run_summary
from wcp_acceptance.plugin.state import INVENTORY, RUN
from wcp_acceptance.redact import redact, redact_data
from wcp_acceptance.report.environment import environment_rows
from wcp_acceptance.report.firstscreen import render, render_error
from wcp_acceptance.report.screen import screen_of, seconds

REPORT = pytest.StashKey[Any]()  # pytest-html's report data, kept from the title hook to retitle it at the end


def _metadata(config: pytest.Config) -> dict[str, object] | None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-metadata comes with pytest-html
        return None
    return config.stash.get(metadata_key, None)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """The site's facts first in the environment table, before pytest-html reads it (its hook runs last).

    pytest-html puts these values into the page as HTML, so they are escaped here.
    """
    inventory = session.config.stash.get(INVENTORY, None)
    metadata = _metadata(session.config)
    if inventory is None or metadata is None:
        return
    site = {key: escape(redact(value)) for key, value in environment_rows(inventory).items()}
    rest = {key: value for key, value in metadata.items() if key not in site}
    metadata.clear()
    metadata.update(site | rest)


def _evidence_html(check_id: str, target: str, lines: list[str]) -> str:
    return (f'<div class="wcp-table-evidence"><b>evidence {escape(redact(check_id))} {escape(redact(target))}</b>'
            f'<pre>{escape(redact(chr(10).join(lines)))}</pre></div>')


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Evidence inline in the row of a failure or error, unless the row's log already shows all of it."""
    report = yield
    run = item.config.stash.get(RUN, None)
    record = run.records.get(item.nodeid) if run else None
    if record is None or not report.failed or not record.evidence:
        return report
    if all(line in report.longreprtext for line in record.evidence):
        return report
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover - pytest-html comes with the project
        return report
    report.extras = [*getattr(report, "extras", []),
                     extras.html(_evidence_html(record.check_id, record.target, record.evidence))]
    return report


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, '<th class="sortable" data-column-type="check">Check</th>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    props = dict(report.user_properties)
    test_id = report.nodeid if report.when in ("call", None) else f"{report.nodeid}::{report.when}"
    if len(cells) > 1 and 'class="col-testId"' in cells[1]:
        cells[1] = f'<td class="col-testId">{escape(test_id)}</td>'  # pytest-html does not escape node ids
    cells.insert(1, f'<td class="col-check">{escape(str(props.get("check_id", "")))}</td>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_duration_format(duration: float) -> str:
    return seconds(duration)


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    config = getattr(report, "_config", None)
    inventory = config.stash.get(INVENTORY, None) if config is not None else None
    if config is None or inventory is None:
        report.title = "wcp-acceptance"
        return
    config.stash[REPORT] = report
    report.title = f"{inventory.name} ({inventory.supervisor.name}): running - wcp-acceptance"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    """The first screen, rendered on the server side; the title gets the verdict."""
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    try:
        data = redact_data(dict(run_summary(run)))  # redacted before render() escapes it
        data["exit_code"] = int(session.exitstatus)
        environment = {key: redact(value) for key, value in environment_rows(run.inventory).items()}
        screen = screen_of(data, environment=environment, baseline=run.baseline,
                           baseline_label=run.baseline_label,
                           wall_s=(datetime.now(UTC) - run.started).total_seconds())
    except Exception as exc:  # noqa: BLE001 - a broken first screen must not cost the report
        warnings.warn(f"wcp-acceptance: the report's first screen could not be built: {exc!r}", stacklevel=1)
        prefix.extend(render_error(f"{type(exc).__name__}: {exc}"))
        return
    prefix.extend(redact(line) for line in render(screen))
    report = session.config.stash.get(REPORT, None)
    if report is not None:
        report.title = screen.title
