"""The suite against a healthy simulated Supervisor: every DLB and VIP check passes, and the report
files (summary.json, junit.xml, report.html, the cron line) agree with the run."""

from __future__ import annotations

import xml.etree.ElementTree as ET

SERVICE_PORTS_IN_SEED = 30


def test_a_healthy_supervisor_passes_dlb_vip_and_nat(start_stack, suite) -> None:
    stack = start_stack()
    run = suite(stack.write_inventory(), "-m", "dlb or vip or egress", "-k", "not workload_egress")
    assert run.result.exit_code == 0, run.result.stdout[-3000:]
    assert run.summary["totals"] == {"passed": 11, "failed": 0, "error": 0, "skipped": 0, "not_run": 0, "total": 11}
    assert set(run.outcomes("WCP-EGR-002")) == {"127.0.64.2 -> 127.0.0.1 (leaving the cluster)",
                                                 "127.0.64.2 -> 127.0.64.16 (inside the cluster)",
                                                 "127.0.64.2 -> 127.0.2.2 (to the egress range)"}
    assert run.outcomes("WCP-DLB-001") == {"supervisor-1": "passed"}
    vip_targets = {f"127.0.1.2:{port}" for port in stack.vip_ports}
    for check in ("WCP-VIP-001", "WCP-VIP-002", "WCP-VIP-003"):
        assert run.outcomes(check) == dict.fromkeys(vip_targets, "passed")


def test_summary_json_matches_the_run(start_stack, suite) -> None:
    stack = start_stack()
    stack.model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    stack.nsx.refresh()
    run = suite(stack.write_inventory(), "-m", "dlb or vip")
    summary = run.summary
    assert run.result.exit_code == 1
    assert summary["schema_version"] == 2
    assert summary["inventory"] == "sim"
    assert summary["verdict"] == "UNHEALTHY"
    assert summary["scope"]["full"] is False
    assert summary["scope"]["markers"] == "dlb or vip"
    assert summary["scope"]["deselected"] > 0
    assert summary["exit_code"] == run.result.exit_code
    assert summary["read_only"] is True
    assert summary["started_at"] <= summary["finished_at"]
    # junit.xml and summary.json describe the same tests with the same outcomes
    suite_el = ET.parse(run.run_dir / "junit.xml").getroot().find("testsuite")  # noqa: S314 - our own output
    junit = {}
    for case in suite_el.iter("testcase"):
        outcome = "failed" if case.find("failure") is not None else "error" if case.find("error") is not None \
            else "skipped" if case.find("skipped") is not None else "passed"
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        junit[(props["check_id"], props["target"])] = outcome
    assert junit == {(t["check_id"], t["target"]): t["outcome"] for t in summary["tests"]}
    assert int(suite_el.get("failures")) == summary["totals"]["failed"] == 1
    (dlb,) = run.entries("WCP-DLB-001")
    assert dlb["outcome"] == "failed"
    assert "10.96.0.10:53/UDP" in dlb["observed"] or any("10.96.0.10:53/UDP" in e for e in dlb["evidence"])
    assert dlb["expected"]
    assert dlb["cause"]
    assert dlb["evidence"]
    for entry in summary["tests"]:
        assert set(entry) >= {"check_id", "nodeid", "title", "target", "outcome", "duration_s"}
    # the HTML stands alone (no side files) and carries the evidence of the failure only
    html = (run.run_dir / "report.html").read_text()
    assert sorted(p.name for p in run.run_dir.iterdir()) == ["junit.xml", "report.html", "summary.csv", "summary.json",
                                                             "summary.md"]
    assert "<link " not in html or 'rel="stylesheet" href' not in html
    assert "evidence WCP-DLB-001" in html
    assert "evidence WCP-VIP-001" not in html
    # the last line printed is the cron line
    last = run.result.last_line
    assert last.startswith("wcp-acceptance sim: UNHEALTHY (partial) exit=1 7 passed, 1 failed, 0 could not observe, "
                           "0 skipped")
    assert str(run.run_dir) in last


def test_summary_says_what_the_run_asked_of_each_api(start_stack, suite) -> None:
    """summary.json "asked": every request the simulators saw, counted by the suite itself."""
    stack = start_stack()
    stack.nsx.clear_log()
    run = suite(stack.write_inventory(), "-m", "dlb")
    assert run.result.exit_code == 0, run.result.stdout[-2000:]
    asked = run.summary["asked"]
    assert asked["nsx_requests"] == len(stack.nsx.requests_to("/", method=None))  # login, GETs, logout
    assert asked["kubernetes_requests"] == len(stack.kube.list_requests())
    assert asked["nsx_requests"] >= 3
    assert "ssh_commands" not in asked  # the DLB checks never touch a VM
