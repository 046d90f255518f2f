"""Linux policy routing as a Supervisor VM reports it: typed ``ip -j`` output and the kernel's lookup.

Parses the JSON of ``ip -j rule``, ``ip -j route show table all`` and ``ip -j route get`` into
frozen records, and answers "which rule, which table, which route carries traffic from SRC to
DST" the way the kernel's FIB does (``fib_rules_lookup`` + ``fib_table_lookup``):

* rules in priority order, equal priorities in the order ``ip rule`` prints them (insertion
  order, which is the kernel's order);
* a rule matches when its ``from``/``to`` prefixes contain the addresses, ``iif`` is ``lo``
  for locally generated traffic, ``oif`` only when the query names one, ``fwmark`` under its
  mask, and ``not`` inverts the whole match;
* a ``lookup`` rule wins when its table has a route (longest prefix, then lowest metric);
  otherwise the next rule is tried. A ``throw`` route, or a result suppressed by
  ``suppress_prefixlength``, also continues with the next rule;
* ``unreachable``/``prohibit``/``blackhole`` rules and routes stop the lookup with an error,
  ``goto`` jumps to the first rule with the target priority;
* selectors this module does not evaluate (tos, ipproto, ports, uidrange, l3mdev) do not
  match, as for a query that carries none of them, and are reported in ``RuleMatch.skipped``.

The engine is tested against real ``ip route get`` answers captured in a network namespace
(tests/data/capture_iproute.sh); the live check still records the VM's own ``ip route get``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Numbers the kernel reserves for tables, and the names iproute2 prints for them.
_TABLE_NAMES = {"253": "default", "254": "main", "255": "local"}
_RULE_ERRORS = {
    "unreachable": "Network is unreachable",
    "prohibit": "Permission denied",
    "blackhole": "Invalid argument",
}
_ROUTE_ERRORS = {"unreachable": "No route to host", "prohibit": "Permission denied", "blackhole": "Invalid argument"}
# Route types that deliver (the others either refuse or, for throw, continue with the next rule).
_DELIVERING = {"unicast", "local", "broadcast", "multicast", "anycast", "nat"}
# Rule selectors this module does not evaluate: a query without them does not match such a rule.
_UNEVALUATED_SELECTORS = (
    "tos",
    "dsfield",
    "dscp",
    "l3mdev",
    "uid_start",
    "uid_end",
    "uidrange",
    "ipproto",
    "sport",
    "sport_start",
    "dport",
    "dport_start",
    "flowlabel",
    "realms",
)


def table_name(value: object) -> str:
    """The table as ``ip`` names it: ``main``/``local``/``default`` for the reserved numbers."""
    text = str(value).strip()
    return _TABLE_NAMES.get(text, text)


@dataclass(frozen=True)
class Rule:
    """One line of ``ip rule``."""

    priority: int
    src: IPNetwork | None = None  # None: "from all"
    dst: IPNetwork | None = None  # None: no "to" selector
    table: str | None = None  # for action "lookup"
    action: str = "lookup"  # lookup | goto | nop | unreachable | prohibit | blackhole
    goto: int | None = None
    invert: bool = False  # "not"
    iif: str | None = None
    oif: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    suppress_prefixlen: int | None = None
    unevaluated: tuple[tuple[str, str], ...] = ()  # selectors the lookup cannot evaluate
    position: int = 0  # index in the order ``ip rule`` printed

    def __str__(self) -> str:
        return rule_text(self)


@dataclass(frozen=True)
class NextHop:
    gateway: str | None = None
    dev: str | None = None


@dataclass(frozen=True)
class Route:
    """One route from ``ip -j route show table all`` (or one table)."""

    dst: IPNetwork
    table: str = "main"
    type: str = "unicast"
    gateway: str | None = None
    dev: str | None = None
    protocol: str | None = None
    scope: str | None = None
    prefsrc: str | None = None
    metric: int = 0
    nexthops: tuple[NextHop, ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def first_gateway(self) -> str | None:
        if self.gateway:
            return self.gateway
        return next((hop.gateway for hop in self.nexthops if hop.gateway), None)

    @property
    def first_dev(self) -> str | None:
        if self.dev:
            return self.dev
        return next((hop.dev for hop in self.nexthops if hop.dev), None)

    def text(self) -> str:
        """The route as ``ip route show table T`` prints it (without the table)."""
        parts: list[str] = []
        if self.type != "unicast":
            parts.append(self.type)
        parts.append(_net_text(self.dst, default=True))
        if self.gateway:
            parts.append(f"via {self.gateway}")
        if self.dev:
            parts.append(f"dev {self.dev}")
        if self.protocol and self.protocol != "boot":
            parts.append(f"proto {self.protocol}")
        if self.scope and self.scope != "global":
            parts.append(f"scope {self.scope}")
        if self.prefsrc:
            parts.append(f"src {self.prefsrc}")
        if self.metric:
            parts.append(f"metric {self.metric}")
        parts.extend(self.flags)
        parts.extend(f"nexthop via {hop.gateway} dev {hop.dev}" for hop in self.nexthops)
        return " ".join(parts)

    def brief(self) -> str:
        """Destination, gateway and device only: ``default via 10.244.0.1 dev eth1``."""
        parts = [] if self.type == "unicast" else [self.type]
        parts.append(_net_text(self.dst, default=True))
        if self.first_gateway:
            parts.append(f"via {self.first_gateway}")
        if self.first_dev:
            parts.append(f"dev {self.first_dev}")
        return " ".join(parts)

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class RouteGet:
    """The kernel's answer to ``ip -j route get DST [from SRC]``."""

    dst: str
    src: str | None = None  # "from"
    gateway: str | None = None
    dev: str | None = None
    table: str = "main"
    prefsrc: str | None = None
    type: str = "unicast"

    def summary(self) -> str:
        """``dev eth1 via 10.244.0.1`` (plus ``table 200`` when not main), as STYLE rule 7 quotes it."""
        parts = [f"dev {self.dev}" if self.dev else "no device"]
        if self.gateway:
            parts.append(f"via {self.gateway}")
        if self.type != "unicast":
            parts.append(f"({self.type})")
        if self.table != "main":
            parts.append(f"table {self.table}")
        return " ".join(parts)


