"""A small threaded HTTPS server that simulators plug a request handler into.

Each simulator is a ``BaseHTTPRequestHandler`` subclass; :class:`SimServer` binds it to an
address (127.0.0.1 and port 0 in host-namespace tests, a lab address later), wraps the socket in
TLS from the lab CA, and runs it in a daemon thread until :meth:`stop`.

Every simulator can answer with a stated latency (:func:`check_latency`, ``latency_s`` on each
simulator app and on :class:`~lab.sim.serve.SimState`): a real NSX manager, vCenter or
kube-apiserver takes tens of milliseconds per request, a simulator on loopback well under one, so a
bench that wants realistic wall times asks for the latency explicitly instead of inheriting an
accident of the machine. It is separate from the injected delays, which are faults.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_LATENCY_S = 5.0  # a stated API latency never exceeds this: a slower "API" is a fault, not a latency


def check_latency(seconds: object) -> float:
    """``seconds`` as a latency in 0..MAX_LATENCY_S, or ValueError (bools, NaN and strings are refused)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"latency must be a number of seconds, got {seconds!r}")
    value = float(seconds)
    if not 0.0 <= value <= MAX_LATENCY_S:  # NaN fails both comparisons
        raise ValueError(f"latency must be between 0 and {MAX_LATENCY_S:g} s, got {seconds!r}")
    return value


def answer_after(latency_s: float) -> None:
    """Wait out a simulator's stated latency before it answers (nothing at all when it is 0)."""
    if latency_s > 0:
        time.sleep(latency_s)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: Any,
                 tls: ssl.SSLContext | None) -> None:
        super().__init__(address, handler)
        self.app = app  # the simulator state handlers read through ``self.server.app``
        self.tls = tls

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks getfqdn(), a DNS lookup: inside a lab VM whose DNS is broken on
        # purpose that would stall start-up for the resolver's whole timeout
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            sock.settimeout(10)
            # handshake in the worker thread, so one silent client cannot stall accept()
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002 - quiet on resets
        return


class SimServer:
    """Run ``handler`` with ``app`` over TLS on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], app: Any, tls: ssl.SSLContext | None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), handler, app, tls)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sim-{handler.__name__}",
                                        daemon=True)

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def set_tls(self, tls: ssl.SSLContext | None) -> None:
        """Serve connections accepted from now on with ``tls`` (e.g. a certificate for other names)."""
        self._server.tls = tls

    def start(self) -> SimServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
