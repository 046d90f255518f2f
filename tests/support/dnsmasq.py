"""A real dnsmasq on loopback addresses, authoritative for the test zone (nothing is forwarded)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query

DNSMASQ = "/usr/sbin/dnsmasq"


@dataclass
class Dnsmasq:
    addresses: tuple[str, ...]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return self.addresses[0]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port(address: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``address`` (dnsmasq binds both)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no free port on {address}")


@contextlib.contextmanager
def run_dnsmasq(workdir: Path, records: Mapping[str, str], *, addresses: Sequence[str] = ("127.0.0.1",),
                port: int | None = None, local_zones: Sequence[str] = ("corp.local",)) -> Iterator[Dnsmasq]:
    """Start dnsmasq answering A and PTR for ``records`` (name -> IPv4) on ``addresses``:``port``."""
    port = port or free_port(addresses[0])
    log = workdir / "dnsmasq.log"
    argv = [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--pid-file=",
            *(f"--listen-address={a}" for a in addresses), f"--port={port}", "--bind-interfaces",
            *(f"--local=/{zone}/" for zone in local_zones),  # authoritative: unknown names are NXDOMAIN
            *(f"--host-record={name},{ip}" for name, ip in records.items()),
            "--log-queries", f"--log-facility={log}"]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        probe_name = next(iter(records))
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                dns.query.udp(dns.message.make_query(probe_name, "A"), addresses[0], timeout=0.2, port=port)
                break
            except (dns.exception.Timeout, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError("dnsmasq did not answer within 10 s") from None
        yield Dnsmasq(tuple(addresses), port, log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
