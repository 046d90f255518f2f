"""The vCenter checks as a user runs them against the simulators: pass, fail with vCenter's word, or skip
with the reason when the inventory names no vCenter (and then nothing else changes)."""

from __future__ import annotations

from lab.faults import apply_to_model

VC_CHECKS = ("WCP-VC-001", "WCP-VC-002", "WCP-VC-003")


def test_the_vcenter_checks_pass_and_read_vcenter_once(start_stack, suite) -> None:
    stack = start_stack()
    run = suite(stack.write_inventory(), "-m", "vcenter")
    assert run.result.exit_code == 0, run.result.stdout[-3000:]
    for check in VC_CHECKS:
        assert run.outcomes(check) == {"supervisor-1": "passed"}, check
    paths = [r.path for r in stack.vcenter.requests_to("/api/vcenter")]
    assert paths == ["/api/vcenter/namespace-management/clusters",
                     "/api/vcenter/namespace-management/clusters/domain-c8"]


def test_vcenters_word_is_in_the_failures(start_stack, suite) -> None:
    stack = start_stack()
    apply_to_model(stack.model, {"wcp-config-error", "wcp-kubernetes-warning", "wcp-drift-dns"})
    run = suite(stack.write_inventory(), "-m", "vcenter")
    assert run.result.exit_code == 1
    (config,) = run.entries("WCP-VC-001")
    assert "config_status ERROR" in config["observed"]
    assert "no capacity" in config["observed"]
    (kube,) = run.entries("WCP-VC-002")
    assert kube["outcome"] == "failed"
    assert kube["severity"] == "major"
    assert any("KB: https://kb.lab.invalid" in line for line in kube["evidence"])
    (drift,) = run.entries("WCP-VC-003")
    assert "inventory dns.workload.servers 127.0.10.11, vCenter worker_DNS 127.0.10.111" in drift["observed"]


def test_without_vcenter_its_checks_skip_with_the_reason_and_nothing_else_changes(start_stack, suite) -> None:
    stack = start_stack()
    # the API-side checks only: WCP-NCP-004 shakes hands from the VMs, which this site does not have
    api_side = ("-m", "vcenter or ncp or dlb", "-k", "not nsx_manager_completes_tls")
    with_vc = suite(stack.write_inventory(), *api_side)
    data = stack.inventory_data()
    del data["vcenter"]
    without = suite(stack.write_inventory(data, "no-vcenter.yaml"), *api_side)
    assert without.result.exit_code == 0, without.result.stdout[-3000:]
    assert without.summary["verdict"] == "HEALTHY"
    for check in VC_CHECKS:
        (entry,) = without.entries(check)
        assert entry["outcome"] == "skipped"
        assert entry["skip_reason"] == "needs vcenter: the inventory names no vCenter (vcenter is optional)"
    others = {(t["check_id"], t["target"]): t["outcome"] for t in with_vc.summary["tests"]
              if t["check_id"] not in VC_CHECKS}
    assert others == {(t["check_id"], t["target"]): t["outcome"] for t in without.summary["tests"]
                      if t["check_id"] not in VC_CHECKS}
    assert "0 failed" in without.result.last_line
    assert "3 skipped" in without.result.last_line
