"""WCP-NS-001 and WCP-NCP-003 against the simulators: one read of each list and of ncpstatus for the run, the
Tier-1s the egress checks read not asked again, and the simulators' faults caught with their text."""

from __future__ import annotations

from lab.faults import apply_to_model
from lab.model import LAB_NAMESPACE, SupervisorModel

CHECKS = ("--check", "WCP-NS-001", "--check", "WCP-NCP-003", "--check", "WCP-EGR-002", "--check", "WCP-DLB-001")


def test_a_healthy_site_passes_reading_each_list_once(start_stack, suite) -> None:
    stack = start_stack()
    run = suite(stack.write_inventory(), *CHECKS)
    assert run.result.exit_code == 0, run.result.stdout[-3000:]
    others = run.outcomes("WCP-NS-001")
    assert others == {"system namespaces (the Supervisor's own Tier-1)": "passed",
                      "vSphere Namespaces the inventory does not name": "passed"}
    (entry,) = [e for e in run.entries("WCP-NS-001") if e["target"].startswith("vSphere")]
    assert f"{LAB_NAMESPACE} leaves as " in entry["observed"]  # not named by this inventory: judged with the others
    lists = [r.path for r in stack.kube.list_requests() if r.path in ("/api/v1/services", "/api/v1/namespaces",
                                                                      "/api/v1/pods")]
    # the DLB checks' Service list serves NCP-003's annotations too; the Namespaces serve NS-001 and NCP-003
    assert sorted(lists) == ["/api/v1/namespaces", "/api/v1/pods", "/api/v1/services"]
    model = stack.nsx.model
    for tier1 in (model.system_tier1, model.vsphere_namespaces[0].tier1):
        assert len(stack.nsx.requests_to(f"/policy/api/v1/infra/tier-1s/{tier1}/nat/USER/nat-rules")) == 1
    assert len([r for r in stack.nsx.requests_to("/policy/api/v1/infra/sites/") if r.path.endswith("/ncpstatus")]) == 1


def test_the_namespace_and_ncp_faults_fail_their_targets_with_their_text(start_stack, suite) -> None:
    stack = start_stack()
    apply_to_model(stack.model, {"ns-snat-missing", "ncp-status-down", "ncp-error-annotation"})
    stack.nsx.refresh()
    stack.kube.refresh()
    run = suite(stack.write_inventory(), *CHECKS)
    assert run.result.exit_code == 1
    assert run.not_passed() == {
        ("WCP-NS-001", "vSphere Namespaces the inventory does not name"): "failed",
        ("WCP-NCP-003", "NSX ncpstatus of the container cluster"): "failed",
        ("WCP-NCP-003", "no ncp/error annotation on Services, Namespaces or pods"): "failed",
    }
    texts = {e["target"]: e["observed"] for e in run.entries("WCP-NS-001") + run.entries("WCP-NCP-003")}
    assert texts["vSphere Namespaces the inventory does not name"].startswith(f"{LAB_NAMESPACE}: its Tier-1 ")
    assert texts["NSX ncpstatus of the container cluster"].startswith("DOWN: NSX manager connection lost")
    assert "IP_POOL_EXHAUSTED" in texts["no ncp/error annotation on Services, Namespaces or pods"]


def test_an_unknown_ncpstatus_is_an_error_not_a_failure(start_stack, suite) -> None:
    model = SupervisorModel.seed()
    model.ncp_status = "UNKNOWN"
    stack = start_stack(model)
    run = suite(stack.write_inventory(), "--check", "WCP-NCP-003")
    assert run.not_passed() == {("WCP-NCP-003", "NSX ncpstatus of the container cluster"): "error"}
    (entry,) = [e for e in run.entries("WCP-NCP-003") if e["outcome"] == "error"]
    assert "UNKNOWN" in entry["cause"]
    assert "could not be told" in entry["cause"]
