"""Nothing answers: the suite still ends within its timeouts, errors every check it could not
observe (no hang, no traceback), exits 1 and writes a complete report saying what was unreachable."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from tests.support.dnsmasq import free_port


@contextlib.contextmanager
def silent_listener(address: str = "127.0.0.1") -> Iterator[int]:
    """Accepts TCP connections and never says a word (a hung appliance)."""
    with socket.socket() as server:
        server.bind((address, 0))
        server.listen(64)
        yield int(server.getsockname()[1])


def test_a_site_where_nothing_answers_errors_within_the_timeouts(tmp_path: Path, start_stack, suite) -> None:
    stack = start_stack()
    data = stack.inventory_data()
    stack.stop()  # the APIs, the VIP and the kube-apiserver are gone
    with silent_listener() as silent_port:
        data["nsx"]["managers"] = [f"https://127.0.0.1:{silent_port}"]  # accepts, then silence
        for vm in data["supervisor"]["control_plane"]:
            vm["ssh"]["port"] = free_port(vm["management_address"])
        data["dns"]["port"] = free_port("127.0.10.10")
        data["observer"]["port"] = free_port("127.0.0.1")
        data["timeouts"] = {"connect": 1, "command": 3, "dns": 1, "api": 1, "egress": 1}
        run = suite(stack.write_inventory(data))

    assert run.result.exit_code == 1
    assert "Traceback" not in run.result.stdout + run.result.stderr
    assert run.elapsed_s < 90, f"the run took {run.elapsed_s:.0f} s"
    summary = run.summary
    outcomes = {t["outcome"] for t in summary["tests"]}
    assert "passed" not in outcomes
    # 49, LOGIN, DNS-004 x3, NS/NCP x7, BGP, CAP x3, and the return-path, clock and MTU checks (RT-002 x6, TIME-001
    # x3, MTU-001 x6)
    assert summary["totals"]["total"] == len(summary["tests"]) == 79
    (login,) = (t for t in summary["tests"] if t["check_id"] == "WCP-LOGIN-001")
    assert login["outcome"] == "skipped"  # not opted in: never asked, never a failure, and it says why
    assert login["skip_reason"].startswith("needs login: the inventory does not opt in")
    errors = [t for t in summary["tests"] if t["outcome"] == "error"]
    assert {t["check_id"] for t in errors} >= {"WCP-DNS-001", "WCP-DNS-002", "WCP-DNS-003", "WCP-RT-001",
                                               "WCP-EGR-001", "WCP-EGR-002", "WCP-DLB-001", "WCP-DLB-002",
                                               "WCP-NCP-001", "WCP-NCP-002", "WCP-CERT-001", "WCP-NCP-003",
                                               "WCP-NCP-004", "WCP-NS-001", "WCP-RT-002", "WCP-TIME-001",
                                               "WCP-MTU-001"}
    for entry in errors:
        assert entry["observed"].startswith("could not observe"), entry
        assert entry["cause"], entry
    vip = [t for t in summary["tests"] if t["check_id"] == "WCP-VIP-001"]
    assert {t["outcome"] for t in vip} == {"failed"}  # nothing accepts on the VIP: the system is wrong
    assert all("refused" in t["observed"] for t in vip)
    certs = [t for t in summary["tests"] if t["check_id"] == "WCP-CERT-001"]
    assert {t["outcome"] for t in certs} == {"error"}  # no handshake: the certificates could not be seen
    assert any("connect timeout" in t["cause"] for t in certs if t["target"].startswith("nsx "))
    html = (run.run_dir / "report.html").read_text()
    assert "TCP connection refused" in html
    assert run.result.last_line.startswith("wcp-acceptance sim: UNHEALTHY exit=1 0 passed")
