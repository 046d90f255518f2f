"""Start of a suite run: is one requested, validate the inventory, create the run directory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wcp_acceptance import catalogue
from wcp_acceptance.inventory import InventoryError, load_inventory
from wcp_acceptance.paths import live_dir
from wcp_acceptance.plugin.options import option, report_root
from wcp_acceptance.plugin.state import INVENTORY, RUN, SuiteRun
from wcp_acceptance.redact import install_log_redaction, redact, register_secrets
from wcp_acceptance.report.run import RunDir
from wcp_acceptance.report.summary import Selection


def _collects_the_suite(config: pytest.Config) -> bool:
    live = live_dir()
    base = config.invocation_params.dir
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if path == live or live in path.parents:
            return True
    return False


def suite_requested(config: pytest.Config) -> bool:
    return bool(option(config, "inventory")) or _collects_the_suite(config)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check_id(id): the stable check id of a live check, shown in every report")
    for line in catalogue.marker_lines():
        config.addinivalue_line("markers", line)
    if not suite_requested(config):
        return
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        # an inventory and no test path: run the suite, never whatever the working directory holds
        config.args = [str(live_dir())]
    source = option(config, "inventory")
    if not source:
        raise pytest.UsageError("no inventory: give --inventory FILE, WCP_INVENTORY=FILE or ini wcp_inventory")
    chosen, unknown = catalogue.select(list(config.getoption("wcp_checks") or []))
    if unknown:
        raise pytest.UsageError(f"--check: unknown check id {', '.join(unknown)} (known: "
                                f"{', '.join(sorted(catalogue.IDS))}; see --wcp-list)")
    path = Path(source)
    if not path.is_absolute():
        path = config.invocation_params.dir / path
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise pytest.UsageError("invalid inventory:\n" + "\n".join(redact(p) for p in exc.problems)) from None
    register_secrets(inventory)
    install_log_redaction()
    config.stash[INVENTORY] = inventory
    if config.option.collectonly:
        return  # validating and listing writes no report
    root = report_root(config)
    started = datetime.now(UTC)
    try:
        run_dir = RunDir.create(root, inventory.name, started)
    except OSError as exc:
        raise pytest.UsageError(f"cannot create the report directory under {root}: {exc}") from None
    selection = Selection(markers=str(config.getoption("markexpr", "") or ""),
                          keywords=str(config.getoption("keyword", "") or ""),
                          checks=sorted(chosen), maxfail=int(config.getoption("maxfail", 0) or 0))
    config.stash[RUN] = SuiteRun(inventory, str(path), run_dir, root, started, selection)
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = str(run_dir.html)
        config.option.self_contained_html = True
    if not config.getoption("xmlpath", None):
        config.option.xmlpath = str(run_dir.junit)
