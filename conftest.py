"""wcp-acceptance pytest plugin entry: options, inventory validation, parametrisation, reports.

Active only for a suite run (``pytest tests_live ...`` or an inventory given); the project's own
tests under tests/ load this file too and find it inert. Fixtures live in fixtures/.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fixtures.keys import INVENTORY, RUN
from wcp_acceptance import plan
from wcp_acceptance.finding import CheckFailed, ObservationError
from wcp_acceptance.inventory import Inventory, InventoryError, load_inventory
from wcp_acceptance.report.run import RunDir
from wcp_acceptance.report.summary import TestRecord, cron_line, write_summary
from wcp_acceptance.targets import (
    DnsProbe,
    EgressProbe,
    NatCase,
    ResolverProbe,
    RouteProbe,
    ServicePort,
    VipPort,
)

pytest_plugins = ["fixtures.site", "fixtures.vms", "fixtures.apis", "fixtures.observations"]

ROOT = Path(__file__).resolve().parent
LIVE_DIR = ROOT / "tests_live"



# option name -> (env var, ini name, default, help)
OPTIONS: dict[str, tuple[str, str, str | None, str]] = {
    "inventory": ("WCP_INVENTORY", "wcp_inventory", None, "the site's inventory YAML"),
    "report_dir": ("WCP_REPORT_DIR", "wcp_report_dir", "reports",
                   "where runs write <inventory name>/<UTC timestamp>/ (report.html, junit.xml, summary.json)"),
}

# what each parametrised fixture name takes from the inventory
PLANS = {
    "dns_probe": plan.dns_probes,
    "ptr_probe": lambda inv: plan.dns_probes(inv, ptr_only=True),
    "resolver_probe": plan.resolver_probes,
    "route_probe": plan.route_probes,
    "egress_probe": plan.egress_probes,
    "vip_port": plan.vip_ports,
    "nat_case": plan.nat_cases,
}
TARGET_TYPES = (DnsProbe, ResolverProbe, RouteProbe, EgressProbe, NatCase, ServicePort, VipPort)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wcp", "wcp-acceptance (precedence: command line > environment > ini > default)")
    for name, (env, ini, default, text) in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        group.addoption(flag, dest=f"wcp_{name}", default=None, help=f"{text}; env {env}, ini {ini}")
        parser.addini(ini, f"{text} (see {flag})", default=default)


def option(config: pytest.Config, name: str) -> str | None:
    """CLI > env > ini > default (STYLE rule 5)."""
    env, ini, _default, _ = OPTIONS[name]
    value = config.getoption(f"wcp_{name}") or os.environ.get(env) or config.getini(ini)
    return str(value) if value else None


def _suite_requested(config: pytest.Config) -> bool:
    if option(config, "inventory"):
        return True
    base = config.invocation_params.dir
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if path == LIVE_DIR or LIVE_DIR in path.parents:
            return True
    return False


class SuiteRun:
    """The state of one suite run: inventory, report directory and one record per test."""

    def __init__(self, inventory: Inventory, run_dir: RunDir, started: datetime) -> None:
        self.inventory = inventory
        self.run_dir = run_dir
        self.started = started
        self.records: dict[str, TestRecord] = {}
        self.exit_code: int | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in ("check_id(id): the stable check id of a live check",):
        config.addinivalue_line("markers", marker)
    if not _suite_requested(config):
        return
    source = option(config, "inventory")
    if not source:
        raise pytest.UsageError("no inventory: give --inventory FILE, WCP_INVENTORY=FILE or ini wcp_inventory")
    path = Path(source)
    if not path.is_absolute():
        path = config.invocation_params.dir / path
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise pytest.UsageError("invalid inventory:\n" + "\n".join(exc.problems)) from None
    config.stash[INVENTORY] = inventory
    if config.option.collectonly:
        return  # validating and listing writes no report
    report_root = Path(option(config, "report_dir") or "reports")
    if not report_root.is_absolute():
        report_root = config.invocation_params.dir / report_root
    started = datetime.now(UTC)
    try:
        run_dir = RunDir.create(report_root, inventory.name, started)
    except OSError as exc:
        raise pytest.UsageError(f"cannot create the report directory under {report_root}: {exc}") from None
    config.stash[RUN] = SuiteRun(inventory, run_dir, started)
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = str(run_dir.html)
        config.option.self_contained_html = True
    if not config.getoption("xmlpath", None):
        config.option.xmlpath = str(run_dir.junit)
    _describe_environment(config, inventory)


def _describe_environment(config: pytest.Config, inv: Inventory) -> None:
    """The report's environment table: what was checked, never credentials."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-html always brings pytest-metadata
        return
    meta = config.stash.get(metadata_key, None)
    if meta is None:
        return
    insecure = [vm.name for vm in inv.supervisor.control_plane if vm.ssh.insecure_skip_host_key_check]
    meta.update({
        "Inventory": inv.name,
        "Supervisor": inv.supervisor.name,
        "Control-plane VMs": ", ".join(vm.name for vm in inv.supervisor.control_plane),
        "API VIP": f"{inv.api_vip.address} ports {', '.join(map(str, inv.api_vip.ports))}",
        "NSX managers": ", ".join(inv.nsx.managers),
        "Read-only": "yes (GET and session login only; allow-listed VM commands)",
        "Host-key checking": "off for " + ", ".join(insecure) if insecure else "on (known_hosts)",
        "Inline secrets": ", ".join(inline_secret_fields(inv)) or "none",
    })


