"""The ``wcp`` option group: each option has an environment variable and an ini twin (STYLE rule 5)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from wcp_acceptance import catalogue
from wcp_acceptance.paths import default_report_root


@dataclass(frozen=True)
class Option:
    name: str
    env: str
    ini: str
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("inventory", "WCP_INVENTORY", "wcp_inventory", "the site's inventory YAML"),
    Option("report_dir", "WCP_REPORT_DIR", "wcp_report_dir",
           "where runs write <site>/<UTC timestamp>/ (report.html, junit.xml, summary.json); default: the "
           "checkout's reports/ when the suite runs from a checkout, else $XDG_STATE_HOME/wcp-acceptance/reports "
           "(/var/lib/wcp-acceptance/reports as root)"),
)
BY_NAME = {o.name: o for o in OPTIONS}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wcp", "wcp-acceptance (precedence: command line > environment > ini > default)")
    for opt in OPTIONS:
        flag = "--" + opt.name.replace("_", "-")
        group.addoption(flag, dest=f"wcp_{opt.name}", default=None, help=f"{opt.help}; env {opt.env}, ini {opt.ini}")
        parser.addini(opt.ini, f"{opt.help} (see {flag})", default=None)
    group.addoption("--check", dest="wcp_checks", action="append", default=[], metavar="ID",
                    help="run only these check ids (repeatable, comma-separated, globs like WCP-DNS-*); "
                         "-k WCP-DNS-001 works too")
    group.addoption("--wcp-list", dest="wcp_list", action="store_true", default=False,
                    help="print the check catalogue and exit")


def option(config: pytest.Config, name: str) -> str | None:
    """Command line > environment > ini (STYLE rule 5); None when none is set."""
    opt = BY_NAME[name]
    value = config.getoption(f"wcp_{name}") or os.environ.get(opt.env) or config.getini(opt.ini)
    return str(value) if value else None


def report_root(config: pytest.Config) -> Path:
    """Where reports go. A relative command-line or environment value is taken from the working directory
    (the user typed it there); a relative ini value from the ini file's directory; the default does not
    depend on the working directory at all (cron starts in $HOME)."""
    opt = BY_NAME["report_dir"]
    given = config.getoption(f"wcp_{opt.name}") or os.environ.get(opt.env)
    if given:
        path = Path(given)
        return path if path.is_absolute() else config.invocation_params.dir / path
    ini = config.getini(opt.ini)
    if ini:
        path = Path(str(ini))
        base = config.inipath.parent if config.inipath else config.rootpath
        return path if path.is_absolute() else base / path
    return default_report_root()


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.getoption("wcp_list", False):
        print(catalogue.render_text())  # noqa: T201 - the command's output
        return 0
    return None
