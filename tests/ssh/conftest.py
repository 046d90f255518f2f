"""A real sshd on 127.0.0.1 plays the control-plane VM; a real dnsmasq on 127.0.0.1 is its DNS server.

Everything listens and sends on loopback only. 127.0.0.1 and 127.0.0.2 stand for two interfaces
of the "VM" (the whole of 127.0.0.0/8 is local on lo).
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.sshd import Sshd
from tests.support.dnsmasq import Dnsmasq, run_dnsmasq
from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.inventory.model import ControlPlaneVm, Timeouts
from wcp_acceptance.transport.ssh import VmConnection, connect_vm

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


@pytest.fixture(scope="session")
def dnsmasq() -> Iterator[Dnsmasq]:
    with tempfile.TemporaryDirectory(prefix="wcp-dnsmasq-") as tmp, \
            run_dnsmasq(Path(tmp), dict([VCENTER, NSX])) as server:
        yield server


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
