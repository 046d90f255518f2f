"""WCP-RT-001: traffic to a management dependency stays on the management interface.

Once a Supervisor VM gets its workload NIC (eth1), it adds priority-0 rules that steer the
workload ranges and the *workload DNS servers* into table 200, whose default route leaves through
eth1. When management and workload DNS share an address (the seed: 192.168.10.10), management DNS
is steered out eth1 too, where nothing routes it back, and the bootstrap stalls. This check asks
the rules and tables read from the VM (and the VM's own ``ip route get``) which way the traffic
from the management address to each dependency leaves.

:func:`diagnose_path` is shared with the DNS checks, which use it to explain a failed query.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.iproute import PolicyRouting, RouteGet, RuleMatch, parse_route_get, rule_text
from wcp_acceptance.targets import RouteProbe

CHECK_ID = "WCP-RT-001"
_STANDARD_TABLES = ("main", "local", "default")


@dataclass(frozen=True)
class PathDiagnosis:
    """How traffic from ``src`` to ``dst`` leaves the VM: the rule analysis and the kernel's answer."""

    dst: str
    src: str | None
    match: RuleMatch
    kernel: RouteGet | None = None  # the VM's ``ip -j route get`` answer, parsed
    kernel_error: str | None = None  # ``ip route get`` refused: "Network is unreachable"
    route_get_raw: str | None = None
    routing: PolicyRouting | None = None

    @property
    def dev(self) -> str | None:
        """The output device, the kernel's word first."""
        if self.kernel is not None:
            return self.kernel.dev
        return None if self.kernel_error else self.match.dev

    @property
    def gateway(self) -> str | None:
        if self.kernel is not None:
            return self.kernel.gateway
        return None if self.kernel_error else self.match.gateway

    @property
    def table(self) -> str | None:
        if self.kernel is not None:
            return self.kernel.table
        return self.match.table

    @property
    def refused(self) -> str | None:
        """Why the traffic cannot leave at all, or None."""
        if self.kernel_error:
            return self.kernel_error
        if self.kernel is None and not self.match.ok:
            return self.match.error_text()
        return None

    @property
    def agrees(self) -> bool:
        """Does the rule analysis predict what the kernel answered (when the kernel was asked)?"""
        if self.kernel is not None:
            return (self.match.dev, self.match.gateway, self.match.table) == (
                self.kernel.dev,
                self.kernel.gateway,
                self.kernel.table,
            )
        if self.kernel_error:
            return self.match.error_text() == self.kernel_error
        return True

    @property
    def steered(self) -> bool:
        """A rule sends it to a table other than main/local/default."""
        return self.match.rule is not None and self.table not in _STANDARD_TABLES

    def route_get_command(self) -> str:
        return f"ip route get {self.dst}" + (f" from {self.src}" if self.src else "")

    def summary(self) -> str:
        """``dev eth1 via 10.244.0.1`` (or the refusal), from the kernel when it was asked."""
        if self.refused:
            return f"refused: {self.refused}"
        parts = [f"dev {self.dev}"]
        if self.gateway:
            parts.append(f"via {self.gateway}")
        return " ".join(parts)

    def evidence(self) -> tuple[str, ...]:
        """The matching rule, the routes of its table, and the route-get answer (STYLE rule 7)."""
        lines: list[str] = []
        if self.match.rule is not None:
            lines.append(f'ip rule "{rule_text(self.match.rule)}"')
        if self.routing is not None and self.match.table is not None:
            routes = self.routing.table(self.match.table)
            if self.match.table == "local":
                routes = tuple(r for r in routes if self.match.route is r)
            lines.extend(f"ip route show table {self.match.table}: {route.text()}" for route in routes)
        if self.kernel is not None or self.kernel_error:
            lines.append(f"{self.route_get_command()} -> {self.summary()}")
        else:
            lines.append(f"{self.route_get_command()} (predicted from ip rule and ip route) -> {self.match.summary()}")
        if not self.agrees:
            lines.append(
                f"note: the rules and tables predict {self.match.summary()}; the kernel's answer above is the one "
                "that counts (rules changed between reads, or a selector the suite does not evaluate matched)"
            )
        for rule in self.match.skipped:
            lines.append(f'note: rule "{rule_text(rule)}" has selectors the suite does not evaluate')
        if self.route_get_raw:
            lines.append(f"{self.route_get_command()} (raw): {self.route_get_raw.strip()}")
        return tuple(lines)


def _parse_kernel(raw: str | None, command: str) -> tuple[RouteGet | None, str | None]:
    if raw is None or not raw.strip():
        return None, None
    marker = "RTNETLINK answers:"
    if marker in raw:
        return None, raw.split(marker, 1)[1].strip().splitlines()[0].strip()
    try:
        return parse_route_get(raw, command), None
    except ValueError:
        return None, None


