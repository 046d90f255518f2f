"""The certificate check against the simulators: healthy passes with the end dates in summary.json; a
certificate re-issued to run out soon fails its own endpoint only, major or critical; each endpoint is
observed with one handshake for the run (a VIP port's is the VIP checks' own)."""

from __future__ import annotations

import threading
from typing import Any

from lab.sim.server import SimServer

CERT = ("--check", "WCP-CERT-001")


def count_connections(server: SimServer) -> list[int]:
    """How many connections ``server`` accepts from now on (a list, so the count can be read later)."""
    inner: Any = server._server  # noqa: SLF001 - the test counts what the simulator accepted
    accept = inner.get_request
    count = [0]
    lock = threading.Lock()

    def counted() -> Any:
        with lock:
            count[0] += 1
        return accept()

    inner.get_request = counted
    return count


def test_a_healthy_site_passes_and_records_each_end_date(start_stack, suite) -> None:
    stack = start_stack()
    run = suite(stack.write_inventory(), *CERT)
    assert run.result.exit_code == 0, run.result.stdout[-3000:]
    outcomes = run.outcomes("WCP-CERT-001")
    assert set(outcomes) == {*(f"127.0.1.2:{p}" for p in stack.vip_ports), f"nsx 127.0.0.1:{stack.nsx_server.port}",
                             f"vcenter 127.0.0.1:{stack.vc_server.port}"}
    assert set(outcomes.values()) == {"passed"}
    for entry in run.entries("WCP-CERT-001"):
        assert "valid until" in entry["observed"]
        assert "days left" in entry["observed"]


def test_soon_running_out_fails_its_endpoint_only_with_its_severity(start_stack, suite) -> None:
    stack = start_stack()
    stack.nsx_server.set_tls(stack.ca.server_context("127.0.0.1", "localhost", days_left=20.5))
    vip = stack.vip_servers[1]
    vip.set_tls(stack.ca.server_context(stack.vip_host, days_left=3.5))
    run = suite(stack.write_inventory(), *CERT, "--check", "WCP-VIP-002")
    assert run.result.exit_code == 1
    nsx, vip_target = f"nsx 127.0.0.1:{stack.nsx_server.port}", f"{stack.vip_host}:{vip.port}"
    assert run.not_passed() == {("WCP-CERT-001", nsx): "failed", ("WCP-CERT-001", vip_target): "failed"}
    by_target = {e["target"]: e for e in run.entries("WCP-CERT-001")}
    assert by_target[nsx]["severity"] == "major"
    assert "20 days left, below warn_days 30" in by_target[nsx]["observed"]
    assert by_target[vip_target]["severity"] == "critical"
    assert "3 days left, below fail_days 7" in by_target[vip_target]["observed"]
    assert "notAfter" in by_target[vip_target]["observed"]


def test_each_endpoint_is_observed_once_and_a_vip_port_shares_the_vip_checks_handshake(start_stack, suite) -> None:
    stack = start_stack()
    counts = {"nsx": count_connections(stack.nsx_server), "vcenter": count_connections(stack.vc_server),
              **{f"vip {s.port}": count_connections(s) for s in stack.vip_servers}}
    run = suite(stack.write_inventory(), *CERT, "--check", "WCP-VIP-*")
    assert run.result.exit_code == 0, run.result.stdout[-3000:]
    assert len(run.entries("WCP-CERT-001")) == 4
    # vCenter and NSX are not read by these checks: the one connection is the certificate's handshake;
    # each VIP port's one connection carries TCP, TLS and GET /version for all four checks
    assert {name: count[0] for name, count in counts.items()} == dict.fromkeys(counts, 1)
