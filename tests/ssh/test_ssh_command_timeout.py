"""The command timeout bounds every command: a DNS wait longer than it ends as a stated timeout."""

from __future__ import annotations

import socket
import time
from ipaddress import IPv4Address, IPv4Interface

import pytest

from wcp_acceptance.commands import CommandTimeout
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.probes.dns import resolve_from_vm
from wcp_acceptance.targets import DnsProbe
from wcp_acceptance.transport.ssh import VmConnection


def _silent_probe(port: int) -> DnsProbe:
    source, server = IPv4Interface("127.0.0.1/8"), IPv4Address("127.0.0.1")
    return DnsProbe("cp-1", "eth0", source, server, "vcenter.corp.local", port=port)


@pytest.mark.parametrize("method", ["python3", "dig"])
def test_command_longer_than_the_command_timeout_is_a_timeout(
    connection: VmConnection, silent_udp: socket.socket, method: str
) -> None:
    runner = connection.runner(command_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        resolve_from_vm(runner, _silent_probe(silent_udp.getsockname()[1]), "A", timeout=5.0, method=method)  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    assert isinstance(info.value, ObservationError)
    assert info.value.target == connection.target
    assert "did not finish within 1 s (command timeout)" in info.value.cause
    assert 0.9 < elapsed < 1.8


def test_connection_is_usable_after_a_timeout(connection: VmConnection, silent_udp: socket.socket) -> None:
    with pytest.raises(CommandTimeout):
        resolve_from_vm(connection.runner(command_timeout=0.5), _silent_probe(silent_udp.getsockname()[1]), "A", 5.0)
    assert connection.runner().run(["hostname"]).stdout.strip() == socket.gethostname()
