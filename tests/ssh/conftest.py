"""A real sshd on 127.0.0.1 plays the control-plane VM; a real dnsmasq on 127.0.0.1 is its DNS server.

Everything listens and sends on loopback only. 127.0.0.1 and 127.0.0.2 stand for two interfaces
of the "VM" (the whole of 127.0.0.0/8 is local on lo).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest

from lab.sshd import Sshd
from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.inventory.model import ControlPlaneVm, Timeouts
from wcp_acceptance.transport.ssh import VmConnection, connect_vm

DNSMASQ = "/usr/sbin/dnsmasq"
VCENTER = ("vcenter.corp.local", "192.168.10.20")  # records only: nothing is ever sent there
NSX = ("nsx.corp.local", "192.168.10.30")
TIMEOUTS = Timeouts(connect=2.0, command=10.0, dns=1.0, api=5.0, egress=1.0)


def vm_model(sshd: Sshd, **ssh: Any) -> ControlPlaneVm:
    """A ControlPlaneVm whose SSH points at the lab sshd (key + known_hosts unless overridden)."""
    spec: dict[str, Any] = {
        "user": "root",
        "port": sshd.port,
        "key_file": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
    }
    spec.update(ssh)
    return ControlPlaneVm.model_validate(
        {
            "name": "cp-1",
            "management_address": "127.0.0.1",
            "ssh": {k: v for k, v in spec.items() if v is not None},
            "interfaces": {
                "eth0": {"network": "management", "address": "127.0.0.1/8"},
                "eth1": {"network": "workload", "address": "127.0.0.2/8"},
            },
        }
    )


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    with Sshd("127.0.0.1") as server:
        yield server


@pytest.fixture(scope="session")
def vm(sshd: Sshd) -> ControlPlaneVm:
    return vm_model(sshd)


@pytest.fixture(scope="session")
def connection(vm: ControlPlaneVm) -> Iterator[VmConnection]:
    with connect_vm(vm, TIMEOUTS) as conn:
        yield conn


@pytest.fixture
def runner(connection: VmConnection) -> ReadOnlyRunner:
    return connection.runner()


def _free_udp_tcp_port() -> int:
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port on 127.0.0.1")


class Dnsmasq:
    """dnsmasq answering for corp.local on 127.0.0.1:<port>; ``log()`` shows each query's source."""

    def __init__(self, port: int, workdir: Path, process: subprocess.Popen[bytes]) -> None:
        self.address = "127.0.0.1"
        self.port = port
        self.log_path = workdir / "dnsmasq.log"
        self.process = process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def dnsmasq() -> Iterator[Dnsmasq]:
    port = _free_udp_tcp_port()
    with tempfile.TemporaryDirectory(prefix="wcp-dnsmasq-") as tmp:
        workdir = Path(tmp)
        argv = [
            DNSMASQ,
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--listen-address=127.0.0.1",
            f"--port={port}",
            "--bind-interfaces",
            "--local=/corp.local/",  # authoritative: unknown names are NXDOMAIN, never forwarded
            f"--host-record={VCENTER[0]},{VCENTER[1]}",
            f"--host-record={NSX[0]},{NSX[1]}",
            "--log-queries",
            f"--log-facility={workdir / 'dnsmasq.log'}",
        ]
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            server = Dnsmasq(port, workdir, process)
            deadline = time.monotonic() + 10
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"dnsmasq exited: {process.stderr.read().decode() if process.stderr else ''}")
                try:
                    dns.query.udp(dns.message.make_query(VCENTER[0], "A"), "127.0.0.1", timeout=0.2, port=port)
                    break
                except (dns.exception.Timeout, OSError):
                    if time.monotonic() > deadline:
                        raise RuntimeError("dnsmasq did not answer within 10 s") from None
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def silent_udp() -> Iterator[socket.socket]:
    """A UDP port on 127.0.0.1 that receives and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.fixture
def closed_udp_port() -> int:
    """A UDP port on 127.0.0.1 nobody listens on (the kernel answers ICMP port unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UdpEcho:
    """Echoes each datagram back as ``<payload> from <addr>:<port>`` and records what arrived."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.arrivals: list[tuple[bytes, tuple[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.arrivals.append((data, peer))
            with contextlib.suppress(OSError):
                self.sock.sendto(data + f" from {peer[0]}:{peer[1]}".encode(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def udp_echo() -> Iterator[UdpEcho]:
    echo = UdpEcho()
    yield echo
    echo.close()


@pytest.fixture
def make_vm(sshd: Sshd) -> Callable[..., ControlPlaneVm]:
    return lambda **ssh: vm_model(sshd, **ssh)
