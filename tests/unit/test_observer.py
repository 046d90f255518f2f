"""The egress observer on the runner (socket and sniff) and observe_egress, with real datagrams on 127.0.0.0/8."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import threading
import time
from ipaddress import IPv4Address

import pytest

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.probes.egress import observe_egress
from wcp_acceptance.probes.observer import EgressObserver
from wcp_acceptance.targets import EgressProbe
from wcp_acceptance.vm_scripts import SenderResult

OBSERVER = "127.0.0.1"
VM_SOURCE = "127.0.0.2"  # the "VM's workload address"
EGRESS_IP = "127.0.0.3"


@pytest.fixture
def observer():
    obs = EgressObserver(OBSERVER, 0, "socket")
    yield obs
    obs.close()


@pytest.fixture
def sniffing_observer():
    # must sniff here (root, CI): a failure to start is a test failure with scapy's reason, never a skip
    obs = EgressObserver(OBSERVER, 0, "sniff", start_timeout=5.0)
    yield obs
    obs.close()


def send_from(source: str, port: int, payload: bytes, destination: str = OBSERVER,
              reply_timeout: float | None = None) -> tuple[int, bytes | None]:
    """Send one datagram from ``source`` (bound) and optionally wait for the echo."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.connect((destination, port))
        sock.send(payload)
        sport = sock.getsockname()[1]
        if reply_timeout is None:
            return sport, None
        sock.settimeout(reply_timeout)
        try:
            return sport, sock.recv(4096)
        except TimeoutError:
            return sport, None


def test_records_the_source_address_and_port_of_the_datagram(observer):
    observer.expect("nonce-a")
    sport, _ = send_from(VM_SOURCE, observer.port, b"nonce-a")

    arrival = observer.wait("nonce-a", 2.0)
    assert arrival is not None
    assert (arrival.source, arrival.port, arrival.method) == (VM_SOURCE, sport, "socket")


def test_echo_reaches_the_sender_through_its_connected_socket(observer):
    observer.expect("nonce-echo")
    _, echo = send_from("127.0.0.4", observer.port, b"nonce-echo", reply_timeout=2.0)
    assert echo == b"seen 127.0.0.4"


def test_only_expected_nonces_are_recorded_and_echoed(observer):
    observer.expect("nonce-1")
    observer.expect("nonce-2")
    _, echo = send_from(VM_SOURCE, observer.port, b"somebody-else", reply_timeout=0.3)
    assert echo is None
    send_from("127.0.0.5", observer.port, b"nonce-2")

    assert observer.wait("somebody-else", 0.1) is None
    second = observer.wait("nonce-2", 2.0)
    assert second is not None
    assert second.source == "127.0.0.5"
    assert observer.wait("nonce-1", 0.2) is None


def test_wait_is_bounded_by_its_timeout(observer):
    observer.expect("never-sent")
    start = time.monotonic()
    assert observer.wait("never-sent", 0.3) is None
    assert 0.3 <= time.monotonic() - start < 1.3


def test_wait_returns_as_soon_as_the_datagram_arrives(observer):
    observer.expect("late")
    timer = threading.Timer(0.1, send_from, (VM_SOURCE, observer.port, b"late"))
    timer.start()
    start = time.monotonic()
    try:
        arrival = observer.wait("late", 5.0)
    finally:
        timer.join()
    assert arrival is not None
    assert time.monotonic() - start < 1.5


def test_forget_drops_the_record(observer):
    observer.expect("gone")
    send_from(VM_SOURCE, observer.port, b"gone")
    assert observer.wait("gone", 2.0) is not None
    observer.forget("gone")
    assert observer.wait("gone", 0.0) is None


def test_close_is_prompt_and_frees_the_port():
    obs = EgressObserver(OBSERVER, 0, "socket")
    port = obs.port
    start = time.monotonic()
    obs.close()
    assert time.monotonic() - start < 1.5
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind((OBSERVER, port))


def test_port_in_use_is_an_observation_error(observer):
    with pytest.raises(ObservationError, match=f"observer {OBSERVER}:{observer.port}: could not observe: cannot bind"):
        EgressObserver(OBSERVER, observer.port, "socket")


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="not auto, socket or sniff"):
        EgressObserver(OBSERVER, 0, "tcpdump")  # type: ignore[arg-type]


def test_auto_mode_sniffs_when_root():
    with EgressObserver(OBSERVER, 0, "auto") as obs:
        if os.geteuid() == 0:
            assert obs.sniffing, obs.sniff_error
            assert obs.iface == "lo"
        else:
            assert not obs.sniffing
            assert "not root" in obs.sniff_error


def test_sniffer_reports_a_datagram_the_socket_never_saw(sniffing_observer):
    obs = sniffing_observer
    assert obs.sniffing
    assert obs.iface == "lo"
    obs.expect("addressed-elsewhere")
    # to the observer's port on another loopback address: the kernel delivers it to no socket
    sport, _ = send_from("127.0.0.5", obs.port, b"addressed-elsewhere", destination="127.0.0.7")

    arrival = obs.wait("addressed-elsewhere", 2.0)
    assert arrival is not None
    assert (arrival.source, arrival.port, arrival.method, arrival.destination) == \
        ("127.0.0.5", sport, "sniff", "127.0.0.7")
    notes = obs.notes("addressed-elsewhere")
    assert f"sniffer on lo: datagram with the nonce 127.0.0.5:{sport} -> 127.0.0.7 (sniff)" in notes
    assert (f"sniffer on lo: ICMP port unreachable from 127.0.0.7 to 127.0.0.5 about UDP "
            f"127.0.0.5:{sport} -> 127.0.0.7:{obs.port}") in notes