def inline_secret_fields(inv: Inventory) -> list[str]:
    """Field paths whose secret is written in the inventory itself (allowed, but flagged)."""
    fields = [f"supervisor.control_plane[{i}].ssh.password"
              for i, vm in enumerate(inv.supervisor.control_plane) if vm.ssh.password and vm.ssh.password.inline]
    for label, secret in (("nsx.password", inv.nsx.password),
                          ("vcenter.password", inv.vcenter.password if inv.vcenter else None),
                          ("kubernetes.token", inv.kubernetes.token)):
        if secret is not None and secret.inline:
            fields.append(label)
    return fields


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    inventory = metafunc.config.stash.get(INVENTORY, None)
    if inventory is None:
        return
    for name, make in PLANS.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, make(inventory), ids=str)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    return str(val) if isinstance(val, TARGET_TYPES) else None


def check_id_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("check_id")
    return str(marker.args[0]) if marker and marker.args else "WCP-UNKNOWN"


def target_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        return str(callspec.id)
    inv = item.config.stash.get(INVENTORY, None)
    return inv.supervisor.name if inv else item.name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash.get(RUN, None)
    if run is None:
        return
    from fnmatch import fnmatchcase

    for item in items:
        check_id, target = check_id_of(item), target_of(item)
        item.user_properties.append(("check_id", check_id))
        item.user_properties.append(("target", target))
        for rule in run.inventory.exclusions:
            if rule.check == check_id and fnmatchcase(target, rule.target):
                item.add_marker(pytest.mark.skip(reason=f"excluded by the inventory: {rule.reason}"))
                break


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    run = item.config.stash.get(RUN, None)
    if run is None:
        return report
    excinfo = call.excinfo
    record = run.records.setdefault(item.nodeid, TestRecord(
        check_id=check_id_of(item), nodeid=item.nodeid, title=_title(item), target=target_of(item)))
    record.duration_s += report.duration
    if report.skipped and record.outcome == "passed":
        record.outcome = "skipped"
        longrepr = report.longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        record.skip_reason = reason.removeprefix("Skipped: ")
    elif report.failed:
        record.outcome = "failed" if report.when == "call" else "error"
        value = excinfo.value if excinfo else None
        if isinstance(value, CheckFailed):
            f = value.finding
            record.expected, record.observed, record.cause = f.expected, f.observed, f.cause
            record.evidence = list(f.evidence)
            report.longrepr = f"[{record.check_id}] {f.message()}"
        elif isinstance(value, ObservationError):
            record.outcome = "error"
            record.expected = "an observation"
            record.observed = f"could not observe {value.target}"
            record.cause = value.cause
            record.evidence = list(value.evidence)
            report.longrepr = f"[{record.check_id}] {value}"
        elif value is not None:
            record.expected = "the check to run"
            record.observed = f"{type(value).__name__}: {value}"
            record.cause = "an unexpected error in the suite while observing"
        _attach_evidence(item, report, record)
    return report


def _title(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
    return doc.strip().splitlines()[0]


def _attach_evidence(item: pytest.Item, report: pytest.TestReport, record: TestRecord) -> None:
    """Raw evidence goes into the HTML row, and only for failures (STYLE rule 12)."""
    if not record.evidence:
        return
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover
        return
    text = "\n".join([f"{record.check_id} {record.target}", f"expected: {record.expected}",
                      f"observed: {record.observed}", f"likely cause: {record.cause}", "evidence:",
                      *record.evidence])
    report.extras = [*getattr(report, "extras", []), extras.text(text, name=f"evidence {record.check_id}")]


def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, '<th class="sortable" data-column-type="check">Check</th>')


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    props = dict(report.user_properties)
    cells.insert(1, f'<td class="col-check">{props.get("check_id", "")}</td>')


def pytest_html_report_title(report: Any) -> None:
    report.title = "wcp-acceptance"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    run.exit_code = int(exitstatus)
    write_summary(run.run_dir.summary, inventory=run.inventory.name, started=run.started,
                  finished=datetime.now(UTC), exit_code=run.exit_code, records=list(run.records.values()),
                  extra={"inline_secrets": inline_secret_fields(run.inventory)})
    run.run_dir.link_latest()


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None or run.exit_code is None:
        return
    line = cron_line(run.inventory.name, list(run.records.values()), run.exit_code, run.run_dir.path)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line)  # noqa: T201
