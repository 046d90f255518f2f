"""The suite against simulated faults: the right check fails (or errors) with the right cause."""

from __future__ import annotations

import math

from lab.model import SupervisorModel

DLB_AND_VIP = ("-m", "dlb or vip")


def test_a_service_without_a_dlb_virtual_server_fails_dlb_001(start_stack, suite) -> None:
    stack = start_stack()
    stack.model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    stack.nsx.refresh()
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    assert run.result.exit_code == 1
    assert run.not_passed() == {("WCP-DLB-001", "supervisor-1"): "failed"}
    (entry,) = run.entries("WCP-DLB-001")
    assert "kube-system/kube-dns 53/UDP" in entry["observed"]
    assert "NCP" in entry["cause"]


def test_a_stale_virtual_server_fails_dlb_002_only(start_stack, suite) -> None:
    stack = start_stack()
    stack.model.add_stale_dlb_virtual_server("default", "old-web", "10.96.1.99", 8080)
    stack.nsx.refresh()
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    assert run.not_passed() == {("WCP-DLB-002", "supervisor-1"): "failed"}
    (entry,) = run.entries("WCP-DLB-002")
    assert "10.96.1.99:8080/TCP" in entry["observed"]
    assert "old-web" in entry["cause"]


def test_a_port_mismatch_is_named_as_such(start_stack, suite) -> None:
    stack = start_stack()
    stack.model.mismatch_dlb_port("kube-system", "kube-dns", 9153, "TCP", new_port=9154)
    stack.nsx.refresh()
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    assert run.result.exit_code == 1
    (entry,) = run.entries("WCP-DLB-001")
    assert entry["outcome"] == "failed"
    assert "kube-system/kube-dns 9153/TCP" in entry["observed"]
    assert "9154" in entry["cause"]
    assert "mismatch" in entry["cause"].lower()


def test_2500_services_and_virtual_servers_are_all_seen_in_one_list_sequence_each(start_stack, suite) -> None:
    model = SupervisorModel.scaled(2500)
    stack = start_stack(model)
    run = suite(stack.write_inventory(), "-m", "dlb")
    assert run.result.exit_code == 0, run.result.stdout[-2000:]
    services = len(model.services)
    dlb_servers = [vs for vs in model.virtual_servers if vs.created_for == "DLB"]
    assert len(dlb_servers) >= 2500
    service_lists = stack.kube.list_requests("/api/v1/services")
    assert len(service_lists) == math.ceil(services / 500)  # limit=500 with continue, nothing more
    vs_lists = stack.nsx.requests_to("/policy/api/v1/infra/lb-virtual-servers")
    assert len(vs_lists) == math.ceil(len(model.virtual_servers) / 1000)  # page_size=1000 with cursor
    assert all(r.query.get("page_size") == "1000" for r in vs_lists)
    print(f"\n{services} Services in {len(service_lists)} list calls; {len(model.virtual_servers)} virtual servers "
          f"in {len(vs_lists)} list calls; suite wall time {run.elapsed_s:.1f} s")


def test_nsx_refusing_the_credentials_errors_the_dlb_checks_and_the_report_is_written(start_stack, suite) -> None:
    stack = start_stack()
    stack.nsx.fail("/", 401, times=None)
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    assert run.result.exit_code == 1
    assert run.not_passed() == {("WCP-DLB-001", "supervisor-1"): "error", ("WCP-DLB-002", "supervisor-1"): "error"}
    (entry,) = run.entries("WCP-DLB-001")
    assert "401" in entry["cause"]
    assert (run.run_dir / "report.html").is_file()
    assert "Traceback" not in run.result.stdout


def test_nsx_throttling_is_retried_a_bounded_number_of_times(start_stack, suite) -> None:
    stack = start_stack()
    stack.nsx.fail("/policy/api/v1/infra/lb-virtual-servers", 429, times=None, retry_after=0.2)
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    assert run.not_passed() == {("WCP-DLB-001", "supervisor-1"): "error", ("WCP-DLB-002", "supervisor-1"): "error"}
    assert "429" in run.entries("WCP-DLB-001")[0]["cause"]
    assert len(stack.nsx.requests_to("/policy/api/v1/infra/lb-virtual-servers")) == 3  # tries, then give up


