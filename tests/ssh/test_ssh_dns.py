"""resolve_from_vm through the sshd "VM" to a real dnsmasq, from each interface's own source address."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv4Interface
from typing import Literal

import pytest

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.probes.dns import resolve_from_vm
from wcp_acceptance.targets import DnsProbe

from .conftest import NSX, VCENTER, Dnsmasq

SOURCES = {"eth0": "127.0.0.1", "eth1": "127.0.0.2"}
METHODS: tuple[Literal["python3", "dig"], ...] = ("python3", "dig")


def _probe(iface: str, name: str, expected: str | None, port: int, server: str = "127.0.0.1") -> DnsProbe:
    return DnsProbe(
        vm="cp-1",
        iface=iface,
        source=IPv4Interface(f"{SOURCES.get(iface, iface)}/8"),
        server=IPv4Address(server),
        name=name,
        expected_address=IPv4Address(expected) if expected else None,
        port=port,
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("iface", sorted(SOURCES))
def test_a_record_from_interface_source(runner: ReadOnlyRunner, dnsmasq: Dnsmasq, iface: str, method: str) -> None:
    probe = _probe(iface, VCENTER[0], VCENTER[1], dnsmasq.port)
    seen = resolve_from_vm(runner, probe, "A", timeout=2.0, method=method)  # type: ignore[arg-type]
    assert (seen.outcome, seen.answers, seen.rcode, seen.method) == ("answer", (VCENTER[1],), "NOERROR", method)
    assert (seen.qname, seen.rtype, seen.probe, seen.timeout_s) == (VCENTER[0], "A", probe, 2.0)
    assert seen.elapsed_s is not None
    assert seen.elapsed_s < 2.0
    # dnsmasq saw the query come from the interface's own address
    assert f"query[A] {VCENTER[0]} from {SOURCES[iface]}" in dnsmasq.log()


@pytest.mark.parametrize("method", METHODS)
def test_ptr_record_names_the_host(runner: ReadOnlyRunner, dnsmasq: Dnsmasq, method: str) -> None:
    probe = _probe("eth1", NSX[0], NSX[1], dnsmasq.port)
    seen = resolve_from_vm(runner, probe, "PTR", timeout=2.0, method=method)  # type: ignore[arg-type]
    assert seen.qname == "30.10.168.192.in-addr.arpa"
    assert (seen.outcome, seen.answers, seen.method) == ("answer", (NSX[0],), method)
    assert f"query[PTR] 30.10.168.192.in-addr.arpa from {SOURCES['eth1']}" in dnsmasq.log()


def test_auto_uses_python3_when_the_vm_has_it(runner: ReadOnlyRunner, dnsmasq: Dnsmasq) -> None:
    seen = resolve_from_vm(runner, _probe("eth0", VCENTER[0], VCENTER[1], dnsmasq.port), "A", timeout=2.0)
    assert (seen.method, seen.answers) == ("python3", (VCENTER[1],))


@pytest.mark.parametrize("method", METHODS)
def test_unknown_name_is_nxdomain(runner: ReadOnlyRunner, dnsmasq: Dnsmasq, method: str) -> None:
    probe = _probe("eth0", "missing.corp.local", None, dnsmasq.port)
    seen = resolve_from_vm(runner, probe, "A", timeout=2.0, method=method)  # type: ignore[arg-type]
    assert (seen.outcome, seen.answers, seen.rcode) == ("nxdomain", (), "NXDOMAIN")


@pytest.mark.parametrize("method", METHODS)
def test_silent_server_is_no_reply(runner: ReadOnlyRunner, silent_udp: socket.socket, method: str) -> None:
    port = silent_udp.getsockname()[1]
    seen = resolve_from_vm(runner, _probe("eth1", VCENTER[0], None, port), "A", timeout=1.0, method=method)  # type: ignore[arg-type]
    assert (seen.outcome, seen.answers, seen.rcode) == ("no_reply", (), None)
    assert seen.elapsed_s is not None
    assert seen.elapsed_s >= 0.9
    data, peer = silent_udp.recvfrom(4096)  # the query did arrive, from the eth1 address
    assert peer[0] == SOURCES["eth1"]
    assert len(data) > 12


@pytest.mark.parametrize("method", METHODS)
def test_closed_port_is_icmp_unreachable(runner: ReadOnlyRunner, closed_udp_port: int, method: str) -> None:
    probe = _probe("eth0", VCENTER[0], None, closed_udp_port)
    seen = resolve_from_vm(runner, probe, "A", timeout=2.0, method=method)  # type: ignore[arg-type]
    assert seen.outcome == "icmp_unreachable"
    assert "refused" in seen.detail.lower()
    assert seen.elapsed_s is not None
    assert seen.elapsed_s < 2.0


@pytest.mark.parametrize("method", METHODS)
def test_source_not_on_the_vm_is_send_error(runner: ReadOnlyRunner, dnsmasq: Dnsmasq, method: str) -> None:
    # 192.0.2.1 (TEST-NET-1) is not a local address: bind() fails on the VM before anything is sent.
    probe = _probe("192.0.2.1", VCENTER[0], None, dnsmasq.port)
    seen = resolve_from_vm(runner, probe, "A", timeout=1.0, method=method)  # type: ignore[arg-type]
    assert seen.outcome == "send_error"
    assert "not available" in seen.detail.lower() or "assign" in seen.detail.lower()
