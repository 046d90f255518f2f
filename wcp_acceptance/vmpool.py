"""One SSH connection per control-plane VM, made on first use and reused by every check.

A VM that cannot be reached costs one connect timeout: the failure is remembered and raised
again (as the same readable ObservationError) for each of that VM's checks, while the other
VMs' checks go on. Each VM has one read-only runner for the whole run, so what it learns once
(``command -v python3``, ``/etc/resolv.conf``) it never asks again. The VM's routing (rules,
tables and the ``ip route get`` answers the checks need) is read once per VM as well. The pool is
safe to use from several threads: VMs are observed concurrently (:mod:`wcp_acceptance.observe_all`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from ipaddress import IPv4Address

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.inventory.model import ControlPlaneVm
from wcp_acceptance.iproute import PolicyRouting
from wcp_acceptance.plan import management_dependencies
from wcp_acceptance.probes.routing import RoutingRaw, collect_routing
from wcp_acceptance.transport.ssh import VmConnection, connect_vm

BUILTIN_TABLES = {"main", "local", "default", "unspec"}


@dataclass(frozen=True)
class VmRouting:
    """A VM's policy routing, parsed, with the raw ``ip -j`` output kept for evidence."""

    raw: RoutingRaw
    routing: PolicyRouting
    workload_tables: tuple[str, ...]

    def route_get(self, dst: IPv4Address | str, src: IPv4Address | str) -> str | None:
        """The VM's ``ip -j route get dst from src`` answer, or the kernel's refusal text."""
        key = (str(dst), str(src))
        return self.raw.route_gets.get(key) or self.raw.route_get_errors.get(key)


def route_pairs(inv: Inventory, vm: ControlPlaneVm) -> list[tuple[str, str]]:
    """Every (destination, source) a check on ``vm`` may want the kernel's answer for."""
    pairs: list[tuple[str, str]] = []
    _, mgmt = vm.management_interface
    for address, _role in management_dependencies(inv):
        pairs.append((str(address), str(mgmt.address.ip)))
    for spec in vm.interfaces.values():
        role = inv.dns.management if spec.network == "management" else inv.dns.workload
        for server in spec.dns_servers or role.servers:
            pairs.append((str(server), str(spec.address.ip)))
    return list(dict.fromkeys(pairs))


class VmPool:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._vms = {vm.name: vm for vm in inventory.supervisor.control_plane}
        self._connections: dict[str, VmConnection] = {}
        self._failures: dict[str, ObservationError] = {}
        self._runners: dict[str, ReadOnlyRunner] = {}
        self._routing: dict[str, VmRouting | ObservationError] = {}
        self._lock = threading.Lock()
        self._connecting = {name: threading.Lock() for name in self._vms}
        self._reading_routes = {name: threading.Lock() for name in self._vms}

    def vm(self, name: str) -> ControlPlaneVm:
        return self._vms[name]

    def connection(self, name: str) -> VmConnection:
        """The VM's one connection (connecting one VM never waits for another VM's connect)."""
        with self._connecting[name]:
            if name in self._failures:
                failure = self._failures[name]
                raise ObservationError(failure.target, failure.cause, failure.evidence)
            if name not in self._connections:
                try:
                    connection = connect_vm(self._vms[name], self.inventory.timeouts)
                except ObservationError as error:
                    self._failures[name] = error
                    raise
                with self._lock:
                    self._connections[name] = connection
            return self._connections[name]

    def runner(self, name: str) -> ReadOnlyRunner:
        """The VM's runner for the whole run (its caches live as long as the pool)."""
        connection = self.connection(name)
        with self._lock:
            runner = self._runners.get(name)
            if runner is None or runner.host is not connection:
                runner = self._runners[name] = connection.runner(self.inventory.timeouts.command)
            return runner

    def routing(self, name: str) -> VmRouting:
        """The VM's routing, read once (concurrent callers for one VM wait for the first)."""
        with self._reading_routes[name]:
            return self._read_routing(name)

    def _read_routing(self, name: str) -> VmRouting:
        cached = self._routing.get(name)
        if isinstance(cached, ObservationError):
            raise ObservationError(cached.target, cached.cause, cached.evidence)
        if cached is not None:
            return cached
        vm = self._vms[name]
        try:
            raw = collect_routing(self.runner(name), route_pairs(self.inventory, vm))
            local = [str(spec.address.ip) for spec in vm.interfaces.values()]
            routing = PolicyRouting.from_json(raw.rules_json, raw.routes_json, local)
        except ObservationError as error:
            self._routing[name] = error
            raise
        except ValueError as error:  # output that does not parse: we could not observe it
            failure = ObservationError(f"{name} routing", f"unreadable ip -j output: {error}")
            self._routing[name] = failure
            raise failure from None
        workload_devs = {iface for iface, _ in vm.workload_interfaces}
        tables = sorted({r.table for r in routing.routes
                         if r.table not in BUILTIN_TABLES and r.dev in workload_devs})
        result = VmRouting(raw, routing, tuple(tables))
        self._routing[name] = result
        return result

    def asked(self) -> dict[str, int]:
        """What this run asked of the VMs so far: SSH connections made and commands sent."""
        with self._lock:
            return {"ssh_connections": len(self._connections),
                    "ssh_commands": sum(r.commands for r in self._runners.values())}

    def close(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
            self._runners.clear()
        for connection in connections:
            connection.close()
