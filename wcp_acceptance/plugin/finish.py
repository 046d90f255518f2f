"""End of a suite run: summary.json, the run links, and the one-line summary for cron (printed last).

The report is finished once, under one lock, by whichever comes first: pytest's own end of
session (also after SIGTERM/SIGINT, which take pytest's Ctrl-C path), or the stop watchdog of
:mod:`wcp_acceptance.plugin.signals` when that path did not end in time.

PYTEST_DONT_REWRITE: no asserts here, and the html module imports this one before pytest would.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wcp_acceptance.plugin.state import RUN, SuiteRun
from wcp_acceptance.redact import redact, redact_file
from wcp_acceptance.report import history, metrics, provisional, sites_index, tables
from wcp_acceptance.report.environment import inline_secret_fields
from wcp_acceptance.report.run import Runner
from wcp_acceptance.report.summary import summary_data, write_json
from wcp_acceptance.report.verdict import cron_line, scope_of

INTERRUPTED = int(pytest.ExitCode.INTERRUPTED)


@dataclass
class Finishing:
    """How far the end of the run got; shared by the main thread and the stop watchdog."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    stop: dict[str, object] | None = None  # the signal that stopped the run: name, received_at, grace_s
    finishing: bool = False  # pytest_sessionfinish began (teardown, reports)
    html_writing: bool = False  # pytest-html began writing report.html
    html_done: bool = False  # every pytest_sessionfinish implementation returned
    summary_done: bool = False  # summary.json is final, the links moved
    cron_printed: bool = False
    finished_by: str = "pytest"
    data: dict[str, object] | None = None  # the final summary


FINISH = pytest.StashKey[Finishing]()


def finishing_of(config: pytest.Config) -> Finishing | None:
    if config.stash.get(RUN, None) is None:
        return None
    if FINISH not in config.stash:
        config.stash[FINISH] = Finishing()
    return config.stash[FINISH]


@functools.cache
def _runner() -> Runner:
    return Runner.current()


def run_summary(run: SuiteRun, *, state: str = "finished", extra: dict[str, object] | None = None) -> dict[str, object]:
    inv = run.inventory
    more: dict[str, object] = {"inline_secrets": inline_secret_fields(inv), "runner": _runner().as_json(),
                               "asked": dict(sorted(run.asked.items()))}
    more.update(extra or {})
    return summary_data(site=inv.name, supervisor=inv.supervisor.name, started=run.started,
                        finished=datetime.now(UTC) if state == "finished" else None, exit_code=run.exit_code,
                        records=list(run.records.values()), selection=run.selection,
                        interrupted_by=run.interrupted_by, state=state, extra=more)


def write_run_summary(run: SuiteRun, *, state: str = "finished",
                      extra: dict[str, object] | None = None) -> dict[str, object]:
    data = run_summary(run, state=state, extra=extra)
    write_json(run.run_dir.summary, data)
    return data


def report_headline(data: dict[str, Any]) -> tuple[str, str]:
    """The headline and note of a finished report that pytest-html did not write."""
    stop = data.get("stop") or {}
    if stop.get("finished_by") == "watchdog":
        return (f"{data['verdict']}: interrupted by {stop.get('signal')}; the report was finished from what had run",
                f"The run did not end within {stop.get('grace_s')} s of {stop.get('signal')}, so it wrote this report "
                "from the tests that had finished and exited; tests not reached are listed as not run.")
    return str(data["verdict"]), "pytest-html did not write this folder's report.html (--html elsewhere, or disabled)."


def write_final_report(run: SuiteRun, finishing: Finishing, *, write_html: bool,
                       finished_by: str = "pytest") -> dict[str, object]:
    """summary.json (final), report.html when pytest-html does not write it, the marker, ``latest``,
    history, metrics and the sites' index. The caller holds ``finishing.lock`` (or, the watchdog, could
    not get it in time). Idempotent: the second caller gets the first one's summary."""
    if finishing.summary_done and finishing.data is not None:
        return finishing.data
    finishing.finished_by = finished_by
    extra: dict[str, object] = {}
    if finishing.stop is not None:
        extra["stop"] = {**finishing.stop, "finished_by": finished_by}
    data = write_run_summary(run, extra=extra)
    tables.write_tables(run.run_dir.path, data, baseline=run.baseline, baseline_label=run.baseline_label)
    if write_html:
        provisional.write(run.run_dir.html, data, *report_headline(data))
    run.run_dir.clear_running()
    run.run_dir.link_latest()
    finishing.data, finishing.summary_done = data, True
    history.record_run(run.run_dir.path, data)
    metrics.write_textfile(run.report_root, data)
    sites_index.write_index(run.report_root)
    return data


def written_by_pytest_html(config: pytest.Config, run: SuiteRun) -> bool:
    html = config.getoption("htmlpath", None)
    if not html or not config.pluginmanager.hasplugin("html"):
        return False
    path = Path(os.path.expandvars(str(html))).expanduser()
    return (config.invocation_params.dir / path).resolve() == run.run_dir.html.resolve()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(RUN, None)
    finishing = finishing_of(session.config)
    if run is None or finishing is None:
        return
    with finishing.lock:
        if finishing.summary_done:
            return
        run.exit_code = int(exitstatus)
        if run.exit_code == INTERRUPTED and not run.interrupted_by:
            run.interrupted_by = "KeyboardInterrupt"
        write_final_report(run, finishing, write_html=not written_by_pytest_html(session.config, run))


def cron_text(run: SuiteRun, exit_code: int) -> str:
    records = list(run.records.values())
    scope = scope_of(run.selection, records, interrupted_by=run.interrupted_by)
    return redact(cron_line(run.inventory.name, records, exit_code, run.run_dir.path,
                            interrupted_by=run.interrupted_by, scope=scope))


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    finishing = finishing_of(config)
    if run is None or finishing is None or run.exit_code is None:
        return
    with finishing.lock:
        if finishing.cron_printed:
            return
        for written in (run.run_dir.html, run.run_dir.junit):  # pytest-html and pytest wrote these
            redact_file(written)
        line = cron_text(run, run.exit_code)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)  # noqa: T201
        finishing.cron_printed = True
