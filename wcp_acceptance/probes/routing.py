"""Raw policy-routing state of a VM: ``ip -j rule``, every table, and ``ip route get`` per pair.

Only the raw JSON text is collected here; :mod:`wcp_acceptance.iproute` parses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from wcp_acceptance.commands import CommandResult, ReadOnlyRunner
from wcp_acceptance.finding import ObservationError


@dataclass(frozen=True)
class RoutingRaw:
    """What ``ip -j`` printed on ``vm``.

    ``route_gets`` maps ``(destination, source)`` to the JSON of ``ip -j route get <dst> from <src>``;
    a pair the kernel refused to route (e.g. "Network is unreachable") is absent there and its
    error text is in ``route_get_errors`` instead: that is an observation, not a failure to look.
    """

    vm: str
    rules_json: str
    routes_json: str
    route_gets: dict[tuple[str, str], str] = field(default_factory=dict)
    route_get_errors: dict[tuple[str, str], str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<RoutingRaw {self.vm} route_gets={len(self.route_gets)} errors={len(self.route_get_errors)}>"


def _required(result: CommandResult, vm: str) -> str:
    if not result.ok or not result.stdout.strip():
        raise ObservationError(
            vm,
            f"{result.command} exited {result.exit_status}"
            + (f": {result.stderr.strip()[:200]}" if result.stderr.strip() else " with no output"),
            (result.evidence(),),
        )
    return result.stdout


def collect_routing(
    runner: ReadOnlyRunner, pairs: Iterable[tuple[str | IPv4Address, str | IPv4Address]] = ()
) -> RoutingRaw:
    """Collect rules, all tables, and ``ip route get <dst> from <src>`` for each ``(dst, src)`` pair."""
    vm = runner.vm_name
    rules = _required(runner.run(["ip", "-j", "rule", "show"]), vm)
    routes = _required(runner.run(["ip", "-j", "route", "show", "table", "all"]), vm)
    gets: dict[tuple[str, str], str] = {}
    errors: dict[tuple[str, str], str] = {}
    for dst, src in pairs:
        key = (str(dst), str(src))
        if key in gets or key in errors:
            continue
        result = runner.run(["ip", "-j", "route", "get", key[0], "from", key[1]])
        if result.ok and result.stdout.strip():
            gets[key] = result.stdout
        else:
            errors[key] = result.stderr.strip() or f"exit {result.exit_status}, no output"
    return RoutingRaw(vm, rules, routes, gets, errors)
