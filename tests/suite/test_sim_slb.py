"""The suite's SLB checks against the simulators: healthy passes; NSX's and Kubernetes' side of the API VIP
each fail only their own target, and a dead NSX errors only NSX's targets."""

from __future__ import annotations

SLB = ("-m", "slb")


def targets(stack) -> set[str]:
    return {f"127.0.1.2:{port}" for port in stack.vip_ports}


def test_a_healthy_supervisor_passes_both_slb_checks(start_stack, suite) -> None:
    stack = start_stack()
    run = suite(stack.write_inventory(), *SLB)
    assert run.result.exit_code == 0, run.result.stdout[-3000:]
    assert run.outcomes("WCP-SLB-001") == dict.fromkeys([*targets(stack), "kube-system/kube-apiserver-lb-svc"],
                                                        "passed")
    assert run.outcomes("WCP-SLB-002") == dict.fromkeys(targets(stack), "passed")


def test_a_dead_member_and_a_wrong_ingress_fail_their_targets(start_stack, suite) -> None:
    stack = start_stack()
    stack.model.add_slb_member("kube-system", "kube-apiserver-lb-svc", "127.0.64.14")
    stack.model.set_ingress_ip("kube-system", "kube-apiserver-lb-svc", "127.0.1.254")
    stack.nsx.refresh()
    stack.kube.refresh()
    run = suite(stack.write_inventory(), *SLB)
    assert run.result.exit_code == 1
    assert run.not_passed() == {("WCP-SLB-001", "kube-system/kube-apiserver-lb-svc"): "failed",
                                **{("WCP-SLB-002", t): "failed" for t in targets(stack)}}
    for entry in run.entries("WCP-SLB-002"):
        assert "127.0.64.14" in entry["cause"]
        assert "only half works" in entry["cause"]
    (service,) = [e for e in run.entries("WCP-SLB-001") if e["target"] == "kube-system/kube-apiserver-lb-svc"]
    assert "127.0.1.254" in service["observed"]


def test_a_dead_nsx_errors_only_nsx_targets(start_stack, suite) -> None:
    stack = start_stack()
    stack.nsx.fail("/policy/api/v1/infra/lb-", 503, times=None)
    run = suite(stack.write_inventory(), *SLB)
    assert run.not_passed() == {**{("WCP-SLB-001", t): "error" for t in targets(stack)},
                                **{("WCP-SLB-002", t): "error" for t in targets(stack)}}
    assert run.outcomes("WCP-SLB-001")["kube-system/kube-apiserver-lb-svc"] == "passed"
