"""lab.delayline and lab.latency over a throwaway namespace pair: the delay line holds every packet
arriving on the client's eth0 for the delay, in order, losing none; a dead delay line stops the
traffic instead of removing the delay; the message encoding is what nfnetlink_queue expects."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import delayline
from lab.latency import IPTABLES, AppliedLatency, apply_latency
from tests.lab.netns_pair import IP, PYTHON, NsPair, ns_pair

SERVER, CLIENT = "192.168.10.28", "192.168.10.90"
DELAY = 0.02
MARGIN = 0.015  # scheduling on a busy two-core machine; the floor is exact, the ceiling is not

# TCP on 9000: each connection gets the sha256 of what it sent, then 1 MB of a known pattern.
# UDP on 9001: one datagram "N" asks for N numbered datagrams, sent back in one burst.
SERVE = """
import hashlib, socket, sys, threading
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((sys.argv[1], 9000)); tcp.listen(64)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind((sys.argv[1], 9001))
def burst():
    while True:
        data, peer = udp.recvfrom(64)
        for i in range(int(data)):
            udp.sendto(b"%08d" % i + b"." * 200, peer)
def serve(conn):
    digest = hashlib.sha256()
    while chunk := conn.recv(65536):
        digest.update(chunk)
    conn.sendall(digest.hexdigest().encode() + b"\\n" + bytes(range(256)) * 4096)
    conn.close()
threading.Thread(target=burst, daemon=True).start()
print("ready", flush=True)
while True:
    conn, _ = tcp.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

CONNECT = """
import json, socket, sys, time
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    socket.create_connection((sys.argv[1], 9000), timeout=float(sys.argv[3])).close()
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""

TRANSFER = """
import hashlib, json, socket, sys, time
payload = bytes(range(251)) * 4200  # about 1 MB, a pattern that does not align with segments
started = time.perf_counter()
conn = socket.create_connection((sys.argv[1], 9000), timeout=10)
conn.sendall(payload)
conn.shutdown(socket.SHUT_WR)
received = b""
while chunk := conn.recv(65536):
    received += chunk
digest, _, data = received.partition(b"\\n")
print(json.dumps({"seconds": time.perf_counter() - started,
                  "upload_ok": digest.decode() == hashlib.sha256(payload).hexdigest(),
                  "download_ok": data == bytes(range(256)) * 4096}))
"""

BURST = """
import json, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, 33, 16 * 1024 * 1024)  # SO_RCVBUFFORCE: the whole burst fits
sock.settimeout(3)
sock.sendto(sys.argv[2].encode(), (sys.argv[1], 9001))
got = []
try:
    while len(got) < int(sys.argv[2]):
        got.append(int(sock.recv(512)[:8]))
except TimeoutError:
    pass
