"""What every lab simulator shares: a request log, injected failures and delays, the stated latency.

The NSX, vCenter and Kubernetes simulators answer in their own API's words (an NSX error body, a
vAPI error, a ``v1 Status``), but how a test steers them is the same: ``fail`` the next requests
under a path, hold answers for a while (released at once when the faults are cleared), read the
log of what was asked. Each simulator keeps its own record type (the Kubernetes one notes the
``Accept`` header and how the caller authenticated); none ever records a credential or a body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from .server import answer_after, check_latency

MAX_DELAY_S = 30.0  # an injected delay never exceeds this: a simulator must not hang a test run

Response = tuple[int, list[tuple[str, str]], bytes]


class Logged(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


R = TypeVar("R", bound=Logged)


class RequestLog(Generic[R]):
    """Every request a simulator answered, in order (thread-safe). ``records`` is the list itself."""

    def __init__(self) -> None:
        self.records: list[R] = []
        self._lock = threading.Lock()

    def add(self, record: R) -> None:
        with self._lock:
            self.records.append(record)

    def matching(self, prefix: str = "", method: str | None = None) -> list[R]:
        with self._lock:
            return [r for r in self.records if r.path.startswith(prefix) and (method is None or r.method == method)]

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


@dataclass(frozen=True)
class RequestRecord:
    """One request as the NSX or vCenter simulator saw it (the query is parsed; the body is never stored)."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class Fault:
    """Answer ``status`` to requests whose path starts with ``prefix`` (``times`` None: all of them).

    ``error_code`` is the API's own word for it (an NSX error code, a Kubernetes Status reason)."""

    prefix: str
    status: int
    times: int | None
    retry_after: float | None = None
    error_code: int | str | None = None
    message: str | None = None
    method: str | None = None


class FaultQueue:
    """Injected failures, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault that applies to this request, counted down (and dropped once spent)."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.prefix) and (fault.method is None or fault.method == method):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class Delays:
    """Answers held back under path prefixes (each at most MAX_DELAY_S); :meth:`clear` releases them."""

    def __init__(self) -> None:
        self._delays: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()

    def add(self, seconds: float, prefix: str = "/") -> None:
        with self._lock:
            self._delays.append((prefix, max(0.0, min(float(seconds), MAX_DELAY_S))))

    def for_path(self, path: str) -> float:
        with self._lock:
            return max((d for p, d in self._delays if path.startswith(p)), default=0.0)

    def wait(self, path: str) -> bool:
        """Hold this request as long as a delay says; False when :meth:`clear` released it early."""
        with self._lock:
            seconds = max((d for p, d in self._delays if path.startswith(p)), default=0.0)
            release = self._release
        if seconds <= 0:
            return True
        return not release.wait(seconds)

    def clear(self) -> None:
        with self._lock:
            self._delays.clear()
            self._release.set()  # whoever is held now goes; later requests wait on a fresh event
            self._release = threading.Event()


class StatedLatency:
    """The API's own latency, stated on purpose: not a fault, so clearing faults keeps it."""

    _latency_s: float = 0.0

    @property
    def latency_s(self) -> float:
        """Seconds the HTTP front waits before every answer; outside 0..MAX_LATENCY_S is ValueError."""
        return self._latency_s

    @latency_s.setter
    def latency_s(self, seconds: float) -> None:
        self._latency_s = check_latency(seconds)


class SimControls(StatedLatency):
    """Request log and failure injection for the NSX and vCenter simulators (thread-safe)."""

    def __init__(self) -> None:
        self.log: RequestLog[RequestRecord] = RequestLog()
        self.faults = FaultQueue()
        self.delays = Delays()
        self._generation = 0  # bumped by clear_log/clear_faults: a request older than that is not logged

    @property
    def requests(self) -> list[RequestRecord]:
        return self.log.records

    def fail(self, prefix: str, status: int, times: int | None = 1, *, retry_after: float | None = None,
             error_code: int | str | None = None, message: str | None = None, method: str | None = None) -> Fault:
        """Answer the next ``times`` requests under ``prefix`` (all of them if ``times`` is None) with ``status``."""
        return self.faults.add(Fault(prefix, status, times, retry_after, error_code, message, method))

    def delay(self, seconds: float, prefix: str = "/") -> None:
        """Wait ``seconds`` (at most MAX_DELAY_S) before answering requests under ``prefix``."""
        self.delays.add(seconds, prefix)

    def clear_faults(self) -> None:
        self._generation += 1
        self.faults.clear()
        self.delays.clear()

    def clear_log(self) -> None:
        self._generation += 1
        self.log.clear()

    def requests_to(self, prefix: str, method: str | None = "GET") -> list[RequestRecord]:
        return self.log.matching(prefix, method)

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
                 handler: Callable[[str, str, dict[str, str], Mapping[str, str], bytes], Response],
                 fault_response: Callable[[Fault], Response]) -> Response:
        """Log, apply delay and faults, then call ``handler(method, path, query, headers, body)``."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        generation = self._generation
        if not self.delays.wait(path) or generation != self._generation:
            # the test that asked for this delay is over (its client gave up): neither log this request
            # nor let it consume the next test's faults
            return 503, [("Content-Type", "text/plain")], b"delayed request outlived a reset"
        fault = self.faults.take(method, path)
        response = fault_response(fault) if fault is not None else handler(method, path, query, headers, body)
        self.log.add(RequestRecord(method, path, dict(query), response[0]))
        return response


def make_handler(name: str) -> type[BaseHTTPRequestHandler]:
    """A keep-alive HTTP/1.1 handler that passes every request to ``server.app.handle``."""

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: without it each answer stalls ~40 ms
        server_version = name
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20)) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer_after(self.server.app.latency_s)  # type: ignore[attr-defined]
            status, extra, payload = self.server.app.handle(self.command, self.path, headers, body)  # type: ignore[attr-defined]
            self.send_response(status)
            for key, value in extra:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            return

    _Handler.__name__ = f"{name}Handler"
    return _Handler