@dataclass(frozen=True)
class RuleMatch:
    """The result of :meth:`PolicyRouting.lookup`.

    ``rule`` decided (its table held the route, or it is an unreachable/prohibit/blackhole rule);
    ``error`` is set when the lookup refuses the traffic: the action or route type
    ("unreachable", "prohibit", "blackhole") or "no route" when no rule's table has a route.
    """

    dst: IPAddress
    src: IPAddress | None
    rule: Rule | None
    table: str | None
    route: Route | None
    error: str | None = None
    passed: tuple[Rule, ...] = field(default=())  # matching rules whose table had no route
    skipped: tuple[Rule, ...] = field(default=())  # rules with selectors that were not evaluated

    @property
    def ok(self) -> bool:
        return self.error is None and self.route is not None

    @property
    def dev(self) -> str | None:
        """The output device; local delivery goes through ``lo`` as ``ip route get`` says."""
        if self.route is None:
            return None
        if self.route.type == "local":
            return "lo"
        return self.route.first_dev

    @property
    def gateway(self) -> str | None:
        return None if self.route is None else self.route.first_gateway

    def error_text(self) -> str | None:
        """What ``ip route get`` prints on stderr for this refusal (``RTNETLINK answers: ...``)."""
        if self.error is None:
            return None
        if self.error == "no route":
            return "Network is unreachable"
        if self.route is not None:
            return _ROUTE_ERRORS.get(self.error, self.error)
        return _RULE_ERRORS.get(self.error, self.error)

    def summary(self) -> str:
        """``dev eth1 via 10.244.0.1 (table 200)``, or the refusal."""
        if not self.ok:
            return f"refused: {self.error_text()}"
        parts = [f"dev {self.dev}"]
        if self.gateway:
            parts.append(f"via {self.gateway}")
        parts.append(f"(table {self.table})")
        return " ".join(parts)

    def describe(self) -> str:
        """``rule 0: from all to 192.168.10.10 lookup 200 -> table 200: default via 10.244.0.1 dev eth1``."""
        if self.rule is None:
            return f"no rule's table has a route to {self.dst}"
        head = f"rule {rule_text(self.rule)}"
        if self.route is not None:
            return f"{head} -> table {self.table}: {self.route.text()}"
        if self.error is not None:
            return f"{head} -> {self.error}"
        return head