def test_a_transient_nsx_error_is_survived(start_stack, suite) -> None:
    stack = start_stack()
    stack.nsx.fail("/policy/api/v1/infra/lb-virtual-servers", 503, times=1, retry_after=0.1)
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    assert run.result.exit_code == 0


def test_nsx_500_errors_with_the_nsx_error_message(start_stack, suite) -> None:
    stack = start_stack()
    stack.nsx.fail("/policy/api/v1/infra/lb-virtual-servers", 500, times=None, error_code=98,
                   message="Cannot connect to server")
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    (entry,) = run.entries("WCP-DLB-001")
    assert entry["outcome"] == "error"
    assert "500" in entry["cause"]
    assert "Cannot connect to server" in entry["cause"]


def test_a_slow_nsx_times_out_within_the_api_timeout(start_stack, suite) -> None:
    stack = start_stack()
    stack.nsx.delay(20, "/policy/api/v1/infra/lb-virtual-servers")
    data = stack.inventory_data()
    data["timeouts"]["api"] = 1
    run = suite(stack.write_inventory(data), *DLB_AND_VIP)
    (entry,) = run.entries("WCP-DLB-001")
    assert entry["outcome"] == "error"
    assert "within 1 s" in entry["cause"]
    assert entry["duration_s"] < 8  # a bounded number of tries of 1 s each, not the 20 s the server takes
    assert (run.run_dir / "summary.json").is_file()


def test_a_vip_certificate_for_the_wrong_name_fails_vip_002(start_stack, suite) -> None:
    stack = start_stack(vip_cert_names=("kube.other.local",))
    run = suite(stack.write_inventory(), *DLB_AND_VIP)
    targets = {f"127.0.1.2:{port}" for port in stack.vip_ports}
    assert run.outcomes("WCP-VIP-001") == dict.fromkeys(targets, "passed")
    assert run.outcomes("WCP-VIP-002") == dict.fromkeys(targets, "failed")
    for entry in run.entries("WCP-VIP-002"):
        assert "kube.other.local" in entry["observed"] + entry["cause"]
    assert set(run.outcomes("WCP-VIP-003").values()) == {"failed"}


def test_a_missing_no_snat_rule_fails_egr_002_inside_the_cluster(start_stack, suite) -> None:
    stack = start_stack()
    stack.model.nat_rules = [r for r in stack.model.nat_rules
                             if not (r.action == "NO_SNAT" and r.destination_network == r.source_network)]
    stack.nsx.refresh()
    run = suite(stack.write_inventory(), "-m", "egress", "-k", "nsx_nat")
    assert run.not_passed() == {("WCP-EGR-002", "127.0.64.2 -> 127.0.64.16 (inside the cluster)"): "failed"}
    (entry,) = [e for e in run.entries("WCP-EGR-002") if e["outcome"] == "failed"]
    assert "SNAT" in entry["observed"]
    assert "NO_SNAT" in entry["cause"]
    assert any("127.0.2.1" in line for line in entry["evidence"])


def test_snat_to_the_wrong_ip_fails_egr_002_leaving_the_cluster(start_stack, suite) -> None:
    stack = start_stack()
    for rule in stack.model.nat_rules:
        if rule.action == "SNAT":
            rule.translated_network = "127.0.2.9"
    stack.nsx.refresh()
    run = suite(stack.write_inventory(), "-m", "egress", "-k", "nsx_nat")
    assert run.not_passed() == {("WCP-EGR-002", "127.0.64.2 -> 127.0.0.1 (leaving the cluster)"): "failed"}
    assert "127.0.2.9" in run.entries("WCP-EGR-002")[0]["cause"] + str(run.entries("WCP-EGR-002"))
