"""Fault servers on 127.0.0.1 for the readers: APIs that cut an answer, lie about result_count, page
forever, or never accept a connection.

:class:`LyingApi` answers every request with its ``answer`` function, which writes raw HTTP through
the helpers below (a JSON body, a chunked body cut mid-transfer, a body shorter than its
Content-Length). The server speaks TLS with a throw-away CA, as the readers trust nothing else.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from lab.sim.server import SimServer
from lab.tls import LabCA
from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.kube import KubeReader
from wcp_acceptance.transport.nsx import NsxReader
from wcp_acceptance.transport.vcenter import VcenterReader

PASSWORD = "lying-C4n4ry-pw-71c3"  # a canary: no message may show it
TOKEN = "lying-C4n4ry-token-0d9e"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]


Answer = Callable[["LyingHandler", Request], None]


@dataclass
class LyingApi:
    answer: Answer
    requests: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def gets(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and r.path == path]


class LyingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body: no Nagle wait

    def _serve(self) -> None:
        app: LyingApi = self.server.app  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, dict(parse_qsl(parts.query)))
        with app._lock:
            app.requests.append(request)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.command == "POST" and parts.path == "/api/session":  # vCenter's session login
            send_json(self, "lying-session-id", status=201)
            return
        app.answer(self, request)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return


def send_json(handler: BaseHTTPRequestHandler, body: object, status: int = 200) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _hang_up(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.close()


def send_cut_chunked(handler: BaseHTTPRequestHandler, body: object) -> None:
    """A chunked answer that stops after its first half: no final chunk, then the connection closes."""
    data = json.dumps(body).encode()
    half = data[: len(data) // 2]
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(f"{len(data):x}\r\n".encode() + half)
    _hang_up(handler)


def send_cut_length(handler: BaseHTTPRequestHandler, body: object) -> None:
    """An answer whose Content-Length promises the whole body but that sends only half of it."""
    data = json.dumps(body).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data[: len(data) // 2])
    _hang_up(handler)


def send_reset_after_headers(handler: BaseHTTPRequestHandler, body: object) -> None:  # noqa: ARG001 - an Answer
    """Headers, then the connection goes away before any byte of the body."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "4096")
    handler.end_headers()
    _hang_up(handler)


@dataclass(frozen=True)
class LyingSite:
    """Start fault servers and build the three readers against them."""

    ca: LabCA
    ca_file: Path
    start: Callable[[Answer], tuple[LyingApi, str]]

    def nsx(self, url: str, **kwargs: Any) -> NsxReader:
        kwargs.setdefault("timeout", 5.0)
        return NsxReader([url], self.ca_file, "admin", Secret(PASSWORD, "env:NSX_PASSWORD"), auth="basic", **kwargs)

    def vcenter(self, url: str, **kwargs: Any) -> VcenterReader:
        kwargs.setdefault("timeout", 5.0)
        return VcenterReader(url, self.ca_file, "administrator@vsphere.local", Secret(PASSWORD, "env:VC_PASSWORD"),
                             **kwargs)

    def kube(self, url: str, **kwargs: Any) -> KubeReader:
        kwargs.setdefault("timeout", 5.0)
        return KubeReader.from_token(url, Secret(TOKEN, "env:KUBE_TOKEN"), self.ca_file, **kwargs)


@pytest.fixture(scope="module")
def lying_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LyingSite]:
    ca = LabCA()
    ca_file = ca.write_ca(tmp_path_factory.mktemp("lying-ca") / "ca.pem")
    servers: list[SimServer] = []

    def start(answer: Answer) -> tuple[LyingApi, str]:
        app = LyingApi(answer)
        server = SimServer(LyingHandler, app, ca.server_context("127.0.0.1", "localhost")).start()
        servers.append(server)
        return app, server.url

    try:
        yield LyingSite(ca, ca_file, start)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """An https:// URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def blackhole_url() -> Iterator[str]:
    """An https:// URL whose listener never accepts and whose queue is full: a connect times out, as
    behind a blackholed VIP."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=2)  # takes the one place in the queue
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        filler.close()
        listener.close()
