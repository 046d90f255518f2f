"""The egress observer: runs on the runner and reports the source address workload datagrams arrive with.

A UDP socket bound to ``(address, port)`` in a background thread records, per expected nonce, the
source address and port of the datagram carrying it, and echoes ``seen <source>`` back so the VM
side gets a reply through the NAT's connection tracking. With ``mode="sniff"`` (or ``"auto"`` when
running as root and scapy can sniff), a scapy ``AsyncSniffer`` on the interface holding
``address`` (``udp port N or icmp``) additionally records a datagram carrying a pending nonce
whatever its source or destination, and ICMP errors about our port -- so a probe that arrived in a
form the socket never sees, or an ICMP error, is still reported.

Everything is bounded: the socket thread polls its stop flag every ``POLL_S``, the sniffer must
report started within ``start_timeout`` and is stopped (and joined, bounded) by :meth:`close`.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import select
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.probes.port_holder import holders

Mode = Literal["auto", "socket", "sniff"]
Method = Literal["socket", "sniff"]

POLL_S = 0.1  # how often the socket thread looks at its stop flag
SNIFF_GRACE_S = 0.25  # once the sniffer saw a nonce, how long to give the socket to see it too
MAX_NOTES = 200  # ICMP / stray records kept for evidence (oldest dropped)

ICMP_UNREACHABLE = {0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
                    3: "port unreachable", 9: "net administratively prohibited",
                    10: "host administratively prohibited", 13: "administratively prohibited"}


@dataclass(frozen=True)
class Arrival:
    """A datagram carrying ``nonce`` reached the runner from ``source:port``."""

    nonce: str
    source: str
    port: int
    at: float  # time.time() when it was seen
    method: Method
    destination: str | None = None  # the destination address (sniff only; the socket's is its own)

    def __str__(self) -> str:
        to = f" -> {self.destination}" if self.destination else ""
        return f"{self.source}:{self.port}{to} ({self.method})"


@dataclass(frozen=True)
class IcmpNote:
    """An ICMP error the sniffer saw about a datagram to or from the observer's port."""

    text: str
    at_mono: float
    nonce: str | None  # set when the quoted payload carries a pending nonce


def interface_for(address: str) -> str:
    """The name of the interface holding ``address`` (loopback for all of 127.0.0.0/8)."""
    from scapy.config import conf  # scapy is slow to import: only when sniffing

    if ipaddress.ip_address(address).is_loopback:
        return str(conf.loopback_name)
    for iface in conf.ifaces.values():
        if address in getattr(iface, "ips", {}).get(4, ()) or getattr(iface, "ip", None) == address:
            return str(iface.name)
    raise ValueError(f"no interface on the runner holds {address}")


def bind_error(name: str, address: str, port: int, exc: OSError) -> ObservationError:
    """Why the observer cannot listen, naming what holds the port when it is taken."""
    if exc.errno != errno.EADDRINUSE:
        return ObservationError(name, f"cannot bind the observer socket: {exc}")
    found = holders(address, port)
    held = ", ".join(dict.fromkeys(h.describe() for h in found)) or "a socket this machine does not list"
    return ObservationError(
        name,
        f"cannot bind the observer socket: UDP {address}:{port} is already in use by {held}. Runs that overlap "
        "on one runner need their own observer.port in each inventory (the workload network must reach each one), "
        "or must not overlap",
        [f"/proc/net/udp: {h.socket.line}" for h in found],
    )


def _quoted_nonce(data: bytes, pending: Iterable[str]) -> str | None:
    text = data.decode("latin-1")
    stripped = text.strip()
    for nonce in pending:
        if stripped == nonce or nonce in text:
            return nonce
    return None


