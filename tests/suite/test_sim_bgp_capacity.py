"""The BGP and capacity checks against the simulators: healthy passes; a down session, an exhausted pool and a
full load balancer fail only their own targets; an NSX that cannot ask the edge errors, naming the API."""

from __future__ import annotations

SELECT = ("-m", "bgp or capacity")
CAPACITY = ("ingress IP pool", "egress IP pool", "edge load balancer")


def test_a_healthy_site_passes_bgp_and_every_capacity_target(start_stack, suite) -> None:
    stack = start_stack()
    run = suite(stack.write_inventory(), *SELECT)
    assert run.result.exit_code == 0, run.result.stdout[-3000:]
    assert run.outcomes("WCP-BGP-001") == {stack.model.supervisor_name: "passed"}
    assert run.outcomes("WCP-CAP-001") == dict.fromkeys(CAPACITY, "passed")


def test_a_down_session_an_empty_egress_pool_and_a_full_lb_fail_their_own_targets(start_stack, suite) -> None:
    stack = start_stack()
    stack.model.routing.bgp_state = "IDLE"
    stack.model.routing.egress_allocated = 1 << 20
    stack.model.routing.lb_extra_credits = 38
    stack.nsx.refresh()
    run = suite(stack.write_inventory(), *SELECT)
    assert run.result.exit_code == 1
    assert run.not_passed() == {("WCP-BGP-001", stack.model.supervisor_name): "failed",
                                ("WCP-CAP-001", "egress IP pool"): "failed",
                                ("WCP-CAP-001", "edge load balancer"): "failed"}
    (bgp,) = run.entries("WCP-BGP-001")
    assert "IDLE" in bgp["observed"]
    severities = {e["target"]: e.get("severity") for e in run.entries("WCP-CAP-001") if e["outcome"] == "failed"}
    assert severities == {"egress IP pool": "critical", "edge load balancer": "major"}


def test_an_nsx_that_cannot_ask_the_edge_errors_bgp_only(start_stack, suite) -> None:
    stack = start_stack()
    status = f"/policy/api/v1/infra/tier-0s/{stack.model.tier0_gateway}/locale-services/default/bgp/neighbors/status"
    stack.nsx.fail(status, 500, times=None, error_code=98, message="Cannot connect to the edge")
    run = suite(stack.write_inventory(), *SELECT)
    assert run.not_passed() == {("WCP-BGP-001", stack.model.supervisor_name): "error"}
    (bgp,) = run.entries("WCP-BGP-001")
    assert "NSX answered 500" in bgp["cause"], bgp
