"""Collection: parametrise from the inventory, ids from domain objects, check ids, selection, exclusions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase

import pytest

from wcp_acceptance import catalogue, plan
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.plugin.state import INVENTORY, RUN
from wcp_acceptance.report.summary import TestRecord
from wcp_acceptance.targets import (
    CapacityTarget,
    CertEndpoint,
    ClockProbe,
    DnsProbe,
    EgressProbe,
    ManagerTlsProbe,
    MtuProbe,
    NamespaceRef,
    NatCase,
    NcpViewRef,
    NtpProbe,
    ResolverProbe,
    ReturnPathProbe,
    RouteProbe,
    ServicePort,
    ServiceRef,
    UpstreamProbe,
    VipPort,
)

# what each parametrised fixture name takes from the inventory
PLANS: dict[str, Callable[[Inventory], Sequence[object]]] = {
    "dns_probe": plan.dns_probes,
    "ptr_probe": lambda inv: plan.dns_probes(inv, ptr_only=True),
    "resolver_probe": plan.resolver_probes,
    "upstream_probe": plan.upstream_probes,
    "route_probe": plan.route_probes,
    "egress_probe": plan.egress_probes,
    "vip_port": plan.vip_ports,
    "nat_case": plan.nat_cases,
    "slb_target": plan.slb_targets,
    "cert_endpoint": plan.cert_endpoints,
    "namespace_ref": plan.namespace_refs,
    "ncp_view": plan.ncp_views,
    "manager_tls_probe": plan.manager_tls_probes,
    "capacity_target": plan.capacity_targets,
    "return_path_probe": plan.return_path_probes,
    "time_target": plan.time_targets,
    "mtu_probe": plan.mtu_probes,
}
TARGET_TYPES = (DnsProbe, UpstreamProbe, ResolverProbe, RouteProbe, EgressProbe, NatCase, ServicePort, VipPort,
                ServiceRef, CertEndpoint, NamespaceRef, NcpViewRef, ManagerTlsProbe, CapacityTarget, ReturnPathProbe,
                ClockProbe, NtpProbe, MtuProbe)


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


def title_of(item: pytest.Item) -> str:
    check = catalogue.BY_ID.get(check_id_of(item))
    if check is not None:
        return check.title
    doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
    return doc.strip().splitlines()[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Before -m/-k deselect: every live test gets its check id as a keyword, so -k WCP-DNS-001 selects it."""
    if config.stash.get(INVENTORY, None) is None:
        return
    for item in items:
        check_id = check_id_of(item)
        item.extra_keyword_matches.add(check_id)
        item.user_properties.append(("check_id", check_id))
        item.user_properties.append(("target", target_of(item)))
        check = catalogue.BY_ID.get(check_id)
        if check is not None and item.get_closest_marker(check.area) is None:
            item.add_marker(check.area)


def _select_by_check(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash.get(RUN, None)
    chosen = set(run.selection.checks) if run else set(catalogue.select(config.getoption("wcp_checks") or [])[0])
    if not chosen:
        return
    keep = [i for i in items if check_id_of(i) in chosen]
    drop = [i for i in items if check_id_of(i) not in chosen]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _apply_exclusions(config: pytest.Config, items: list[pytest.Item]) -> None:
    inventory = config.stash.get(INVENTORY, None)
    if inventory is None:
        return
    for item in items:
        check_id, target = check_id_of(item), target_of(item)
        for rule in inventory.exclusions:
            if rule.check == check_id and fnmatchcase(target, rule.target):
                item.add_marker(pytest.mark.skip(reason=f"excluded by the inventory: {rule.reason}"))
                break


class _Selection:
    """Selection by --check and exclusions, after -m/-k; a second hook implementation needs its own object."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if config.stash.get(INVENTORY, None) is None:
            return
        _select_by_check(config, items)
        _apply_exclusions(config, items)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Selection(), "wcp_acceptance.plugin.collection.selection")


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    run = items[0].config.stash.get(RUN, None)
    if run is not None:
        run.selection.deselected += len(items)
        run.selection.deselected_checks.update(check_id_of(i) for i in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every selected test has a record from the start: one that never runs stays ``not_run``."""
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    for item in session.items:
        run.records[item.nodeid] = TestRecord(check_id=check_id_of(item), nodeid=item.nodeid,
                                              title=title_of(item), target=target_of(item), outcome="not_run")