class EgressObserver:
    """Listen on ``address:port`` for egress datagrams; see the module docstring."""

    def __init__(self, address: str, port: int, mode: Mode = "auto", *, iface: str | None = None,
                 start_timeout: float = 5.0) -> None:
        if mode not in ("auto", "socket", "sniff"):
            raise ValueError(f"observer mode {mode!r} is not auto, socket or sniff")
        self.address = str(address)
        self.port = int(port)
        self.mode: Mode = mode
        self.iface = iface
        self.sniff_error = ""  # why the sniffer is not running (auto mode falls back to the socket)
        self._cond = threading.Condition()
        self._pending: dict[str, float] = {}  # nonce -> monotonic time expect() was called
        self._socket_seen: dict[str, Arrival] = {}
        self._sniff_seen: dict[str, tuple[Arrival, float]] = {}
        self._icmp: list[IcmpNote] = []
        self._stop = threading.Event()
        self._sniffer: Any = None
        self._closed = False
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((self.address, self.port))
        except OSError as exc:
            self._sock.close()
            raise bind_error(self.name, self.address, self.port, exc) from None
        self.port = self._sock.getsockname()[1]  # port 0 picks a free one (tests)
        self._thread = threading.Thread(target=self._serve, name=f"egress-observer-{self.port}", daemon=True)
        self._thread.start()
        if mode == "sniff" or (mode == "auto" and os.geteuid() == 0):
            try:
                self._start_sniffer(start_timeout)
            except Exception as exc:  # any scapy failure: fall back (auto) or report (sniff)
                self.sniff_error = f"{type(exc).__name__}: {exc}"
                if mode == "sniff":
                    self.close()
                    raise ObservationError(self.name, f"cannot sniff on the runner: {self.sniff_error}") from None
        elif mode == "auto":
            self.sniff_error = "not root: sniffing needs CAP_NET_RAW"

    # -- public API -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"observer {self.address}:{self.port}"

    @property
    def sniffing(self) -> bool:
        return self._sniffer is not None

    def expect(self, nonce: str) -> None:
        """Announce a nonce: only datagrams carrying an expected nonce are recorded and echoed."""
        with self._cond:
            self._pending[nonce] = time.monotonic()

    def forget(self, nonce: str) -> None:
        """Drop what was recorded for ``nonce`` (after its observation has been built)."""
        with self._cond:
            self._pending.pop(nonce, None)
            self._socket_seen.pop(nonce, None)
            self._sniff_seen.pop(nonce, None)

    def wait(self, nonce: str, timeout: float) -> Arrival | None:
        """The arrival of ``nonce`` within ``timeout`` seconds, or None.

        The socket's record wins; a datagram only the sniffer saw is returned once the socket had
        ``SNIFF_GRACE_S`` to see it too (or at the deadline).
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while True:
                arrival = self._socket_seen.get(nonce)
                if arrival is not None:
                    return arrival
                now = time.monotonic()
                sniffed = self._sniff_seen.get(nonce)
                if sniffed is not None and now - sniffed[1] >= SNIFF_GRACE_S:
                    return sniffed[0]
                if now >= deadline:
                    return sniffed[0] if sniffed else None
                wake = deadline if sniffed is None else min(deadline, sniffed[1] + SNIFF_GRACE_S)
                self._cond.wait(max(0.001, wake - now))

    def notes(self, nonce: str) -> tuple[str, ...]:
        """Evidence about ``nonce`` beyond the arrival: the sniffer's view and ICMP errors since expect()."""
        with self._cond:
            since = self._pending.get(nonce)
            lines: list[str] = []
            sniffed = self._sniff_seen.get(nonce)
            socket_seen = self._socket_seen.get(nonce)
            if sniffed is not None and (socket_seen is None or socket_seen.source != sniffed[0].source):
                lines.append(f"sniffer on {self.iface}: datagram with the nonce {sniffed[0]}")
            for note in self._icmp:
                if note.nonce == nonce or (note.nonce is None and since is not None and note.at_mono >= since):
                    lines.append(f"sniffer on {self.iface}: {note.text}")
            return tuple(dict.fromkeys(lines))  # loopback captures each packet twice (out and in)

    def close(self) -> None:
        """Stop the sniffer and the socket thread (each join bounded) and close the socket."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._sniffer is not None:
            sniffer, self._sniffer = self._sniffer, None
            with contextlib.suppress(Exception):  # already stopped: nothing to release
                sniffer.stop(join=False)
            thread = getattr(sniffer, "thread", None)
            if thread is not None:
                thread.join(timeout=2.0)
        self._thread.join(timeout=2.0)
        self._sock.close()

    def __enter__(self) -> EgressObserver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        method = f"sniff on {self.iface}" if self.sniffing else "socket"
        return f"<EgressObserver {self.address}:{self.port} {method}>"

    # -- socket side ----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([self._sock], [], [], POLL_S)
                if not readable:
                    continue
                data, (source, sport) = self._sock.recvfrom(4096)
            except OSError:
                if self._stop.is_set():
                    return
                continue  # e.g. an ICMP error reported on the socket: keep listening
            with self._cond:
                nonce = _quoted_nonce(data, self._pending)
                if nonce is None:
                    continue
                self._socket_seen.setdefault(nonce, Arrival(nonce, source, sport, time.time(), "socket"))
                self._cond.notify_all()
            try:
                self._sock.sendto(f"seen {source}".encode(), (source, sport))
            except OSError:
                continue  # the VM's echo is a courtesy: the arrival is recorded already

    # -- sniffer side ---------------------------------------------------------------------------

    def _start_sniffer(self, start_timeout: float) -> None:
        import scapy.layers.inet
        import scapy.layers.l2  # noqa: F401 - registers the link-layer dissectors (Ether, loopback)
        from scapy.sendrecv import AsyncSniffer

        if self.iface is None:
            self.iface = interface_for(self.address)
        started = threading.Event()
        sniffer = AsyncSniffer(iface=self.iface, filter=f"udp port {self.port} or icmp", prn=self._on_packet,
                               store=False, started_callback=started.set)
        sniffer.start()
        deadline = time.monotonic() + start_timeout
        while not started.wait(0.05):
            thread = getattr(sniffer, "thread", None)
            if thread is not None and not thread.is_alive():
                raise RuntimeError(f"the sniffer on {self.iface} stopped at start (filter or permission)")
            if time.monotonic() >= deadline:
                with contextlib.suppress(Exception):
                    sniffer.stop(join=False)
                raise TimeoutError(f"the sniffer on {self.iface} did not start within {start_timeout:g} s")
        self._sniffer = sniffer

    def _on_packet(self, packet: Any) -> None:
        from scapy.layers.inet import ICMP, IP, UDP, IPerror, UDPerror

        try:
            if IP not in packet:
                return
            ip = packet[IP]
            if ICMP in packet:
                if IPerror in packet and UDPerror in packet:
                    self._on_icmp(ip, packet[ICMP], packet[IPerror], packet[UDPerror])
                return
            if UDP not in packet or int(packet[UDP].dport) != self.port:
                return
            payload = bytes(packet[UDP].payload)
            with self._cond:
                nonce = _quoted_nonce(payload, self._pending)
                if nonce is None:
                    return
                arrival = Arrival(nonce, str(ip.src), int(packet[UDP].sport), time.time(), "sniff", str(ip.dst))
                if nonce not in self._sniff_seen:
                    self._sniff_seen[nonce] = (arrival, time.monotonic())
                    self._cond.notify_all()
        except Exception:  # a malformed packet must not kill the sniffer thread
            return

    def _on_icmp(self, ip: Any, icmp: Any, inner: Any, udp: Any) -> None:
        if self.port not in (int(udp.dport), int(udp.sport)):
            return
        kind_type, code = int(icmp.type), int(icmp.code)
        if kind_type == 3:
            kind = ICMP_UNREACHABLE.get(code, f"destination unreachable (code {code})")
        elif kind_type == 11:
            kind = "time exceeded"
        else:
            kind = f"type {kind_type} code {code}"
        text = (f"ICMP {kind} from {ip.src} to {ip.dst} about UDP {inner.src}:{udp.sport} -> "
                f"{inner.dst}:{udp.dport}")
        with self._cond:
            nonce = _quoted_nonce(bytes(udp.payload), self._pending)
            self._icmp.append(IcmpNote(text, time.monotonic(), nonce))
            del self._icmp[:-MAX_NOTES]
            self._cond.notify_all()
