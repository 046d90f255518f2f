"""WCP-RT-001 on real captures: management dependencies must leave through the management interface."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from wcp_acceptance.checks.routing import check_management_dependency_route, diagnose_path
from wcp_acceptance.finding import CheckFailed, expect
from wcp_acceptance.iproute import PolicyRouting
from wcp_acceptance.targets import RouteProbe

DATA = Path(__file__).resolve().parent.parent / "data" / "iproute"
MGMT = IPv4Address("192.168.10.45")
SHARED_DNS = IPv4Address("192.168.10.10")


def _routing(variant: str) -> PolicyRouting:
    return PolicyRouting.from_json(
        (DATA / variant / "rule.json").read_text(), (DATA / variant / "route-table-all.json").read_text()
    )


def _route_get(variant: str, dst: str, src: str = "192.168.10.45") -> str:
    return (DATA / variant / f"route-get_{dst}_from_{src}.json").read_text()


def _probe(dst: str, role: str = "management DNS") -> RouteProbe:
    return RouteProbe("cp-1", MGMT, IPv4Address(dst), role)


def test_shared_dns_fails_with_the_rule_the_table_and_the_cause() -> None:
    finding = check_management_dependency_route(
        _probe("192.168.10.10"),
        _routing("seed-shared-dns"),
        _route_get("seed-shared-dns", "192.168.10.10"),
        management_iface="eth0",
        workload_tables=("200",),
        workload_dns=[SHARED_DNS],
    )
    assert not finding.ok
    assert finding.check_id == "WCP-RT-001"
    assert finding.target == "cp-1 -> 192.168.10.10 (management DNS)"
    assert "192.168.10.10 (management DNS)" in finding.expected
    assert "via eth0 (main table)" in finding.expected
    assert finding.observed == (
        "rule 0: from all to 192.168.10.10 lookup 200 sends it to table 200: default via 10.244.0.1 dev eth1"
    )
    assert "management and workload DNS share 192.168.10.10" in finding.cause
    assert "out eth1" in finding.cause
    assert 'ip rule "0: from all to 192.168.10.10 lookup 200"' in finding.evidence
    assert "ip route show table 200: default via 10.244.0.1 dev eth1 proto static" in finding.evidence
    assert "ip route show table 200: 10.244.0.0/28 dev eth1 proto static scope link" in finding.evidence
    assert "ip route get 192.168.10.10 from 192.168.10.45 -> dev eth1 via 10.244.0.1" in finding.evidence
    assert any(line.startswith("ip route get 192.168.10.10 from 192.168.10.45 (raw): [{") for line in finding.evidence)
    with pytest.raises(CheckFailed, match="Likely cause: management and workload DNS share 192.168.10.10"):
        expect(finding)


@pytest.mark.parametrize(
    ("dst", "role"),
    [("192.168.10.10", "management DNS"), ("192.168.10.20", "vCenter"), ("192.168.10.28", "NSX manager")],
)
def test_healthy_redeploy_passes_for_every_management_dependency(dst: str, role: str) -> None:
    finding = check_management_dependency_route(
        _probe(dst, role),
        _routing("healthy"),
        _route_get("healthy", dst),
        management_iface="eth0",
        workload_dns=[IPv4Address("192.168.10.11")],
    )
    assert finding.ok, finding.message()
    assert "via eth0" in finding.observed
    assert "rule 32766: from all lookup main" in finding.observed
    assert expect(finding) is finding


def test_unshared_management_dependency_passes_on_the_shared_dns_capture() -> None:
    finding = check_management_dependency_route(
        _probe("192.168.10.28", "NSX manager"),
        _routing("seed-shared-dns"),
        _route_get("seed-shared-dns", "192.168.10.28"),
        workload_dns=[SHARED_DNS],
    )
    assert finding.ok, finding.message()


def test_without_the_workload_dns_list_the_cause_is_the_generic_steering_rule() -> None:
    finding = check_management_dependency_route(
        _probe("192.168.10.10"), _routing("seed-shared-dns"), None, management_iface="eth0"
    )
    assert not finding.ok
    assert "share" not in finding.cause
    assert "an ip rule steers management traffic into the workload table 200" in finding.cause
    predicted = [line for line in finding.evidence if line.startswith("ip route get 192.168.10.10 from 192.168.10.45")]
    assert predicted == [
        "ip route get 192.168.10.10 from 192.168.10.45 (predicted from ip rule and ip route) "
        "-> dev eth1 via 10.244.0.1 (table 200)"
    ]


def test_management_address_inside_a_workload_range_names_the_overlap() -> None:
    # An NTP server at 10.96.0.5 lies inside the Service range 10.96.0.0/23 the seed steers into table 200.
    finding = check_management_dependency_route(
        _probe("10.96.0.5", "NTP"), _routing("seed-shared-dns"), None, workload_dns=[SHARED_DNS]
    )
    assert not finding.ok
    assert finding.observed.startswith("rule 0: from all to 10.96.0.0/23 lookup 200 sends it to table 200")
    assert "lies inside 10.96.0.0/23" in finding.cause
    assert "overlap" in finding.cause


def test_the_kernels_answer_decides_when_it_disagrees_with_the_rules() -> None:
    # Rules read from the healthy VM, but the kernel (asked later) already steers 192.168.10.10 out eth1.
    finding = check_management_dependency_route(
        _probe("192.168.10.10"),
        _routing("healthy"),
        _route_get("seed-shared-dns", "192.168.10.10"),
        workload_dns=[SHARED_DNS],
    )
    assert not finding.ok
    assert "ip route get answers dev eth1 via 10.244.0.1" in finding.observed
    assert any(line.startswith("note: the rules and tables predict dev eth0") for line in finding.evidence)


def test_refused_route_get_fails_with_the_kernels_error() -> None:
    routing = _routing("selectors")
    raw = (DATA / "selectors" / "route-get_198.51.100.1_from_192.168.10.45.err").read_text()
    finding = check_management_dependency_route(_probe("198.51.100.1", "NTP"), routing, raw)
    assert not finding.ok
    assert finding.observed == "rule 6: from all to 198.51.100.0/24 unreachable refuses it: Network is unreachable"
    assert "refuses traffic to 198.51.100.1 (unreachable)" in finding.cause


def test_main_table_route_out_the_workload_interface_is_reported_as_such() -> None:
    rules = json.dumps([{"priority": 0, "src": "all", "table": "local"}, {"priority": 32766, "table": "main"}])
    routes = json.dumps(
        [{"dst": "default", "gateway": "192.168.10.254", "dev": "eth0"}, {"dst": "192.168.10.0/26", "dev": "eth1"}]
    )
    finding = check_management_dependency_route(_probe("192.168.10.10"), PolicyRouting.from_json(rules, routes))
    assert not finding.ok
    assert finding.observed == "table main sends it out eth1: 192.168.10.0/26 dev eth1"
    assert "the main table routes 192.168.10.10 out eth1" in finding.cause


def test_diagnose_path_reads_route_get_errors_and_json() -> None:
    routing = _routing("seed-shared-dns")
    refused = diagnose_path(routing, "192.168.10.10", "192.168.10.45", "RTNETLINK answers: Network is unreachable")
    assert refused.refused == "Network is unreachable"
    assert refused.summary() == "refused: Network is unreachable"
    answered = diagnose_path(routing, "192.168.10.10", "192.168.10.45", _route_get("seed-shared-dns", "192.168.10.10"))
    assert (answered.dev, answered.gateway, answered.table, answered.steered, answered.agrees) == (
        "eth1",
        "10.244.0.1",
        "200",
        True,
        True,
    )
    garbage = diagnose_path(routing, "192.168.10.10", "192.168.10.45", "exit 255, no output")
    assert garbage.kernel is None
    assert garbage.dev == "eth1"  # falls back to the rule analysis, keeps the raw text as evidence
    assert "ip route get 192.168.10.10 from 192.168.10.45 (raw): exit 255, no output" in garbage.evidence()