def rule_text(rule: Rule, *, priority: bool = True) -> str:
    """Render a rule as ``ip rule show`` does: ``0: from all to 192.168.10.10 lookup 200``."""
    parts: list[str] = []
    if rule.invert:
        parts.append("not")
    parts.append(f"from {_net_text(rule.src) if rule.src is not None else 'all'}")
    if rule.dst is not None:
        parts.append(f"to {_net_text(rule.dst)}")
    for key, value in rule.unevaluated:
        parts.append(f"{key} {value}")
    if rule.fwmark is not None:
        mark = f"fwmark {rule.fwmark:#x}"
        if rule.fwmask is not None and rule.fwmask != 0xFFFFFFFF:
            mark += f"/{rule.fwmask:#x}"
        parts.append(mark)
    if rule.iif:
        parts.append(f"iif {rule.iif}")
    if rule.oif:
        parts.append(f"oif {rule.oif}")
    if rule.action == "lookup":
        parts.append(f"lookup {rule.table}")
    elif rule.action == "goto":
        parts.append(f"goto {rule.goto}")
    else:
        parts.append(rule.action)
    if rule.suppress_prefixlen is not None:
        parts.append(f"suppress_prefixlength {rule.suppress_prefixlen}")
    text = " ".join(parts)
    return f"{rule.priority}: {text}" if priority else text


# --------------------------------------------------------------------------------------- parsing


def _net_text(net: IPNetwork, *, default: bool = False) -> str:
    if default and net.prefixlen == 0:
        return "default"
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def _load_list(text: str | bytes | Sequence[Any], command: str) -> list[Mapping[str, Any]]:
    if isinstance(text, str | bytes):
        stripped = text.strip()
        if not stripped:
            raise ValueError(f"{command}: empty output (expected a JSON list)")
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{command}: output is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
    else:
        data = text
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list | tuple):
        raise ValueError(f"{command}: expected a JSON list, got {type(data).__name__}")
    for index, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ValueError(f"{command}: entry {index} is {type(item).__name__}, not an object")
    return list(data)


def _prefix(addr: object, length: object, command: str, index: int, key: str) -> IPNetwork | None:
    if addr is None or addr == "all":
        return None
    try:
        text = str(addr) if length is None else f"{addr}/{int(str(length))}"
        return ip_network(text, strict=False)
    except ValueError as exc:
        raise ValueError(f"{command}: entry {index}: bad {key} {addr!r}: {exc}") from None


