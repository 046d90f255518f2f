"""``--keep-runs N`` / ``--keep-days D``: after a run, delete the site's older runs (never latest, last-good
or a running one) and refresh the site's index. Without either, every run is kept."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from wcp_acceptance.plugin.options import Option
from wcp_acceptance.plugin.session import suite_requested
from wcp_acceptance.plugin.state import RUN
from wcp_acceptance.report.index_html import write_index
from wcp_acceptance.report.retention import Retention, prune
from wcp_acceptance.report.site_runs import site_runs

KEEP_RUNS = Option("keep_runs", "WCP_KEEP_RUNS", "wcp_keep_runs",
                   "after the run, keep only the newest N runs of the site (latest, last-good and running runs "
                   "are always kept); default: keep all")
KEEP_DAYS = Option("keep_days", "WCP_KEEP_DAYS", "wcp_keep_days",
                   "after the run, delete the site's runs that started more than D days ago (latest, last-good "
                   "and running runs are always kept); default: keep all")
POLICY = pytest.StashKey[Retention]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wcp")
    for opt, metavar in ((KEEP_RUNS, "N"), (KEEP_DAYS, "D")):
        flag = "--" + opt.name.replace("_", "-")
        group.addoption(flag, dest=f"wcp_{opt.name}", default=None, metavar=metavar,
                        help=f"{opt.help}; env {opt.env}, ini {opt.ini}")
        parser.addini(opt.ini, f"{opt.help} (see {flag})", default=None)


def _value(config: pytest.Config, opt: Option) -> str | None:
    value = config.getoption(f"wcp_{opt.name}") or os.environ.get(opt.env) or config.getini(opt.ini)
    return str(value).strip() or None if value else None


def policy_of(config: pytest.Config) -> Retention:
    """The retention policy from command line > environment > ini; UsageError (exit 4) if a value is bad."""
    runs, days = _value(config, KEEP_RUNS), _value(config, KEEP_DAYS)
    keep_runs: int | None = None
    keep_days: float | None = None
    if runs is not None:
        try:
            keep_runs = int(runs)
        except ValueError:
            keep_runs = 0
        if keep_runs < 1:
            raise pytest.UsageError(f"--keep-runs/{KEEP_RUNS.env}/{KEEP_RUNS.ini}: {runs!r} is not a whole number "
                                    "of runs of at least 1")
    if days is not None:
        try:
            keep_days = float(days)
        except ValueError:
            keep_days = -1.0
        if not keep_days > 0:
            raise pytest.UsageError(f"--keep-days/{KEEP_DAYS.env}/{KEEP_DAYS.ini}: {days!r} is not a number of "
                                    "days greater than 0")
    return Retention(keep_runs, keep_days)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before the run folder is made: a bad value stops the run with exit 4 and writes nothing."""
    if suite_requested(config):
        config.stash[POLICY] = policy_of(config)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, Any, Any]:
    """After the summary, the links and the index are written (finish.py): prune, then refresh the index."""
    result = yield
    run = session.config.stash.get(RUN, None)
    policy = session.config.stash.get(POLICY, Retention())
    if run is None or not policy.limited:
        return result
    site_dir = run.run_dir.path.parent
    try:
        removed = prune(site_dir, policy, current=run.run_dir.path)
        if removed:
            write_index(site_dir, site_runs(site_dir))
    except OSError as exc:
        session.config.get_terminal_writer().line(f"wcp-acceptance: retention in {site_dir}: {exc}")
    return result
