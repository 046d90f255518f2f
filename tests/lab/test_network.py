"""lab.netns builds the seed's network for real: the VMs' policy routing is the seed's, and traffic
takes the paths the seed describes (VIP DNAT, egress SNAT, NO_SNAT, the DNS return route, and the
seed's "Destination Host Unreachable" from the edge). Both address plans, and two labs side by side.

Every packet is sent and received inside lab namespaces (``exec_in``/``popen_in``); this process
never talks to a lab address from the host namespace.
"""

from __future__ import annotations

import json
import secrets
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.netns import Lab, build, teardown_prefix
from lab.topology import TOPOLOGIES_DIR, Topology, load_topology

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "iproute"
TOPOLOGIES = {"seed": TOPOLOGIES_DIR / "seed.yaml", "alt": TOPOLOGIES_DIR / "alt.yaml"}
PY = [sys.executable, "-S", "-c"]
ANY = "0.0.0.0"  # noqa: S104 - inside a lab namespace

# A UDP listener: prints "ready", then "<source address> <payload>" per datagram (echoing it back),
# until it has `count` datagrams or `timeout` seconds passed.
UDP_LISTEN = """
import select, socket, sys, time
addr, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
print("ready", flush=True)
end = time.monotonic() + timeout
for _ in range(count):
    if not select.select([s], [], [], max(0.0, end - time.monotonic()))[0]:
        break
    data, peer = s.recvfrom(2048)
    print(peer[0], data.decode(), flush=True)
    s.sendto(data, peer)
"""

# A connected UDP sender bound to a source address: prints "reply <payload>", "timeout", or
# "error <errno> icmp <type> <code> from <offender>" read from the socket's error queue.
UDP_SEND = """
import select, socket, struct, sys
src, dst, port, payload, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
IP_RECVERR = 11
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
s.bind((src, 0))
s.connect((dst, port))
s.send(payload.encode())
readable, _, errored = select.select([s], [], [s], timeout)
if not readable and not errored:
    print("timeout")
    sys.exit(0)
try:
    print("reply", s.recv(2048).decode())
except OSError as exc:
    _, ancillary, _, _ = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE)
    for _level, _type, data in ancillary:
        _errno, _origin, icmp_type, icmp_code = struct.unpack_from("=IBBB", data)
        print("error", exc.errno, "icmp", icmp_type, icmp_code, "from", socket.inet_ntoa(data[20:24]))
"""

# A TCP server answering every connection with "<name> <peer address>".
TCP_SERVE = """
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
server = socket.create_server(("0.0.0.0", port))
print("ready", flush=True)
while True:
    conn, peer = server.accept()
    conn.sendall(f"{name} {peer[0]}".encode())
    conn.close()
"""

TCP_FETCH = """
import socket, sys
dst, port, times = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(times):
    with socket.create_connection((dst, port), timeout=2) as conn:
        print(conn.recv(200).decode())
"""


def _prefix() -> str:
    return f"t1{secrets.token_hex(2)}"


def _lab(topology: Topology) -> Iterator[Lab]:
    prefix = _prefix()
    lab = build(topology, prefix)
    try:
        yield lab
    finally:
        lab.teardown()
        teardown_prefix(prefix)


@pytest.fixture(scope="module", params=list(TOPOLOGIES))
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from _lab(load_topology(TOPOLOGIES[request.param]))


@pytest.fixture(scope="module")
def seed_lab() -> Iterator[Lab]:
    yield from _lab(load_topology())


@pytest.fixture(scope="module")
def shared_dns_lab() -> Iterator[Lab]:
    yield from _lab(load_topology().with_shared_dns())


