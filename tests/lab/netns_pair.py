"""Throwaway network namespaces for the lab service tests: a server and a client joined by one veth.

Names are unique per test (``t2<random>-srv`` / ``-cli``); addresses come from the lab's ranges
and exist only inside those namespaces. Teardown kills whatever still runs inside and deletes both
namespaces, even when the test failed; nothing is ever added to the host namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

IP = "/usr/sbin/ip"
PYTHON = sys.executable  # the project venv's python: dnspython, paramiko, requests


def ip(*args: str) -> None:
    subprocess.run([IP, *args], check=True, timeout=10, capture_output=True)


def netns_pids(name: str) -> list[int]:
    result = subprocess.run([IP, "netns", "pids", name], check=False, timeout=10, capture_output=True, text=True)
    return [int(p) for p in result.stdout.split()]


@dataclass(frozen=True)
class NsPair:
    server: str
    client: str
    server_addresses: tuple[str, ...]
    client_address: str

    def run_client(self, code: str, *args: str, timeout: float = 20,
                   stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``python -c code args...`` in the client namespace (sockets go over the veth)."""
        return self.run_in(self.client, code, *args, timeout=timeout, stdin=stdin)

    def run_in(self, netns: str, code: str, *args: str, timeout: float = 20,
               stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``python -c code args...`` in ``netns``; ``stdin`` carries anything secret."""
        return subprocess.run([IP, "netns", "exec", netns, PYTHON, "-c", code, *args], input=stdin,
                              check=False, timeout=timeout, capture_output=True, text=True)


@contextlib.contextmanager
def ns_pair(server_addresses: Sequence[str], client_address: str, prefix_len: int = 24) -> Iterator[NsPair]:
    tag = f"t2{secrets.token_hex(2)}"
    pair = NsPair(f"{tag}-srv", f"{tag}-cli", tuple(server_addresses), client_address)
    created: list[str] = []
    try:
        for name in (pair.server, pair.client):
            ip("netns", "add", name)
            created.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        ip("-n", pair.server, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", pair.client)
        for address in server_addresses:
            ip("-n", pair.server, "addr", "add", f"{address}/{prefix_len}", "dev", "eth0")
        ip("-n", pair.client, "addr", "add", f"{client_address}/{prefix_len}", "dev", "eth0")
        for name in (pair.server, pair.client):
            ip("-n", name, "link", "set", "eth0", "up")
        yield pair
    finally:
        for name in created:
            for pid in netns_pids(name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            subprocess.run([IP, "netns", "delete", name], check=False, timeout=10, capture_output=True)