def test_sniffing_observer_still_prefers_the_socket_record(sniffing_observer):
    obs = sniffing_observer
    obs.expect("both-see-it")
    sport, echo = send_from(VM_SOURCE, obs.port, b"both-see-it", reply_timeout=2.0)
    arrival = obs.wait("both-see-it", 2.0)
    assert arrival is not None
    assert (arrival.source, arrival.port, arrival.method) == (VM_SOURCE, sport, "socket")
    assert echo == f"seen {VM_SOURCE}".encode()
    assert obs.notes("both-see-it") == ()  # the sniffer agrees: nothing more to say


def test_sniffing_observer_closes_promptly():
    obs = EgressObserver(OBSERVER, 0, "sniff", start_timeout=5.0)
    sniffer_thread = obs._sniffer.thread
    start = time.monotonic()
    obs.close()
    assert time.monotonic() - start < 2.5
    assert not sniffer_thread.is_alive()
    assert not obs.sniffing


# -- observe_egress, with the real VM-side sender script run locally through the read-only runner --

class LocalExecutor:
    """Runs the (allow-listed) command line on this machine: the sender script binds 127.0.0.x only."""

    def exec_line(self, line: str, timeout: float) -> tuple[int, bytes, bytes]:
        proc = subprocess.run(shlex.split(line), capture_output=True, timeout=timeout, check=False)
        return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def runner() -> ReadOnlyRunner:
    return ReadOnlyRunner(LocalExecutor(), "cp-1", command_timeout=10.0)


def probe(port: int, source: str = VM_SOURCE, observer_address: str = OBSERVER) -> EgressProbe:
    return EgressProbe("cp-1", "eth1", IPv4Address(source), IPv4Address(observer_address), port,
                       IPv4Address(EGRESS_IP))


def test_observe_egress_reports_the_source_it_arrived_with(runner, observer):
    obs = observe_egress(runner, observer, probe(observer.port), 1.0)

    assert obs.arrived
    assert obs.seen_source == VM_SOURCE
    assert obs.method == "socket"
    assert obs.icmp_error is None
    assert obs.sender_error is None
    assert obs.nonce.startswith("wcp-egress-")
    assert f"the VM got the observer's echo 'seen {VM_SOURCE}'" in obs.other_arrivals
    assert f"the VM sent from {VM_SOURCE}:{obs.seen_port}" in obs.other_arrivals


def test_observe_egress_uses_a_fresh_nonce_each_time(runner, observer):
    first = observe_egress(runner, observer, probe(observer.port, source=EGRESS_IP), 1.0)
    second = observe_egress(runner, observer, probe(observer.port, source=EGRESS_IP), 1.0)
    assert first.nonce != second.nonce
    assert first.seen_source == second.seen_source == EGRESS_IP


def test_observe_egress_reports_the_icmp_error_the_vm_got(runner, observer):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind((OBSERVER, 0))
        closed_port = closed.getsockname()[1]
    start = time.monotonic()
    obs = observe_egress(runner, observer, probe(closed_port), 1.0)

    assert not obs.arrived
    assert obs.icmp_error is not None
    assert obs.icmp_error.startswith("port unreachable")
    assert time.monotonic() - start < 3.0


def test_observe_egress_with_the_sniffer_sees_what_the_socket_missed(runner, sniffing_observer):
    obs = observe_egress(runner, sniffing_observer, probe(sniffing_observer.port, observer_address="127.0.0.7"), 1.0)

    assert obs.arrived
    assert obs.method == "sniff"
    assert obs.seen_source == VM_SOURCE
    assert obs.icmp_error is not None
    assert obs.icmp_error.startswith("port unreachable")
    assert any("ICMP port unreachable from 127.0.0.7" in line for line in obs.other_arrivals)


def test_observe_egress_when_the_vm_cannot_send(runner, observer):
    calls: list[tuple] = []

    def cannot_send(runner, src, observer_address, port, nonce, wait) -> SenderResult:
        calls.append((src, observer_address, port, wait))
        return SenderResult(sent=False, error="[Errno 99] Cannot assign requested address")

    start = time.monotonic()
    obs = observe_egress(runner, observer, probe(observer.port), 2.0, send=cannot_send)
    assert time.monotonic() - start < 1.0  # nothing was sent: no waiting for it
    assert calls == [(VM_SOURCE, OBSERVER, observer.port, 2.0)]
    assert not obs.arrived
    assert obs.sender_error == "[Errno 99] Cannot assign requested address"


def test_observe_egress_never_arrived_is_bounded(runner, observer):
    def silent(runner, src, observer_address, port, nonce, wait) -> SenderResult:
        time.sleep(wait)  # the VM waited for an echo that never came; nothing was delivered
        return SenderResult(sent=True, source_port=40000)

    start = time.monotonic()
    obs = observe_egress(runner, observer, probe(observer.port), 0.4, send=silent)
    assert not obs.arrived
    assert obs.timeout_s == 0.4
    assert time.monotonic() - start < 0.4 + 0.8
