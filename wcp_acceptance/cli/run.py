"""``wcp-acceptance run``: the packaged suite against one site, as pytest would run ``tests_live``, or many.

One site (``run --inventory X`` or ``run X.yaml``): this process becomes pytest (``exec``), inside the site's
``runner.netns`` when it names one. Several sites (``run sites/*.yaml --jobs N``): each runs as its own
pytest process, at most N at a time (:mod:`wcp_acceptance.cli.sites`), and the exit code combines theirs.
Arguments it does not know are passed to pytest (``-m dns``, ``-x``, ``-q``, ``--timeout`` ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from wcp_acceptance.cli import site_launch
from wcp_acceptance.cli import sites as many
from wcp_acceptance.cli.site_netns import NetnsProblem, SiteSpec, read_site, wrap
from wcp_acceptance.paths import default_report_root, live_dir

SUITE_INI = Path(__file__).resolve().parents[1] / "plugin" / "suite.ini"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run the suite against a site (other arguments go to pytest)")
    # Inventories are the arguments that end in .yaml or .yml; everything else goes to pytest in its
    # order, so `-m dns` keeps its value (a positional argument here would swallow `dns` as a site).
    p.add_argument("--inventory", action="append", default=[], dest="inventories", metavar="INVENTORY",
                   help="a site's inventory YAML (repeatable; or give the paths: run sites/*.yaml; env WCP_INVENTORY)")
    p.add_argument("--report-dir", help="where reports go (env WCP_REPORT_DIR)")
    p.add_argument("--check", action="append", default=[], metavar="ID", help="only these check ids")
    p.add_argument("--jobs", type=_positive, default=many.DEFAULT_JOBS, metavar="N",
                   help=f"several sites: run at most N at a time (default {many.DEFAULT_JOBS})")
    p.add_argument("--term-grace", type=float, default=many.DEFAULT_GRACE_S, metavar="SECONDS",
                   help="several sites: after SIGTERM/SIGINT, how long the sites' runs get to finish their "
                        f"reports before they are killed (default {many.DEFAULT_GRACE_S:g})")
    p.add_argument("--spawn", action="store_true",
                   help="several sites: start each as a fresh `python -m pytest` process instead of forking it "
                        "from this runner, which imported the suite's libraries once (slower: each site pays them)")
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def suite_command(inventory: str | None, report_dir: str | None, checks: list[str], rest: list[str]) -> list[str]:
    """The command that runs the packaged suite for one site: this interpreter's pytest."""
    return [sys.executable, "-m", "pytest", *pytest_argv(inventory, report_dir, checks, rest)]


INVENTORY_SUFFIXES = (".yaml", ".yml")


def split_sites(rest: list[str]) -> tuple[list[str], list[str]]:
    """The inventories among the arguments argparse did not take, and what is left for pytest (in order)."""
    sites = [a for a in rest if not a.startswith("-") and a.lower().endswith(INVENTORY_SUFFIXES)]
    return sites, [a for a in rest if a not in sites]


def handle(args: argparse.Namespace, rest: list[str]) -> int:
    given, rest = split_sites(rest)
    rest += getattr(args, "after_dashes", [])  # after `--`: pytest's, never an inventory
    sites = list(dict.fromkeys([*given, *args.inventories]))
    if len(sites) > 1:
        root = Path(args.report_dir or os.environ.get("WCP_REPORT_DIR") or default_report_root()).absolute()
        def arguments(site: SiteSpec) -> list[str]:
            return pytest_argv(str(site.path.absolute()), str(root), args.check, rest)

        launcher = (site_launch.spawner(lambda site: [sys.executable, "-m", "pytest", *arguments(site)])
                    if args.spawn else site_launch.forker(arguments))
        return many.run_sites([read_site(site) for site in sites], report_root=root, jobs=args.jobs,
                              grace_s=args.term_grace, launcher=launcher)
    inventory = sites[0] if sites else os.environ.get("WCP_INVENTORY")
    argv = suite_command(inventory, args.report_dir, args.check, rest)
    if inventory:
        try:
            argv = wrap(read_site(inventory), argv)
        except NetnsProblem as exc:
            print(f"wcp-acceptance: {exc}", file=sys.stderr)  # noqa: T201
            return 4
    # become pytest: signals from a scheduler reach the run itself, the exit code is the run's
    os.execv(argv[0], argv)  # noqa: S606
    return 3  # pragma: no cover - execv does not return
