"""End of a suite run: summary.json, the run links, and the one-line summary for cron (printed last)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wcp_acceptance.plugin.state import RUN, SuiteRun
from wcp_acceptance.report import history, metrics
from wcp_acceptance.report.environment import inline_secret_fields
from wcp_acceptance.report.summary import summary_data, write_json
from wcp_acceptance.report.verdict import cron_line, scope_of


def run_summary(run: SuiteRun, *, state: str = "finished") -> dict[str, object]:
    inv = run.inventory
    return summary_data(site=inv.name, supervisor=inv.supervisor.name, started=run.started,
                        finished=datetime.now(UTC) if state == "finished" else None, exit_code=run.exit_code,
                        records=run.records.values(), selection=run.selection, interrupted_by=run.interrupted_by,
                        state=state, extra={"inline_secrets": inline_secret_fields(inv)})


def write_run_summary(run: SuiteRun, *, state: str = "finished") -> dict[str, object]:
    data = run_summary(run, state=state)
    write_json(run.run_dir.summary, data)
    return data


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    run.exit_code = int(exitstatus)
    data = write_run_summary(run)
    run.run_dir.link_latest()
    history.record_run(run.run_dir.path, data)
    metrics.write_textfile(run.report_root, data)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None or run.exit_code is None:
        return
    records = list(run.records.values())
    scope = scope_of(run.selection, records, interrupted_by=run.interrupted_by)
    line = cron_line(run.inventory.name, records, run.exit_code, run.run_dir.path,
                     interrupted_by=run.interrupted_by, scope=scope)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line)  # noqa: T201
