"""``wcp-acceptance run``: the packaged suite against one site, as pytest would run ``tests_live``.

Arguments it does not know are passed to pytest (``-m dns``, ``-x``, ``-q``, ``--timeout`` ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from wcp_acceptance.paths import live_dir

SUITE_INI = Path(__file__).resolve().parents[1] / "plugin" / "suite.ini"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run the suite against a site (other arguments go to pytest)")
    p.add_argument("sites", nargs="*", metavar="INVENTORY", help="the site's inventory (or --inventory)")
    p.add_argument("--inventory", help="the site's inventory YAML (env WCP_INVENTORY)")
    p.add_argument("--report-dir", help="where reports go (env WCP_REPORT_DIR)")
    p.add_argument("--check", action="append", default=[], metavar="ID", help="only these check ids")
    p.set_defaults(handler=handle, accepts_pytest_args=True)


def pytest_argv(inventory: str | None, report_dir: str | None, checks: list[str], rest: list[str]) -> list[str]:
    """The pytest command line for the packaged suite: its own rootdir and ini, no conftest of the caller."""
    live = live_dir()
    argv = [str(live), "-p", "wcp_acceptance.plugin", "--rootdir", str(live.parent), "--confcutdir", str(live),
            "-c", str(SUITE_INI)]
    if inventory:
        argv += ["--inventory", inventory]
    if report_dir:
        argv += ["--report-dir", report_dir]
    for check in checks:
        argv += ["--check", check]
    return [*argv, *rest]


def handle(args: argparse.Namespace, rest: list[str]) -> int:
    sites = list(args.sites) + ([args.inventory] if args.inventory else [])
    if len(sites) > 1:
        raise SystemExit("wcp-acceptance run: one inventory at a time")
    inventory = sites[0] if sites else os.environ.get("WCP_INVENTORY")
    argv = [sys.executable, "-m", "pytest", *pytest_argv(inventory, args.report_dir, args.check, rest)]
    # become pytest: signals from a scheduler reach the run itself, the exit code is the run's
    os.execv(sys.executable, argv)  # noqa: S606
    return 3  # pragma: no cover - execv does not return
