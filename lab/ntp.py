"""A small real NTP server for the lab: answers NTP client requests (mode 3) with server replies (mode 4).

Debian's chrony would do, but installing it replaces the host's systemd-timesyncd, and chronyd wants
to discipline the (shared) clock; the lab only needs something that speaks the protocol on UDP 123 in
a namespace. This serves the host's clock as stratum 1 (reference id ``LOCL``), copies the client's
transmit timestamp into the originate field (RFC 5905 section 7.3), and stamps receive and transmit
times. ``python -m lab.ntp ADDRESS [PORT]``; ``ntp-server-down`` stops it.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from pathlib import Path

from .services import _Child

NTP_EPOCH = 2208988800


def ntp_time(unix: float) -> bytes:
    seconds = int(unix)
    return struct.pack("!II", (seconds + NTP_EPOCH) & 0xFFFFFFFF, int((unix - seconds) * 2**32) & 0xFFFFFFFF)


def reply_to(request: bytes, received: float, now: float | None = None) -> bytes | None:
    """The server reply to one client request, or None when it is not one (too short, not mode 3)."""
    if len(request) < 48 or request[0] & 7 != 3:
        return None
    version = (request[0] >> 3) & 7
    header = struct.pack("!BBbb", (version << 3) | 4, 1, request[2], -20)  # LI 0, mode 4, stratum 1, poll, precision
    roots = struct.pack("!II", 0, 0x00000010)  # root delay 0, root dispersion ~0.24 ms
    sent = time.time() if now is None else now
    return header + roots + b"LOCL" + ntp_time(received - 16) + request[40:48] + ntp_time(received) + ntp_time(sent)


def serve(address: str, port: int = 123) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, port))
        while True:
            data, peer = sock.recvfrom(512)
            answer = reply_to(data, time.time())
            if answer is not None:
                sock.sendto(answer, peer)


class NtpServer(_Child):
    """``python -m lab.ntp`` in ``netns`` on ``address``:123 (stopped and reaped like the lab's other services)."""

    def __init__(self, netns: str, address: str, workdir: Path, *, port: int = 123, start_timeout: float = 10.0,
                 stop_timeout: float = 3.0) -> None:
        super().__init__(netns, workdir / "ntp.log", start_timeout, stop_timeout)
        self.address = address
        self.port = port

    def start(self) -> NtpServer:
        try:
            root = Path(__file__).resolve().parent.parent
            self._spawn([sys.executable, "-m", "lab.ntp", self.address, str(self.port)], cwd=root)
            self._await([("udp", self.address, self.port)], "the lab NTP server")
        except BaseException:
            self.stop()
            raise
        return self

    def __repr__(self) -> str:
        return f"<NtpServer {self.netns} {self.address}:{self.port}>"


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 123)