def _int(value: object, command: str, index: int, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        raise ValueError(f"{command}: entry {index}: {key} {value!r} is not a number") from None


def parse_rules(text: str | bytes | Sequence[Any], command: str = "ip -j rule") -> tuple[Rule, ...]:
    """Parse ``ip -j rule show``; unknown keys are ignored, a malformed entry raises ValueError."""
    rules: list[Rule] = []
    for index, item in enumerate(_load_list(text, command)):
        if "table" in item:
            action = "lookup"
        elif "goto" in item:
            action = "goto"
        else:
            action = str(item.get("action", "lookup"))
        table = table_name(item["table"]) if "table" in item else None
        if action == "lookup" and table is None:
            raise ValueError(f"{command}: entry {index}: lookup rule without a table")
        unevaluated = tuple((key, str(item[key])) for key in _UNEVALUATED_SELECTORS if key in item)
        rules.append(
            Rule(
                priority=_int(item.get("priority", 0), command, index, "priority"),
                src=_prefix(item.get("src"), item.get("srclen"), command, index, "src"),
                dst=_prefix(item.get("dst"), item.get("dstlen"), command, index, "dst"),
                table=table,
                action=action,
                goto=_int(item["goto"], command, index, "goto") if "goto" in item else None,
                invert="not" in item,
                iif=str(item["iif"]) if item.get("iif") else None,
                oif=str(item["oif"]) if item.get("oif") else None,
                fwmark=_int(item["fwmark"], command, index, "fwmark") if "fwmark" in item else None,
                fwmask=_int(item["fwmask"], command, index, "fwmask") if "fwmask" in item else None,
                suppress_prefixlen=(
                    _int(item["suppress_prefixlen"], command, index, "suppress_prefixlen")
                    if "suppress_prefixlen" in item
                    else None
                ),
                unevaluated=unevaluated,
                position=index,
            )
        )
    return tuple(rules)


def _route_dst(item: Mapping[str, Any], command: str, index: int) -> IPNetwork:
    dst = item.get("dst")
    if dst is None:
        raise ValueError(f"{command}: entry {index}: route without dst")
    if dst == "default":
        hints = [str(item.get(key, "")) for key in ("gateway", "prefsrc")]
        hints += [str(hop.get("gateway", "")) for hop in item.get("nexthops") or () if isinstance(hop, Mapping)]
        return ip_network("::/0") if any(":" in hint for hint in hints) else ip_network("0.0.0.0/0")
    net = _prefix(dst, None, command, index, "dst")
    if net is None:
        raise ValueError(f"{command}: entry {index}: route dst {dst!r} is not a prefix")
    return net


def parse_routes(text: str | bytes | Sequence[Any], command: str = "ip -j route show table all") -> tuple[Route, ...]:
    """Parse ``ip -j route show [table T]``; a missing ``table`` key means the main table."""
    routes: list[Route] = []
    for index, item in enumerate(_load_list(text, command)):
        hops = tuple(
            NextHop(
                gateway=str(hop["gateway"]) if hop.get("gateway") else None,
                dev=str(hop["dev"]) if hop.get("dev") else None,
            )
            for hop in item.get("nexthops") or ()
            if isinstance(hop, Mapping)
        )
        flags = item.get("flags") or ()
        routes.append(
            Route(
                dst=_route_dst(item, command, index),
                table=table_name(item.get("table", "main")),
                type=str(item.get("type", "unicast")),
                gateway=str(item["gateway"]) if item.get("gateway") else None,
                dev=str(item["dev"]) if item.get("dev") else None,
                protocol=str(item["protocol"]) if item.get("protocol") else None,
                scope=str(item["scope"]) if item.get("scope") else None,
                prefsrc=str(item["prefsrc"]) if item.get("prefsrc") else None,
                metric=_int(item.get("metric", 0), command, index, "metric"),
                nexthops=hops,
                flags=tuple(str(flag) for flag in flags) if isinstance(flags, list | tuple) else (),
            )
        )
    return tuple(routes)


def parse_route_get(text: str | bytes | Sequence[Any], command: str = "ip -j route get") -> RouteGet:
    """Parse ``ip -j route get DST [from SRC]`` (one entry)."""
    items = _load_list(text, command)
    if not items:
        raise ValueError(f"{command}: no route in the answer")
    item = items[0]
    if not item.get("dst"):
        raise ValueError(f"{command}: answer without dst")
    return RouteGet(
        dst=str(item["dst"]),
        src=str(item["from"]) if item.get("from") else None,
        gateway=str(item["gateway"]) if item.get("gateway") else None,
        dev=str(item["dev"]) if item.get("dev") else None,
        table=table_name(item.get("table", "main")),
        prefsrc=str(item["prefsrc"]) if item.get("prefsrc") else None,
        type=str(item.get("type", "unicast")),
    )


# ---------------------------------------------------------------------------------------- lookup


def _rule_matches(rule: Rule, dst: IPAddress, src: IPAddress | None, iif: str, oif: str | None, mark: int) -> bool:
    ok = True
    if rule.src is not None and rule.src.prefixlen > 0:
        source = src if src is not None else (IPv4Address(0) if dst.version == 4 else IPv6Address(0))
        ok = source.version == rule.src.version and source in rule.src
    if ok and rule.dst is not None and rule.dst.prefixlen > 0:
        ok = dst.version == rule.dst.version and dst in rule.dst
    if ok and rule.iif is not None:
        ok = rule.iif == iif
    if ok and rule.oif is not None:
        ok = rule.oif == oif
    if ok and rule.fwmark is not None:
        mask = 0xFFFFFFFF if rule.fwmask is None else rule.fwmask
        ok = ((mark ^ rule.fwmark) & mask) == 0
    if ok and rule.unevaluated:
        ok = False
    return not ok if rule.invert else ok


class PolicyRouting:
    """The rules and tables of one VM, and the kernel's answer for a (dst, src) pair."""

    def __init__(self, rules: Iterable[Rule], routes: Iterable[Route], local_addresses: Iterable[str] = ()) -> None:
        indexed = list(rules)
        self.rules: tuple[Rule, ...] = tuple(sorted(indexed, key=lambda r: (r.priority, r.position)))
        route_list = list(routes)
        if not any(route.table == "local" for route in route_list):
            # A dump of only main and 200 lacks the local table: rebuild its host routes.
            route_list += [
                Route(dst=ip_network(addr), table="local", type="local", dev="lo", scope="host", prefsrc=str(addr))
                for addr in local_addresses
            ]
        self.routes: tuple[Route, ...] = tuple(route_list)

    @classmethod
    def from_json(
        cls,
        rules_json: str | bytes | Sequence[Any],
        routes_json: str | bytes | Sequence[Any],
        local_addresses: Iterable[str] = (),
    ) -> PolicyRouting:
        """From ``ip -j rule show`` and ``ip -j route show table all``."""
        return cls(parse_rules(rules_json), parse_routes(routes_json), local_addresses)

    def table(self, name: object) -> tuple[Route, ...]:
        wanted = table_name(name)
        return tuple(route for route in self.routes if route.table == wanted)

    def table_lookup(self, name: object, dst: IPAddress) -> Route | None:
        """Longest prefix first, then the lowest metric, then the order listed."""
        best: Route | None = None
        for route in self.table(name):
            if route.dst.version != dst.version or dst not in route.dst:
                continue
            if route.type in ("broadcast", "multicast") and route.dst.prefixlen != route.dst.max_prefixlen:
                continue
            if best is None or (route.dst.prefixlen, -route.metric) > (best.dst.prefixlen, -best.metric):
                best = route
        return best

    def lookup(
        self,
        dst: str | IPAddress,
        src: str | IPAddress | None = None,
        *,
        iif: str = "lo",
        oif: str | None = None,
        fwmark: int = 0,
    ) -> RuleMatch:
        """Which rule and table carry locally generated traffic from ``src`` to ``dst``.

        ``src=None`` is ``ip route get DST`` without ``from`` (source 0.0.0.0 for the rules).
        """
        target = ip_address(dst) if isinstance(dst, str) else dst
        source = ip_address(src) if isinstance(src, str) else src
        passed: list[Rule] = []
        skipped: list[Rule] = []
        index = 0
        while index < len(self.rules):
            rule = self.rules[index]
            index += 1
            if rule.unevaluated:
                skipped.append(rule)
            if not _rule_matches(rule, target, source, iif, oif, fwmark):
                continue
            if rule.action == "goto":
                jump = next((i for i, r in enumerate(self.rules) if r.priority == rule.goto), None)
                if jump is not None and jump > index - 1:
                    index = jump
                continue
            if rule.action == "nop":
                continue
            if rule.action in _RULE_ERRORS:
                return RuleMatch(target, source, rule, None, None, rule.action, tuple(passed), tuple(skipped))
            if rule.action != "lookup" or rule.table is None:
                passed.append(rule)
                continue
            route = self.table_lookup(rule.table, target)
            if route is None or route.type == "throw":
                passed.append(rule)
                continue
            if rule.suppress_prefixlen is not None and route.dst.prefixlen <= rule.suppress_prefixlen:
                passed.append(rule)
                continue
            error = None if route.type in _DELIVERING else route.type
            return RuleMatch(target, source, rule, rule.table, route, error, tuple(passed), tuple(skipped))
        return RuleMatch(target, source, None, None, None, "no route", tuple(passed), tuple(skipped))

    def rules_to(self, dst: str | IPAddress) -> tuple[Rule, ...]:
        """The rules whose ``to`` selector names ``dst`` (the Supervisor's per-destination rules)."""
        target = ip_address(dst) if isinstance(dst, str) else dst
        return tuple(
            rule
            for rule in self.rules
            if rule.dst is not None
            and rule.dst.prefixlen > 0
            and rule.dst.version == target.version
            and target in rule.dst
        )
