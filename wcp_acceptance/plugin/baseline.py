"""``--baseline last-good|PATH``: compare this run with an earlier one of the site; diff.json; the gate's exit code.

Without the option the baseline is the site's ``last-good`` run when there is one (for the report's
"since the last good run"); the run's exit code stays the suite's. With ``--baseline`` (or
``WCP_BASELINE`` / ini ``wcp_baseline``) the exit code answers a change gate instead: 0 when nothing
is worse than the baseline (even if something is still failing), 1 when a check fails or errors that
did not before, or a target that passed before was not reached. Interrupted (2), internal error (3),
bad input (4, also for a baseline that cannot be read) and no checks (5) keep pytest's meaning.
Either way the run writes ``diff.json`` beside its summary and prints one line before the cron line:
``since <baseline>: N new failures, M fixed, K still failing``. ``--baseline none`` compares nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from wcp_acceptance import __version__, catalogue
from wcp_acceptance.plugin.options import Option
from wcp_acceptance.plugin.state import RUN, SuiteRun
from wcp_acceptance.redact import redact
from wcp_acceptance.report.diff import NOTHING_WORSE, RunDiff, diff_summaries
from wcp_acceptance.report.index_html import DIFF as DIFF_FILE
from wcp_acceptance.report.run import run_order
from wcp_acceptance.report.site_runs import LAST_GOOD, SummaryError, link_target, read_summary, resolve_run, site_runs
from wcp_acceptance.report.summary import write_json
from wcp_acceptance.report.trend import TREND_RUNS

BASELINE = Option("baseline", "WCP_BASELINE", "wcp_baseline",
                  "compare with this run: last-good, a run folder, a latest/last-good link, a summary.json, or none; "
                  "given, the exit code tells a change gate whether anything got worse (0 nothing worse, 1 worse)")
EXPLICIT = pytest.StashKey[bool]()
DIFF = pytest.StashKey[RunDiff]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wcp")
    group.addoption("--baseline", dest="wcp_baseline", default=None, metavar="last-good|PATH",
                    help=f"{BASELINE.help}; env {BASELINE.env}, ini {BASELINE.ini}")
    parser.addini(BASELINE.ini, f"{BASELINE.help} (see --baseline)", default=None)


def given(config: pytest.Config) -> str | None:
    """Command line > environment > ini; None when none is set."""
    value = config.getoption("wcp_baseline") or os.environ.get(BASELINE.env) or config.getini(BASELINE.ini)
    return str(value).strip() or None if value else None


def _refuse(config: pytest.Config, run: SuiteRun, message: str) -> None:
    """Bad input: no test runs, so the fresh run folder goes again (exit 4)."""
    with contextlib.suppress(OSError):
        run.run_dir.path.rmdir()
    del config.stash[RUN]
    raise pytest.UsageError(message)


def pytest_configure(config: pytest.Config) -> None:
    """After the run folder exists (session.py, tryfirst): read the baseline into SuiteRun.baseline."""
    run = config.stash.get(RUN, None)
    if run is None:
        return
    spec = given(config)
    config.stash[EXPLICIT] = spec is not None and spec.lower() != "none"
    site_dir = run.run_dir.path.parent
    if spec is None:
        good = link_target(site_dir, LAST_GOOD)
        if good is not None:
            with contextlib.suppress(SummaryError):
                run.baseline, run.baseline_label = read_summary(good), f"the last good run {good.name}"
        return
    if spec.lower() == "none":
        return
    path = Path(spec).expanduser()
    if not path.is_absolute() and (config.invocation_params.dir / path).exists():
        path = config.invocation_params.dir / path
    try:
        found = resolve_run(str(path), site_dir=site_dir)
    except SummaryError as exc:
        hint = f"; {run.inventory.name} has no last good run yet" if spec == LAST_GOOD else ""
        _refuse(config, run, f"--baseline {spec}: {exc}{hint}")
        return
    if found.run_dir is not None and found.run_dir == run.run_dir.path.resolve():
        _refuse(config, run, f"--baseline {spec}: that is this run")
    label = f"the last good run {found.run_dir.name}" if spec == LAST_GOOD and found.run_dir else found.label
    run.baseline, run.baseline_label = found.summary, label


def current_summary(run: SuiteRun, *, state: str = "finished") -> dict[str, object]:
    """What the diff needs of this run, from its records (summary.json is not written yet)."""
    return {"inventory": run.inventory.name, "suite_version": __version__,
            "catalogue_version": catalogue.catalogue_version(), "state": state,
            "tests": [r.as_json() for r in run.records.values()]}


def _history(run: SuiteRun, window: int = TREND_RUNS) -> list[dict[str, Any]]:
    """The site's earlier runs with a summary, oldest first: at most ``window - 1``, for flapping."""
    earlier = [r for r in site_runs(run.run_dir.path.parent)
               if r.summary is not None and run_order(r.name) < run_order(run.run_dir.path.name)]
    return [r.summary for r in earlier[: window - 1][::-1] if r.summary is not None]


def compare(run: SuiteRun, *, history: bool = False) -> RunDiff | None:
    if run.baseline is None:
        return None
    return diff_summaries(run.baseline, current_summary(run), label=run.baseline_label or "the baseline",
                          after_label=f"this run {run.run_dir.path.name}",
                          history=_history(run) if history else ())


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, Any, Any]:
    """With an explicit baseline, failures that the baseline had too do not fail the gate."""
    result = yield
    run = session.config.stash.get(RUN, None)
    if run is not None and session.config.stash.get(EXPLICIT, False) and session.testsfailed:
        diff = compare(run)
        if diff is not None and diff.exit_code == NOTHING_WORSE:
            session.testsfailed = 0  # pytest's exit code is 1 only while testsfailed counts a failure
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    diff = compare(run, history=True)
    if diff is None:
        return
    session.config.stash[DIFF] = diff
    data: dict[str, object] = {"schema_version": 1, "baseline": run.baseline_label,
                               "explicit": session.config.stash.get(EXPLICIT, False), **diff.as_json()}
    with contextlib.suppress(OSError):
        write_json(run.run_dir.path / DIFF_FILE, data)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None:
        return
    diff = config.stash.get(DIFF, None)
    if diff is not None:
        gate = f" ({diff.verdict})" if config.stash.get(EXPLICIT, False) else ""
        terminalreporter.write_line(redact(diff.line() + gate))
    elif not config.stash.get(EXPLICIT, False) and given(config) is None:
        terminalreporter.write_line(f"no baseline: {run.inventory.name} has no last good run yet")