def diagnose_path(
    routing: PolicyRouting,
    dst: str | IPv4Address | IPv6Address,
    src: str | IPv4Address | IPv6Address | None,
    route_get_raw: str | None = None,
) -> PathDiagnosis:
    """Look ``dst`` up from ``src`` in the VM's policy routing; add the VM's own ``ip route get`` answer.

    ``route_get_raw`` is the stdout of ``ip -j route get DST from SRC`` (or its ``RTNETLINK
    answers: ...`` error text); unparseable text is kept as raw evidence only.
    """
    dst_text = str(dst)
    src_text = None if src is None else str(src)
    command = f"ip -j route get {dst_text}" + (f" from {src_text}" if src_text else "")
    kernel, kernel_error = _parse_kernel(route_get_raw, command)
    return PathDiagnosis(
        dst=dst_text,
        src=src_text,
        match=routing.lookup(dst_text, src_text),
        kernel=kernel,
        kernel_error=kernel_error,
        route_get_raw=route_get_raw,
        routing=routing,
    )


def is_one_of(address: str, candidates: Collection[object]) -> bool:
    try:
        wanted = ip_address(address)
    except ValueError:
        return False
    for candidate in candidates:
        try:
            if ip_address(str(candidate)) == wanted:
                return True
        except ValueError:
            continue
    return False


def _steering_cause(
    probe: RouteProbe, diag: PathDiagnosis, workload_tables: Collection[str], workload_dns: Collection[object]
) -> str:
    rule = diag.match.rule
    table = diag.table
    dst = str(probe.destination)
    where = "the workload table" if table in workload_tables else "table"
    out = f"out {diag.dev}" if diag.dev else "away from the management interface"
    if is_one_of(dst, workload_dns):
        return (
            f"management and workload DNS share {dst}, so the Supervisor's policy routing sends {probe.role} "
            f"{out} ({where} {table}), where it cannot route; give the workload DNS its own address"
        )
    if rule is not None and rule.dst is not None and rule.dst.prefixlen < rule.dst.max_prefixlen:
        return (
            f"the {probe.role} address {dst} lies inside {rule.dst}, a range the Supervisor routes through "
            f"{where} {table}, so it leaves {out}: management and workload/ingress/egress/service ranges overlap"
        )
    if rule is not None and rule.dst is not None:
        return (
            f"an ip rule steers management traffic into {where} {table}: the Supervisor added a rule for exactly "
            f"{dst}, which it takes for a workload-side server (workload DNS or NTP), so {probe.role} leaves {out}"
        )
    return f"an ip rule steers management traffic into {where} {table}, so {probe.role} leaves {out}"


def check_management_dependency_route(
    probe: RouteProbe,
    routing: PolicyRouting,
    route_get_raw: str | None = None,
    management_iface: str = "eth0",
    workload_tables: Collection[str] = ("200",),
    workload_dns: Collection[object] = (),
) -> Finding:
    """WCP-RT-001: traffic from the management address to ``probe.destination`` leaves via ``management_iface``.

    ``routing`` holds the VM's ``ip -j rule`` and ``ip -j route show table all``;
    ``route_get_raw`` the VM's ``ip -j route get DST from SRC`` (its answer decides when present);
    ``workload_dns`` the workload DNS servers from the inventory, to name the shared-DNS cause.
    """
    diag = diagnose_path(routing, probe.destination, probe.source, route_get_raw)
    target = str(probe)
    expected = f"{probe.destination} ({probe.role}) from {probe.source} reached via {management_iface} (main table)"
    match = diag.match
    rule_line = f"rule {rule_text(match.rule)}" if match.rule is not None else "no rule"

    if diag.refused:
        observed = f"{rule_line} refuses it: {diag.refused}"
        cause = (
            f"no route to {probe.destination}: the main table has no route for it and no default route"
            if match.rule is None
            else f"the rule or its table refuses traffic to {probe.destination} ({match.error})"
        )
        return failed(CHECK_ID, target, expected, observed, cause, diag.evidence())

    if diag.dev == management_iface:
        observed = f"via {diag.dev} ({diag.summary()}, table {diag.table}, {rule_line})"
        return passed(CHECK_ID, target, expected, observed)

    table_route = match.route.brief() if match.route is not None else diag.summary()
    if diag.steered:
        observed = f"{rule_line} sends it to table {diag.table}: {table_route}"
        cause = _steering_cause(probe, diag, workload_tables, workload_dns)
    else:
        observed = f"table {diag.table} sends it out {diag.dev}: {table_route}"
        cause = (
            f"the {diag.table} table routes {probe.destination} out {diag.dev}: a route for another network "
            f"covers the {probe.role} address, or the management routes are missing"
        )
    if not diag.agrees:
        observed += f"; ip route get answers {diag.summary()}"
    return failed(CHECK_ID, target, expected, observed, cause, diag.evidence())
