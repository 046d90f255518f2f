"""wcp_acceptance.iproute: parsing real `ip -j` output and the policy-routing lookup.

The lookup engine is checked against the kernel's own `ip route get` answers, captured in a
network namespace by tests/data/capture_iproute.sh for the seed's shared-DNS rules, the healthy
redeploy and a set of less common selectors.
"""

from __future__ import annotations

import json
import re
import subprocess
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from wcp_acceptance.iproute import (
    PolicyRouting,
    Route,
    Rule,
    parse_route_get,
    parse_routes,
    parse_rules,
    rule_text,
    table_name,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "iproute"
VARIANTS = ("seed-shared-dns", "healthy", "selectors")
ROUTE_GET = re.compile(r"^route-get_(?P<dst>[0-9.]+)(?:_from_(?P<src>[0-9.]+))?\.(?P<ext>json|err)$")


def _routing(variant: str) -> PolicyRouting:
    return PolicyRouting.from_json(
        (DATA / variant / "rule.json").read_text(), (DATA / variant / "route-table-all.json").read_text()
    )


def _route_get_cases() -> list[Any]:
    cases = []
    for variant in VARIANTS:
        for path in sorted((DATA / variant).glob("route-get_*")):
            match = ROUTE_GET.match(path.name)
            assert match, path.name
            label = f"{variant}/{match['dst']}" + (f" from {match['src']}" if match["src"] else "")
            cases.append(pytest.param(variant, match["dst"], match["src"], path, id=label))
    return cases


ROUTE_GET_CASES = _route_get_cases()


def test_captures_cover_both_seed_variants_and_the_three_required_queries() -> None:
    for variant in ("seed-shared-dns", "healthy"):
        for name in (
            "route-get_192.168.10.10_from_192.168.10.45.json",
            "route-get_192.168.10.20_from_192.168.10.45.json",
            "route-get_192.168.10.10_from_10.244.0.2.json",
        ):
            assert (DATA / variant / name).is_file(), f"{variant}/{name}"
    assert len(ROUTE_GET_CASES) > 90


@pytest.mark.parametrize("variant", VARIANTS)
def test_rules_render_as_ip_rule_show_prints_them(variant: str) -> None:
    rules = parse_rules((DATA / variant / "rule.json").read_text())
    printed = [line.replace(":\t", ": ", 1).rstrip() for line in (DATA / variant / "rule.txt").read_text().splitlines()]
    assert [rule_text(rule) for rule in rules] == printed


@pytest.mark.parametrize("variant", VARIANTS)
def test_routes_render_as_ip_route_show_prints_them(variant: str) -> None:
    routes = parse_routes((DATA / variant / "route-table-all.json").read_text())
    table_200 = [route.text() for route in routes if route.table == "200"]
    main = [route.text() for route in routes if route.table == "main" and route.dst.version == 4]
    assert table_200 == [line.strip() for line in (DATA / variant / "route-table-200.txt").read_text().splitlines()]
    assert main == [line.strip() for line in (DATA / variant / "route-main.txt").read_text().splitlines()]
    # `ip -j route show table 200` omits the table key; the caller's command names it.
    only_200 = parse_routes((DATA / variant / "route-table-200.json").read_text())
    assert [route.text() for route in only_200] == table_200
    assert {route.table for route in only_200} == {"main"}


def test_seed_rules_parse_with_priority_zero_names_and_all() -> None:
    rules = parse_rules((DATA / "seed-shared-dns" / "rule.json").read_text())
    assert [rule.priority for rule in rules] == [0, 0, 0, 0, 0, 0, 0, 32766, 32767]
    local, shared_dns, *_ = rules
    assert (local.src, local.dst, local.table, local.action) == (None, None, "local", "lookup")
    assert shared_dns.dst == ip_network("192.168.10.10/32")
    assert shared_dns.table == "200"
    from_workload = rules[4]
    assert from_workload.src == ip_network("10.244.0.2/32")
    assert rule_text(from_workload) == "0: from 10.244.0.2 lookup 200"
    assert [rule.table for rule in rules[-2:]] == ["main", "default"]


def test_selector_rules_parse_not_fwmark_iif_oif_actions_and_goto() -> None:
    rules = {rule.priority: rule for rule in parse_rules((DATA / "selectors" / "rule.json").read_text())}
    assert rules[5].invert
    assert (rules[5].fwmark, rules[5].fwmask, rules[5].iif) == (1, 0xFF, "lo")
    assert rules[5].src == ip_network("10.0.0.0/8")
    assert (rules[6].action, rules[6].table) == ("unreachable", None)
    assert (rules[7].action, rules[7].oif) == ("prohibit", "eth0")
    assert rules[8].action == "blackhole"
    assert (rules[9].action, rules[9].goto) == ("goto", 32766)


def test_route_types_metrics_and_local_table_parse() -> None:
    routes = parse_routes((DATA / "selectors" / "route-table-all.json").read_text())
    by_type = {(route.table, route.type) for route in routes}
    assert {("300", "blackhole"), ("300", "unreachable"), ("300", "prohibit"), ("300", "throw")} <= by_type
    assert ("local", "local") in by_type
    assert ("local", "broadcast") in by_type
    multi = sorted((r.metric, r.gateway) for r in routes if r.dst == ip_network("192.0.2.64/26"))
    assert multi == [(10, "10.244.0.3"), (50, "192.168.10.253")]
    default_v4 = [r for r in routes if r.table == "main" and r.dst.prefixlen == 0]
    assert [r.brief() for r in default_v4] == ["default via 192.168.10.254 dev eth0"]
    assert any(r.dst.version == 6 for r in routes)


@pytest.mark.parametrize(("variant", "dst", "src", "path"), ROUTE_GET_CASES)
def test_lookup_agrees_with_the_kernels_route_get(variant: str, dst: str, src: str | None, path: Path) -> None:
    answer = _routing(variant).lookup(dst, src)
    if path.suffix == ".json":
        kernel = parse_route_get(path.read_text())
        assert kernel.dst == dst
        assert kernel.src == src
        assert answer.ok, answer.describe()
        assert (answer.dev, answer.gateway, answer.table) == (kernel.dev, kernel.gateway, kernel.table)
        assert answer.route is not None
        assert answer.route.type == kernel.type
    else:
        status, message = path.read_text().splitlines()[:2]
        assert status != "exit 0"
        assert not answer.ok
        assert f"RTNETLINK answers: {answer.error_text()}" == message


def test_shared_dns_lookup_names_the_steering_rule_and_table() -> None:
    answer = _routing("seed-shared-dns").lookup("192.168.10.10", "192.168.10.45")
    assert answer.rule is not None
    assert rule_text(answer.rule) == "0: from all to 192.168.10.10 lookup 200"
    assert answer.table == "200"
    assert answer.summary() == "dev eth1 via 10.244.0.1 (table 200)"
    assert answer.describe() == (
        "rule 0: from all to 192.168.10.10 lookup 200 -> table 200: default via 10.244.0.1 dev eth1 proto static"
    )
    healthy = _routing("healthy").lookup("192.168.10.10", "192.168.10.45")
    assert healthy.rule is not None
    assert rule_text(healthy.rule) == "32766: from all lookup main"
    assert (healthy.dev, healthy.gateway, healthy.table) == ("eth0", None, "main")


def test_local_rule_at_priority_zero_wins_for_local_addresses() -> None:
    answer = _routing("seed-shared-dns").lookup("10.244.0.2", "192.168.10.45")
    assert answer.rule is not None
    assert rule_text(answer.rule) == "0: from all lookup local"
    assert (answer.table, answer.dev, answer.route.type if answer.route else None) == ("local", "lo", "local")


def test_equal_priorities_keep_printed_order_not_specificity() -> None:
    rules = [
        {"priority": 0, "src": "all", "table": "local"},
        {"priority": 0, "src": "all", "dst": "192.168.10.0", "dstlen": 24, "table": "100"},
        {"priority": 0, "src": "all", "dst": "192.168.10.10", "table": "200"},
        {"priority": 32766, "src": "all", "table": "main"},
    ]
    routes = [
        {"dst": "default", "gateway": "192.168.10.253", "dev": "eth2", "table": "100"},
        {"dst": "default", "gateway": "10.244.0.1", "dev": "eth1", "table": "200"},
    ]
    first = PolicyRouting.from_json(json.dumps(rules), json.dumps(routes)).lookup("192.168.10.10")
    swapped = PolicyRouting.from_json(json.dumps([rules[0], rules[2], rules[1], rules[3]]), json.dumps(routes))
    assert first.table == "100"
    assert swapped.lookup("192.168.10.10").table == "200"


def test_rule_with_empty_table_falls_through_to_main() -> None:
    rules = [
        {"priority": 0, "src": "all", "dst": "192.168.10.10", "table": "200"},
        {"priority": 32766, "src": "all", "table": "main"},
    ]
    routes = [{"dst": "10.244.0.0/28", "dev": "eth1", "table": "200"}, {"dst": "default", "dev": "eth0"}]
    answer = PolicyRouting.from_json(json.dumps(rules), json.dumps(routes)).lookup("192.168.10.10")
    assert (answer.table, answer.dev) == ("main", "eth0")
    assert [rule.table for rule in answer.passed] == ["200"]


def test_no_matching_route_is_network_unreachable() -> None:
    rules = [{"priority": 32766, "src": "all", "table": "main"}]
    routes = [{"dst": "192.168.10.0/24", "dev": "eth0"}]
    answer = PolicyRouting.from_json(json.dumps(rules), json.dumps(routes)).lookup("8.8.8.8", "192.168.10.45")
    assert not answer.ok
    assert answer.error == "no route"
    assert answer.error_text() == "Network is unreachable"
    assert answer.describe() == "no rule's table has a route to 8.8.8.8"


def test_numeric_reserved_tables_read_as_names_and_missing_priority_is_zero() -> None:
    rules = parse_rules('[{"src": "all", "table": 255}, {"priority": 32766, "table": "254"}, {"table": "253"}]')
    assert [(rule.priority, rule.table) for rule in rules] == [(0, "local"), (32766, "main"), (0, "default")]
    assert table_name(200) == "200"


def test_unknown_fields_are_ignored_and_unevaluated_selectors_do_not_match() -> None:
    rules = parse_rules(
        json.dumps(
            [
                {"priority": 1, "src": "all", "ipproto": "udp", "dport": 53, "table": "200", "protocol": "boot"},
                {"priority": 2, "src": "all", "future_field": {"x": 1}, "table": "main"},
            ]
        )
    )
    assert rules[0].unevaluated == (("ipproto", "udp"), ("dport", "53"))
    assert rule_text(rules[0]) == "1: from all ipproto udp dport 53 lookup 200"
    routing = PolicyRouting(
        rules,
        parse_routes(
            '[{"dst": "default", "gateway": "10.244.0.1", "dev": "eth1", '
            '"table": "200"}, {"dst": "default", "dev": "eth0"}]'
        ),
    )
    answer = routing.lookup("192.168.10.10")
    assert (answer.table, answer.dev) == ("main", "eth0")
    assert answer.skipped == (rules[0],)


def test_suppress_prefixlength_skips_the_default_route() -> None:
    rules = parse_rules(
        '[{"priority": 0, "src": "all", "table": "main", "suppress_prefixlen": 0},'
        ' {"priority": 1, "src": "all", "table": "200"}]'
    )
    routes = parse_routes(
        '[{"dst": "default", "dev": "eth0"}, {"dst": "192.168.10.0/24", "dev": "eth0"},'
        ' {"dst": "default", "dev": "eth1", "table": "200"}]'
    )
    routing = PolicyRouting(rules, routes)
    assert routing.lookup("8.8.8.8").dev == "eth1"
    assert routing.lookup("192.168.10.10").dev == "eth0"
    assert rule_text(rules[0]) == "0: from all lookup main suppress_prefixlength 0"


def test_local_addresses_rebuild_a_missing_local_table() -> None:
    rules = parse_rules((DATA / "seed-shared-dns" / "rule.json").read_text())
    routes = [
        r for r in parse_routes((DATA / "seed-shared-dns" / "route-table-all.json").read_text()) if r.table != "local"
    ]
    without = PolicyRouting(rules, routes).lookup("192.168.10.45")
    with_local = PolicyRouting(rules, routes, local_addresses=["192.168.10.45", "10.244.0.2"]).lookup("192.168.10.45")
    assert without.table == "main"
    assert (with_local.table, with_local.dev) == ("local", "lo")


def test_multipath_route_reports_its_first_nexthop() -> None:
    route = parse_routes(
        '[{"dst": "default", "table": "200", "flags": [], "nexthops": '
        '[{"gateway": "10.244.0.1", "dev": "eth1", "weight": 1}, {"gateway": "10.244.0.3", "dev": "eth1"}]}]'
    )[0]
    assert isinstance(route, Route)
    assert (route.first_gateway, route.first_dev) == ("10.244.0.1", "eth1")
    assert route.brief() == "default via 10.244.0.1 dev eth1"


def test_rules_to_lists_the_per_destination_rules() -> None:
    routing = _routing("seed-shared-dns")
    assert [rule_text(r) for r in routing.rules_to("192.168.10.10")] == ["0: from all to 192.168.10.10 lookup 200"]
    assert routing.rules_to(ip_address("192.168.10.20")) == ()
    assert isinstance(routing.rules[0], Rule)


@pytest.mark.parametrize(
    ("parser", "text", "needle"),
    [
        (parse_rules, "", "ip -j rule: empty output"),
        (parse_rules, "RTNETLINK answers: Operation not permitted", "ip -j rule: output is not JSON"),
        (parse_rules, '{"rules": 1}', "ip -j rule: entry 0: lookup rule without a table"),
        (parse_rules, "[1, 2]", "ip -j rule: entry 0 is int"),
        (parse_rules, '[{"priority": "high", "table": "main"}]', "ip -j rule: entry 0: priority 'high'"),
        (parse_rules, '[{"src": "10.0.0.300", "table": "main"}]', "ip -j rule: entry 0: bad src '10.0.0.300'"),
        (parse_routes, '"text"', "ip -j route show table all: expected a JSON list, got str"),
        (parse_routes, '[{"dev": "eth0"}]', "ip -j route show table all: entry 0: route without dst"),
        (parse_route_get, "[]", "ip -j route get: no route in the answer"),
        (parse_route_get, '[{"dev": "eth0"}]', "ip -j route get: answer without dst"),
    ],
)
def test_parse_errors_name_the_command(parser: object, text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        parser(text)  # type: ignore[operator]


# ------------------------------------------------------------------ the captures are reproducible

SCRIPT = DATA.parent / "capture_iproute.sh"


def _namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10, check=True)
    return {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}


def test_capture_script_reproduces_the_committed_captures_and_removes_its_namespace(tmp_path: Path) -> None:
    run = subprocess.run(["bash", str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    namespace = re.search(r"namespace (wcpcap-\S+) removed", run.stdout)
    assert namespace, run.stdout
    assert namespace[1] not in _namespaces()
    for variant in VARIANTS:
        fresh = sorted(p.name for p in (tmp_path / variant).iterdir())
        assert fresh == sorted(p.name for p in (DATA / variant).iterdir())
        assert parse_rules((tmp_path / variant / "rule.json").read_text()) == parse_rules(
            (DATA / variant / "rule.json").read_text()
        )
        for name in fresh:
            if name.startswith("route-get_") and name.endswith(".json"):
                assert parse_route_get((tmp_path / variant / name).read_text()) == parse_route_get(
                    (DATA / variant / name).read_text()
                ), f"{variant}/{name}"
            elif name.endswith((".err", ".txt")):
                assert (tmp_path / variant / name).read_text() == (DATA / variant / name).read_text()


def test_capture_script_removes_its_namespace_when_it_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), str(blocker / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode != 0
    assert "Not a directory" in stderr
    assert not {ns for ns in _namespaces() if ns.startswith(f"wcpcap-{proc.pid}-")}