print(json.dumps(got))
"""


@pytest.fixture(scope="module")
def pair() -> Iterator[NsPair]:
    with ns_pair([SERVER], CLIENT) as made:
        server = subprocess.Popen([IP, "netns", "exec", made.server, PYTHON, "-c", SERVE, SERVER],  # noqa: S603
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == "ready"
            yield made
        finally:
            server.kill()
            server.wait(timeout=5)


def _json(pair: NsPair, code: str, *args: str, timeout: float = 30) -> object:
    done = pair.run_client(code, *args, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _connects(pair: NsPair, count: int = 5, timeout: float = 5.0) -> list[float]:
    times = _json(pair, CONNECT, SERVER, str(count), str(timeout))
    assert isinstance(times, list)
    return [float(t) for t in times]


@pytest.fixture
def delayed(pair: NsPair, tmp_path: Path) -> Iterator[AppliedLatency]:
    applied = apply_latency(pair.client, DELAY, tmp_path, choice="delay-line")
    try:
        yield applied
    finally:
        applied.remove()


def test_without_a_delay_a_connect_takes_well_under_the_delay(pair: NsPair) -> None:
    assert sorted(_connects(pair))[2] < 0.005


def test_the_delay_line_adds_the_delay_to_each_round_trip_and_no_more(pair: NsPair,
                                                                      delayed: AppliedLatency) -> None:
    assert delayed.mechanism == "delay-line"
    assert delayed.direction == "inbound"
    line = delayed.delay_line
    assert line is not None
    assert line.running
    assert json.loads(line.ready_file.read_text())["pid"] == line.pid
    times = _connects(pair, 10)
    assert min(times) >= DELAY, times  # every SYN-ACK was held at least the delay
    assert sorted(times)[5] < DELAY + MARGIN, times
    rules = subprocess.run([IP, "netns", "exec", pair.client, IPTABLES, "-t", "mangle", "-S", "PREROUTING"],  # noqa: S603
                           capture_output=True, text=True, timeout=10, check=True).stdout
    assert "-i eth0 -j NFQUEUE --queue-num 7" in rules
    assert "bypass" not in rules


def test_a_megabyte_each_way_arrives_intact_at_wan_speed_not_at_a_trickle(pair: NsPair,
                                                                         delayed: AppliedLatency) -> None:
    result = _json(pair, TRANSFER, SERVER)
    assert isinstance(result, dict)
    assert result["upload_ok"]
    assert result["download_ok"]
    # slow start over a 20 ms round trip needs some ten round trips for 2 MB; a line that held the
    # client's own outbound segments (TCP small queues) took seconds
    assert DELAY * 3 < result["seconds"] < 1.5, result


def test_a_burst_of_datagrams_keeps_its_order_and_loses_none(pair: NsPair, delayed: AppliedLatency) -> None:
    got = _json(pair, BURST, SERVER, "3000")
    assert got == list(range(3000))
    stats = subprocess.run([IP, "netns", "exec", pair.client, "cat", "/proc/net/netfilter/nfnetlink_queue"],  # noqa: S603
                           capture_output=True, text=True, timeout=10, check=True).stdout.split()
    assert stats[0] == "7"
    assert stats[5] == "0"
    assert stats[6] == "0"


def test_removing_the_delay_line_restores_the_direct_round_trip(pair: NsPair, tmp_path: Path) -> None:
    applied = apply_latency(pair.client, DELAY, tmp_path, choice="delay-line")
    line = applied.delay_line
    assert line is not None
    pid = line.pid
    applied.remove()
    assert not line.running
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists()
    assert sorted(_connects(pair))[2] < 0.005


def test_a_dead_delay_line_stops_the_traffic_and_says_so(pair: NsPair, delayed: AppliedLatency) -> None:
    line = delayed.delay_line
    assert line is not None
    assert line.pid is not None
    assert delayed.problem() is None
    os.kill(line.pid, signal.SIGKILL)
    assert line._process is not None  # noqa: SLF001
    line._process.wait(timeout=5)  # noqa: SLF001
    done = pair.run_client(CONNECT, SERVER, "1", "1.0")
    assert done.returncode != 0
    assert "TimeoutError" in done.stderr
    problem = delayed.problem()
    assert problem is not None
    assert "delay line exited" in problem
    assert "dropped" in problem
    assert delayed.status()["delay_line"]["running"] is False


def test_zero_latency_needs_no_mechanism(pair: NsPair, tmp_path: Path) -> None:
    applied = apply_latency(pair.client, 0.0, tmp_path)
    assert applied.mechanism == "none"
    assert applied.delay_line is None
    assert not list(tmp_path.iterdir())


def test_auto_takes_netem_where_the_kernel_has_it_else_the_delay_line(pair: NsPair, tmp_path: Path) -> None:
    probe = subprocess.run([IP, "netns", "exec", pair.client, "/usr/sbin/tc", "qdisc", "add", "dev", "eth0",  # noqa: S603
                            "root", "netem", "delay", "1ms"], capture_output=True, text=True, timeout=10, check=False)
    if probe.returncode == 0:
        subprocess.run([IP, "netns", "exec", pair.client, "/usr/sbin/tc", "qdisc", "del", "dev", "eth0",  # noqa: S603
                        "root"], capture_output=True, timeout=10, check=True)
    applied = apply_latency(pair.client, DELAY, tmp_path)
    try:
        assert applied.mechanism == ("netem" if probe.returncode == 0 else "delay-line"), probe.stderr
        times = _connects(pair)
        assert min(times) >= DELAY, times
        assert sorted(times)[2] < DELAY + MARGIN, times
    finally:
        applied.remove()


# ---- the messages ---------------------------------------------------------------------------------
def test_the_bind_requests_ask_for_metadata_only_a_long_queue_and_gso_whole() -> None:
    bind, params, flags = (list(delayline.messages(m)) for m in delayline.bind_messages(7, maxlen=4096))
    queue_config = (delayline.NFNL_SUBSYS_QUEUE << 8) | delayline.NFQNL_MSG_CONFIG
    assert [m[0][0] for m in (bind, params, flags)] == [queue_config] * 3
    payload = bind[0][2]
    assert struct.unpack_from("!BBH", payload) == (0, 0, 7)  # AF_UNSPEC, version 0, queue 7 (network order)
    assert payload[4:12] == struct.pack("=HH", 8, delayline.NFQA_CFG_CMD) + struct.pack("!BxH", 1, 0)
    body = params[0][2][4:]
    assert body[:12] == struct.pack("=HH", 9, delayline.NFQA_CFG_PARAMS) + struct.pack("!IB", 0, 1) + b"\0\0\0"
    assert body[12:20] == struct.pack("=HH", 8, delayline.NFQA_CFG_QUEUE_MAXLEN) + struct.pack("!I", 4096)
    assert struct.pack("!I", delayline.NFQA_CFG_F_GSO) in flags[0][2]


def test_a_verdict_batch_accepts_up_to_an_id_and_a_packet_message_yields_its_id() -> None:
    [(kind, _seq, payload)] = list(delayline.messages(delayline.verdict_batch(7, 123456)))
    assert kind == (delayline.NFNL_SUBSYS_QUEUE << 8) | delayline.NFQNL_MSG_VERDICT_BATCH
    assert payload[4:] == struct.pack("=HH", 12, delayline.NFQA_VERDICT_HDR) + struct.pack("!II", 1, 123456)
    mark = struct.pack("=HH", 8, 3) + struct.pack("!I", 5)  # another attribute first, as the kernel may send
    header = struct.pack("=HH", 11, 1 | 0x8000) + struct.pack("!IHB", 4242, 0x0800, 1) + b"\0"
    packet = struct.pack("!BBH", 2, 0, 7) + mark + header
    message = struct.pack("=IHHII", 16 + len(packet), delayline.NFNL_SUBSYS_QUEUE << 8, 0, 0, 0) + packet
    [(kind, _seq, body)] = list(delayline.messages(message + b"\0" * 3))
    assert kind == delayline.NFNL_SUBSYS_QUEUE << 8
    assert delayline.packet_id(body) == 4242
    assert delayline.packet_id(struct.pack("!BBH", 2, 0, 7) + mark) is None
