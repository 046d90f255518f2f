"""send_egress_datagram: the VM sends one datagram from a given source and reports echo or ICMP error."""

from __future__ import annotations

import socket

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.probes.egress import send_egress_datagram

from .conftest import UdpEcho


def test_datagram_arrives_from_the_source_and_echo_returns(runner: ReadOnlyRunner, udp_echo: UdpEcho) -> None:
    result = send_egress_datagram(runner, "127.0.0.2", "127.0.0.1", udp_echo.port, "nonce-5a1f", wait=2.0)
    assert (result.sent, result.icmp_error, result.error) == (True, None, None)
    assert result.source_port is not None
    assert result.echo == f"nonce-5a1f from 127.0.0.2:{result.source_port}"
    assert udp_echo.arrivals == [(b"nonce-5a1f", ("127.0.0.2", result.source_port))]


def test_silent_observer_means_sent_without_echo(runner: ReadOnlyRunner, silent_udp: socket.socket) -> None:
    port = silent_udp.getsockname()[1]
    result = send_egress_datagram(runner, "127.0.0.1", "127.0.0.1", port, "nonce-0c3d", wait=0.3)
    assert (result.sent, result.echo, result.icmp_error, result.error) == (True, None, None, None)
    data, peer = silent_udp.recvfrom(4096)
    assert (data, peer) == (b"nonce-0c3d", ("127.0.0.1", result.source_port))


def test_closed_port_is_reported_as_port_unreachable(runner: ReadOnlyRunner, closed_udp_port: int) -> None:
    result = send_egress_datagram(runner, "127.0.0.2", "127.0.0.1", closed_udp_port, "nonce-77aa", wait=2.0)
    assert result.sent is True
    assert result.icmp_error is not None
    assert result.icmp_error.startswith("port unreachable from 127.0.0.1 (")  # the sender, from the error queue
    assert result.elapsed_s is not None
    assert result.elapsed_s < 2.0


def test_source_not_on_the_vm_cannot_send(runner: ReadOnlyRunner, udp_echo: UdpEcho) -> None:
    result = send_egress_datagram(runner, "192.0.2.1", "127.0.0.1", udp_echo.port, "nonce-dead", wait=0.5)
    assert (result.sent, result.echo, result.icmp_error) == (False, None, None)
    assert result.error is not None
    assert "assign" in result.error.lower()
    assert udp_echo.arrivals == []
