"""collect_routing: raw ip -j rule / route / route get text from the VM, route-get refusals kept."""

from __future__ import annotations

import json

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.probes.routing import collect_routing


def test_collects_rules_tables_and_route_gets(runner: ReadOnlyRunner) -> None:
    raw = collect_routing(runner, [("127.0.0.1", "127.0.0.2"), ("127.0.0.5", "127.0.0.1"), ("127.0.0.1", "192.0.2.1")])
    assert raw.vm == "cp-1"
    assert {"priority": 0, "src": "all", "table": "local"} in json.loads(raw.rules_json)
    assert any(r.get("table") == "local" and r.get("dst") == "127.0.0.0/8" for r in json.loads(raw.routes_json))
    assert sorted(raw.route_gets) == [("127.0.0.1", "127.0.0.2"), ("127.0.0.5", "127.0.0.1")]
    (route,) = json.loads(raw.route_gets[("127.0.0.5", "127.0.0.1")])
    assert (route["dst"], route["from"], route["dev"]) == ("127.0.0.5", "127.0.0.1", "lo")
    # a source the VM does not own: the kernel refuses the lookup, which is an observation
    assert raw.route_get_errors == {("127.0.0.1", "192.0.2.1"): "RTNETLINK answers: Network is unreachable"}
