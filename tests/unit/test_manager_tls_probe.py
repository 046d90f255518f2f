"""WCP-NCP-004's VM-side TLS script, run locally through the read-only runner against a throwaway TLS server."""

from __future__ import annotations

import shlex
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest
import trustme

from wcp_acceptance.commands import ReadOnlyRunner
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.probes.manager_tls import observe_manager_tls
from wcp_acceptance.targets import ManagerTlsProbe


class LocalExecutor:
    """Runs the (allow-listed) command line on this machine; the script binds 127.0.0.1 only."""

    def exec_line(self, line: str, timeout: float) -> tuple[int, bytes, bytes]:
        proc = subprocess.run(shlex.split(line), capture_output=True, timeout=timeout, check=False)  # noqa: S603
        return proc.returncode, proc.stdout, proc.stderr


class Canned:
    def __init__(self, stdout: bytes, status: int = 0) -> None:
        self.stdout, self.status = stdout, status

    def exec_line(self, line: str, timeout: float) -> tuple[int, bytes, bytes]:
        return self.status, self.stdout, b""


@pytest.fixture
def tls_server() -> Iterator[int]:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    yield listener.getsockname()[1]
    stop.set()
    worker.join(2)
    listener.close()


def probe(port: int, source: str = "127.0.0.1") -> ManagerTlsProbe:
    return ManagerTlsProbe("cp-1", "eth0", IPv4Address(source), "127.0.0.1", port, IPv4Address("127.0.0.1"))


def test_the_script_completes_tls_from_the_bound_source(tls_server: int) -> None:
    obs = observe_manager_tls(ReadOnlyRunner(LocalExecutor(), "cp-1", 10.0), probe(tls_server), 3.0)
    assert obs.ok
    assert obs.stage == "done"
    assert obs.tls_version in ("TLSv1.2", "TLSv1.3")
    assert obs.peer_sha256 is not None
    assert len(obs.peer_sha256) == 64


def test_a_closed_port_is_a_refused_connect_and_a_foreign_source_a_bind_failure() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        closed = holder.getsockname()[1]
    runner = ReadOnlyRunner(LocalExecutor(), "cp-1", 10.0)
    refused = observe_manager_tls(runner, probe(closed), 3.0)
    assert not refused.ok
    assert refused.stage == "connect"
    assert "refused" in refused.error.lower()
    foreign = observe_manager_tls(runner, probe(closed, source="192.0.2.77"), 3.0)
    assert not foreign.ok
    assert foreign.stage == "bind"


def test_a_plain_tcp_server_fails_the_handshake() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        obs = observe_manager_tls(ReadOnlyRunner(LocalExecutor(), "cp-1", 10.0), probe(listener.getsockname()[1]), 3.0)
    finally:
        listener.close()
    assert not obs.ok
    assert obs.stage == "tls"


@pytest.mark.parametrize("stdout", [b"", b"not json\n", b'{"ok": true, "stage": "connect"}\n', b'{"stage": "x"}\n'])
def test_a_result_line_the_script_does_not_write_is_an_error(stdout: bytes) -> None:
    with pytest.raises(ObservationError):
        observe_manager_tls(ReadOnlyRunner(Canned(stdout), "cp-1", 10.0), probe(443), 3.0)
