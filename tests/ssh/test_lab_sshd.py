"""lab.sshd: starts a real sshd in this namespace or a given one, and always cleans up after itself."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from lab.sshd import Sshd, SshdError

IP = "/usr/sbin/ip"


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"wcp-sshd-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    subprocess.run([IP, "netns", "add", name], check=True, timeout=10)
    try:
        subprocess.run([IP, "-n", name, "link", "set", "lo", "up"], check=True, timeout=10)
        yield name
    finally:
        subprocess.run([IP, "netns", "delete", name], check=False, timeout=10)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_stop_reaps_sshd_and_removes_its_files() -> None:
    server = Sshd().start()
    workdir, port, process = server.dir, server.port, server._process
    assert server.running
    assert _accepts(port)
    assert server.known_hosts.read_text() == f"[127.0.0.1]:{port} {' '.join(server.host_public_key.split()[:2])}\n"
    server.stop()
    assert process is not None
    assert process.poll() is not None
    assert not server.running
    assert workdir is not None
    assert not workdir.exists()
    assert _released(port)


def _released(port: int, within_s: float = 2.0) -> bool:
    """Nothing accepts on the port any more, within a bound (a reaped sshd's socket is closed by the kernel)."""
    deadline = time.monotonic() + within_s
    while _accepts(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_sshd_runs_inside_the_given_namespace(netns: str) -> None:
    with Sshd("127.0.0.1", netns=netns) as server:
        process = server._process
        assert process is not None
        assert os.stat(f"/proc/{process.pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
        assert os.stat(f"/proc/{process.pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
        assert f"Server listening on 127.0.0.1 port {server.port}." in server.log()
    assert process.poll() is not None


def test_failed_start_raises_with_the_log_and_cleans_up() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = Sshd(port=port, start_timeout=3)
        with pytest.raises(SshdError, match="Address already in use"):
            server.start()
    assert server.dir is not None
    assert not server.dir.exists()
    assert not server.running