class Listener:
    """A UDP listener started in a lab node; ``results()`` waits for it and returns ``[(source, payload)]``."""

    def __init__(self, lab: Lab, node: str, address: str, port: int, count: int = 1, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self.process = lab.popen(node, [*PY, UDP_LISTEN, address, str(port), str(count), str(timeout)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 5.0)
        line = self.process.stdout.readline().strip() if ready else ""
        if line != "ready":
            self.process.kill()
            _, err = self.process.communicate(timeout=5)
            pytest.fail(f"UDP listener in {node} on {address}:{port} did not start within 5 s: {line!r} {err}")

    def results(self) -> list[tuple[str, str]]:
        try:
            out, _ = self.process.communicate(timeout=self.timeout + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate(timeout=5)
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if line]  # type: ignore[misc]


def send_udp(lab: Lab, node: str, src: str, dst: str, port: int, payload: str, timeout: float = 2.0) -> str:
    done = lab.exec(node, [*PY, UDP_SEND, src, dst, str(port), payload, str(timeout)], timeout=timeout + 10)
    return done.stdout.strip()


def ip_json(lab: Lab, node: str, *args: str) -> Any:
    return json.loads(lab.exec(node, ["ip", "-j", *args]).stdout)


def _cp(lab: Lab, name: str = "cp-1") -> tuple[str, str]:
    vm = lab.topology.control_planes[name]
    return str(vm.management), str(vm.workload)


# ------------------------------------------------------------------------------------------------ routing


def test_cp_vm_rules_are_the_topology_s_and_the_seed_capture(lab: Lab) -> None:
    for name in lab.topology.control_planes:
        observed = ip_json(lab, name, "rule", "show")
        expected = [{"priority": 0, "src": "all", "table": "local"},
                    *[rule.as_json() for rule in lab.topology.cp_rules(name)],
                    {"priority": 32766, "src": "all", "table": "main"},
                    {"priority": 32767, "src": "all", "table": "default"}]
        assert observed == expected, name
    if lab.topology.name == "seed":
        assert ip_json(lab, "cp-1", "rule", "show") == json.loads((CAPTURES / "healthy" / "rule.json").read_text())


def test_cp_vm_table_200_is_the_seed_s(lab: Lab) -> None:
    gateway = str(lab.topology.edge[1].downlink)
    observed = ip_json(lab, "cp-2", "route", "show", "table", "200")
    assert observed == [
        {"dst": "default", "gateway": gateway, "dev": "eth1", "protocol": "static", "flags": []},
        {"dst": str(lab.topology.networks.segment), "dev": "eth1", "protocol": "static", "scope": "link",
         "flags": []},
    ]
    if lab.topology.name == "seed":
        assert observed == json.loads((CAPTURES / "healthy" / "route-table-200.json").read_text())


def test_shared_dns_variant_has_the_seed_s_failing_rules(shared_dns_lab: Lab) -> None:
    captured = json.loads((CAPTURES / "seed-shared-dns" / "rule.json").read_text())
    assert ip_json(shared_dns_lab, "cp-1", "rule", "show") == captured
    assert ip_json(shared_dns_lab, "dns", "route", "show") == [
        {"dst": str(shared_dns_lab.topology.networks.management), "dev": "eth0", "protocol": "kernel",
         "scope": "link", "prefsrc": str(shared_dns_lab.topology.dns.management), "flags": []}]


def _route_get(lab: Lab, dst: str, src: str) -> list[dict[str, Any]]:
    observed = ip_json(lab, "cp-1", "route", "get", dst, "from", src)
    if lab.topology.name == "seed":
        captured = json.loads((CAPTURES / "healthy" / f"route-get_{dst}_from_{src}.json").read_text())
        assert observed == captured
    return observed


def test_management_dns_from_eth0_leaves_eth0(lab: Lab) -> None:
    eth0, _ = _cp(lab)
    dns = str(lab.topology.dns.management)
    assert _route_get(lab, dns, eth0) == [{"dst": dns, "from": eth0, "dev": "eth0", "flags": [], "uid": 0,
                                           "cache": []}]


def test_workload_dns_from_eth1_leaves_eth1_via_the_segment_gateway(lab: Lab) -> None:
    _, eth1 = _cp(lab)
    dns = str(lab.topology.dns.workload)
    assert _route_get(lab, dns, eth1) == [{"dst": dns, "from": eth1, "gateway": str(lab.topology.edge[1].downlink),
                                           "dev": "eth1", "table": "200", "flags": [], "uid": 0, "cache": []}]


# ------------------------------------------------------------------------------------------------ traffic


def test_jumpbox_reaches_every_vm_through_the_vip_on_each_port(lab: Lab) -> None:
    servers = []
    try:
        for name in lab.topology.control_planes:
            for port in lab.topology.api_vip.ports:
                process = lab.popen(name, [*PY, TCP_SERVE, name, str(port)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
                servers.append(process)
                assert process.stdout is not None
                assert select.select([process.stdout], [], [], 5.0)[0], f"server {name}:{port} did not start in 5 s"
                line = process.stdout.readline().strip()
                assert line == "ready", f"server {name}:{port}: {line!r} {process.stderr.read() if not line else ''}"
        jumpbox = str(lab.topology.jumpbox[1].management)
        vms = len(lab.topology.control_planes)
        for port in lab.topology.api_vip.ports:
            out = lab.exec("jumpbox", [*PY, TCP_FETCH, str(lab.topology.api_vip.address), str(port), str(vms)])
            answers = [line.split() for line in out.stdout.splitlines()]
            assert {name for name, _ in answers} == set(lab.topology.control_planes), f"round robin on {port}"
            assert {peer for _, peer in answers} == {jumpbox}, "the VIP keeps the client's address"
        # A VM reaches the VIP too (hairpin through the edge, which becomes the source)
        out = lab.exec("cp-1", [*PY, TCP_FETCH, str(lab.topology.api_vip.address), "6443", str(vms)])
        assert {line.split()[1] for line in out.stdout.splitlines()} == {str(lab.topology.edge[1].downlink)}
    finally:
        for process in servers:
            process.kill()
            process.wait(timeout=5)


def test_workload_egress_reaches_the_jumpbox_as_the_egress_ip(lab: Lab) -> None:
    nonce = secrets.token_hex(4)
    listener = Listener(lab, "jumpbox", ANY, lab.topology.observer.port, count=len(lab.topology.control_planes))
    replies = [send_udp(lab, name, _cp(lab, name)[1], str(lab.topology.jumpbox[1].management),
                        lab.topology.observer.port, f"{nonce}-{name}") for name in lab.topology.control_planes]
    egress = str(lab.topology.networks.egress_ip)
    assert sorted(listener.results()) == sorted((egress, f"{nonce}-{n}") for n in lab.topology.control_planes)
    assert replies == [f"reply {nonce}-{n}" for n in lab.topology.control_planes], "replies are un-NATed back"


def test_vm_to_vm_on_the_segment_keeps_its_source(lab: Lab) -> None:
    nonce = secrets.token_hex(4)
    _, cp2 = _cp(lab, "cp-2")
    listener = Listener(lab, "cp-2", cp2, 4789)
    assert send_udp(lab, "cp-1", _cp(lab)[1], cp2, 4789, nonce) == f"reply {nonce}"
    assert listener.results() == [(_cp(lab)[1], nonce)]


def test_workload_dns_answers_over_eth1_through_the_return_route(lab: Lab) -> None:
    nonce = secrets.token_hex(4)
    listener = Listener(lab, "dns", str(lab.topology.dns.workload), 5353)
    assert send_udp(lab, "cp-1", _cp(lab)[1], str(lab.topology.dns.workload), 5353, nonce) == f"reply {nonce}"
    assert listener.results() == [(str(lab.topology.networks.egress_ip), nonce)]


def test_management_source_steered_out_eth1_is_host_unreachable_from_the_edge(lab: Lab) -> None:
    """The healthy lab's own instance of the seed's symptom: 'to <workload DNS> lookup 200' sends a
    packet bound to the eth0 address out of eth1; the Tier-1 downlink refuses the foreign source."""
    listener = Listener(lab, "dns", str(lab.topology.dns.workload), 5353, timeout=1.5)
    observed = send_udp(lab, "cp-1", _cp(lab)[0], str(lab.topology.dns.workload), 5353, "x")
    assert observed == f"error 113 icmp 3 1 from {lab.topology.edge[1].downlink}"
    assert listener.results() == [], "nothing reached the DNS server"


def test_shared_dns_reproduces_the_seed(shared_dns_lab: Lab) -> None:
    lab = shared_dns_lab
    dns = str(lab.topology.dns.management)
    eth0, eth1 = _cp(lab)
    listener = Listener(lab, "dns", dns, 5353, count=2, timeout=2.5)
    # eth0 -> management DNS is steered into table 200: "From 10.244.0.1 ... Destination Host Unreachable"
    assert send_udp(lab, "cp-1", eth0, dns, 5353, "eth0") == f"error 113 icmp 3 1 from {lab.topology.edge[1].downlink}"
    # eth1 -> DNS leaves as the egress IP, arrives, but the DNS server has no route back: no reply
    assert send_udp(lab, "cp-1", eth1, dns, 5353, "eth1", timeout=1.0) == "timeout"
    assert listener.results() == [(str(lab.topology.networks.egress_ip), "eth1")]


def test_two_labs_with_the_same_addresses_do_not_interfere(seed_lab: Lab) -> None:
    other = build(seed_lab.topology, _prefix())  # a second seed lab: same addresses, another prefix
    try:
        jumpbox, port = str(seed_lab.topology.jumpbox[1].management), seed_lab.topology.observer.port
        for sender, receiver in ((seed_lab, other), (other, seed_lab)):
            nonce = secrets.token_hex(4)
            mine = Listener(sender, "jumpbox", ANY, port, timeout=1.5)
            theirs = Listener(receiver, "jumpbox", ANY, port, timeout=1.5)
            assert send_udp(sender, "cp-1", _cp(sender)[1], jumpbox, port, nonce) == f"reply {nonce}"
            assert mine.results() == [(str(sender.topology.networks.egress_ip), nonce)]
            assert theirs.results() == [], f"{receiver.prefix} saw {sender.prefix}'s datagram"
    finally:
        other.teardown()
        teardown_prefix(other.prefix)


def test_seed_builds_and_tears_down_within_a_second() -> None:
    topology = load_topology()
    prefix = _prefix()
    started = time.monotonic()
    lab = build(topology, prefix)
    built = time.monotonic() - started
    try:
        assert len(lab.namespaces) == len(topology.nodes)
    finally:
        started = time.monotonic()
        errors = lab.teardown()
        torn = time.monotonic() - started
        teardown_prefix(prefix)
    steps = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in lab.timings.items())
    print(f"\nseed lab: build {built * 1000:.0f} ms, teardown {torn * 1000:.0f} ms ({steps})")
    assert errors == []
    # aim < 1 s each (measured ~0.1 s); the bound leaves room for a loaded 2-core CI runner
    assert built < 2.0
    assert torn < 2.0
