"""Two runs on one runner with the same observer port: the second's egress checks error with a message that
names what holds the port (the other run, by pid and site), never a bare "[Errno 98] Address already in use"."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from tests.run.suite_process import finished, read_summary, suite_process
from tests.support.dnsmasq import free_port
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.probes.observer import EgressObserver
from wcp_acceptance.probes.port_holder import holders

ADDRESS = "127.0.0.9"


def test_a_port_another_process_holds_names_its_pid_and_program() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind((ADDRESS, 0))
        port = held.getsockname()[1]
        with pytest.raises(ObservationError) as caught:
            EgressObserver(ADDRESS, port, "socket")
    error = caught.value
    assert error.target == f"observer {ADDRESS}:{port}"
    assert f"UDP {ADDRESS}:{port} is already in use by pid {os.getpid()} (python" in error.cause
    assert "their own observer.port" in error.cause
    assert "Errno" not in error.cause
    assert len(error.evidence) == 1
    assert error.evidence[0].startswith("/proc/net/udp: ")


def test_a_wildcard_bind_holds_every_address_of_the_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("0.0.0.0", 0))  # noqa: S104 - loopback-only machine test: the wildcard is the point
        port = held.getsockname()[1]
        found = holders(ADDRESS, port)
    assert [h.pid for h in found] == [os.getpid()]
    assert found[0].socket.address == "0.0.0.0"  # noqa: S104


def test_a_free_port_has_no_holder_and_other_bind_errors_say_what_they_are() -> None:
    port = free_port(ADDRESS)
    assert holders(ADDRESS, port) == []
    with pytest.raises(ObservationError) as caught:
        EgressObserver("192.0.2.1", port, "socket")  # TEST-NET-1: no interface of this machine holds it
    assert "cannot bind the observer socket: [Errno 99]" in caught.value.cause


def test_the_second_of_two_runs_on_one_observer_port_names_the_first(write_inventory, silent_port: int,
                                                                    tmp_path: Path) -> None:
    port = free_port("127.0.0.1")
    observer = {"address": "127.0.0.1", "port": port, "mode": "socket"}
    # the first run holds the observer (its EGR-001 checks error fast: no VM answers), then waits on a hung NSX
    first_site = write_inventory("first.yaml", observer=observer, nsx={"managers": [f"https://127.0.0.1:{silent_port}"]},
                                 timeouts={"connect": 60, "api": 60})
    second_site = write_inventory("second.yaml", name="sim-b", observer=observer)
    with suite_process(first_site, tmp_path / "reports", "-m", "egress") as first:
        first.wait_for("the first run to hold the observer", finished(3))
        assert holders("127.0.0.1", port)[0].pid == first.pid
        with suite_process(second_site, tmp_path / "reports", "--check", "WCP-EGR-001") as second:
            ended = second.end(timeout=90)
            second_dir = second.run_dir("sim-b")
        first.send(signal.SIGTERM)
        assert first.end(timeout=30).exit_code == 2

    assert ended.exit_code == 1, ended.stdout[-3000:]
    summary = read_summary(second_dir)
    assert summary is not None
    assert summary["verdict"] == "INCOMPLETE"
    entries = summary["tests"]
    assert len(entries) == 3
    for entry in entries:
        assert entry["outcome"] == "error"
        assert entry["observed"] == f"could not observe observer 127.0.0.1:{port}"
        assert f"already in use by another wcp-acceptance run (pid {first.pid}, site sim)" in entry["cause"]
    assert "Address already in use" not in ended.stdout
