"""pytest-html hooks: the report names the site, carries check ids and the failures' evidence."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from wcp_acceptance.inventory import Inventory
from wcp_acceptance.plugin.state import INVENTORY, RUN
from wcp_acceptance.report.environment import environment_rows


@pytest.hookimpl(optionalhook=True)
def pytest_metadata(metadata: dict[str, object], config: pytest.Config) -> None:
    """pytest-metadata's own hook: called when it makes the environment table, after the inventory loaded."""
    inventory: Inventory | None = config.stash.get(INVENTORY, None)
    if inventory is not None:
        metadata.update(environment_rows(inventory))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    run = item.config.stash.get(RUN, None)
    record = run.records.get(item.nodeid) if run else None
    if record is None or not report.failed or not record.evidence:
        return report
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover - pytest-html comes with the project
        return report
    text = "\n".join([f"{record.check_id} {record.target}", f"expected: {record.expected}",
                      f"observed: {record.observed}", f"likely cause: {record.cause}", "evidence:",
                      *record.evidence])
    report.extras = [*getattr(report, "extras", []), extras.text(text, name=f"evidence {record.check_id}")]
    return report


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, '<th class="sortable" data-column-type="check">Check</th>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    props = dict(report.user_properties)
    cells.insert(1, f'<td class="col-check">{props.get("check_id", "")}</td>')


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    config = getattr(report, "_config", None)
    inventory = config.stash.get(INVENTORY, None) if config is not None else None
    report.title = f"wcp-acceptance {inventory.name} ({inventory.supervisor.name})" if inventory else "wcp-acceptance"
