"""A delay line for kernels without netem: hold every packet of an NFQUEUE queue for a fixed time.

``python -m lab.delayline --queue N --delay SECONDS --ready-file FILE`` runs inside a lab
namespace where one iptables rule sends packets to queue ``N`` (see :mod:`lab.latency`). It is a
pure-Python nfnetlink_queue client (``AF_NETLINK``, ``NETLINK_NETFILTER``):

- it binds queue ``N`` with ``NFQNL_COPY_META`` (the kernel sends each packet's id and metadata,
  never its payload), a large queue length and GSO packets queued whole, so a bulk transfer costs a
  few messages per window rather than one per segment;
- every packet id read is held for ``delay`` seconds from when it was read, in arrival order, then
  released with one ``NFQNL_MSG_VERDICT_BATCH`` ``NF_ACCEPT`` up to the last id that is due (a
  batch verdict accepts every queued id up to it, so a notification lost to a full socket buffer
  still leaves with the packet after it);
- it writes the ready file (JSON: pid, queue, delay) only once the kernel has acknowledged the bind,
  so nothing is queued before someone is there to release it;
- on SIGTERM/SIGINT it releases what it holds and exits 0.

The rule has no ``--queue-bypass``: if this process dies, packets through the queue are dropped
(the lab's status says the delay line is gone), never silently sent without the delay.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = 33

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4

NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3

NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 1 << 2

NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_ACCEPT = 1

NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
NFGEN_HEADER = struct.Struct("!BBH")  # family, version, resource id (the queue number), network order
ATTR_HEADER = struct.Struct("=HH")
NLA_TYPE_MASK = 0x3FFF

DEFAULT_QUEUE = 7
QUEUE_MAXLEN = 65536
RCVBUF = 32 * 1024 * 1024
RECV_SIZE = 1024 * 1024


class DelayLineError(RuntimeError):
    """The kernel refused the queue (no nfnetlink_queue, queue taken, not permitted)."""


# ---- messages ----------------------------------------------------------------------------------
def _attr(kind: int, payload: bytes) -> bytes:
    size = ATTR_HEADER.size + len(payload)
    return ATTR_HEADER.pack(size, kind) + payload + b"\0" * (-size % 4)


def _message(msg: int, queue: int, attrs: bytes, *, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    body = NFGEN_HEADER.pack(socket.AF_UNSPEC, 0, queue) + attrs
    return NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + body


def bind_messages(queue: int, *, maxlen: int = QUEUE_MAXLEN, seq: int = 1) -> list[bytes]:
    """The CONFIG requests that bind ``queue``, copy metadata only, lengthen it and take GSO packets whole."""
    flags = NLM_F_REQUEST | NLM_F_ACK
    return [
        _message(NFQNL_MSG_CONFIG, queue, _attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)),
                 seq=seq, flags=flags),
        _message(NFQNL_MSG_CONFIG, queue,
                 _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
                 + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen)), seq=seq + 1, flags=flags),
        _message(NFQNL_MSG_CONFIG, queue, _attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_GSO))
                 + _attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_GSO)), seq=seq + 2, flags=flags),
    ]


def verdict_batch(queue: int, last_id: int, *, seq: int = 0) -> bytes:
    """Accept every packet of ``queue`` with an id up to ``last_id``."""
    return _message(NFQNL_MSG_VERDICT_BATCH, queue, _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, last_id)),
                    seq=seq)


def messages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(type, sequence, payload) of each netlink message in one datagram."""
    offset = 0
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind, _flags, seq, _port = NLMSG_HEADER.unpack_from(data, offset)
        if length < NLMSG_HEADER.size or offset + length > len(data):
            return
        yield kind, seq, data[offset + NLMSG_HEADER.size:offset + length]
        offset += (length + 3) & ~3


def packet_id(payload: bytes) -> int | None:
    """The id in a NFQNL_MSG_PACKET's NFQA_PACKET_HDR (``None`` if it has none)."""
    offset = NFGEN_HEADER.size
    while offset + ATTR_HEADER.size <= len(payload):
        size, kind = ATTR_HEADER.unpack_from(payload, offset)
        if size < ATTR_HEADER.size:
            return None
        if kind & NLA_TYPE_MASK == NFQA_PACKET_HDR and size >= ATTR_HEADER.size + 4:
            return int(struct.unpack_from("!I", payload, offset + ATTR_HEADER.size)[0])
        offset += (size + 3) & ~3
    return None


# ---- the line ----------------------------------------------------------------------------------
class DelayLine:
    """One bound queue: ``pump()`` reads what arrived and releases what is due."""

    def __init__(self, queue: int, delay: float, *, maxlen: int = QUEUE_MAXLEN) -> None:
        self.queue = queue
        self.delay = delay
        self.held: deque[tuple[float, int]] = deque()
        self.released = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            with contextlib.suppress(OSError):  # needs CAP_NET_ADMIN; the plain limit is the fallback
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
            self.sock.bind((0, 0))
            self._bind(maxlen)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def _bind(self, maxlen: int) -> None:
        self.sock.settimeout(5.0)
        for request in bind_messages(self.queue, maxlen=maxlen):
            self.sock.send(request)
            _kind, want, _ = next(messages(request))
            while True:
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    raise DelayLineError(f"no answer from nfnetlink_queue binding queue {self.queue}") from None
                answer = [(k, s, p) for k, s, p in messages(data) if k == NLMSG_ERROR and s == want]
                if answer:
                    code = -struct.unpack_from("=i", answer[0][2])[0]
                    if code:
                        raise DelayLineError(f"nfnetlink_queue refused queue {self.queue}: {os.strerror(code)}")
                    break

    def fileno(self) -> int:
        return self.sock.fileno()

    def timeout(self, now: float) -> float | None:
        """Seconds until the oldest held packet is due (``None`` when nothing is held)."""
        return max(0.0, self.held[0][0] - now) if self.held else None

    def read(self) -> int:
        """Read every notification waiting on the socket; hold each packet. Returns how many arrived."""
        count = 0
        while True:
            try:
                data = self.sock.recv(RECV_SIZE)
            except BlockingIOError:
                return count
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    continue
                raise
            due = time.monotonic() + self.delay
            for kind, _seq, payload in messages(data):
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    pid = packet_id(payload)
                    if pid is not None:
                        self.held.append((due, pid))
                        count += 1

    def release(self, now: float | None = None) -> int:
        """Accept every held packet that is due (all of them when ``now`` is ``inf``)."""
        now = time.monotonic() if now is None else now
        last = None
        count = 0
        while self.held and self.held[0][0] <= now:
            last = self.held.popleft()[1]
            count += 1
        if last is not None:
            self.sock.setblocking(True)
            try:
                self.sock.send(verdict_batch(self.queue, last))
            finally:
                self.sock.setblocking(False)
            self.released += count
        return count

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.release(float("inf"))
        self.sock.close()


class _Stop(BaseException):  # noqa: N818 - a control-flow signal, like KeyboardInterrupt
    pass


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def serve(line: DelayLine) -> None:
    """Hold and release until SIGTERM/SIGINT."""
    poller = select.poll()
    poller.register(line.fileno(), select.POLLIN)
    while True:
        wait = line.timeout(time.monotonic())
        events = poller.poll(None if wait is None else wait * 1000.0)
        if events:
            line.read()
        line.release()


def write_ready(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.delayline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue", type=int, default=DEFAULT_QUEUE, help=f"NFQUEUE number (default {DEFAULT_QUEUE})")
    parser.add_argument("--delay", type=float, required=True, help="seconds each packet is held")
    parser.add_argument("--ready-file", type=Path, help="written (JSON) once the queue is bound")
    args = parser.parse_args(argv)
    if not 0 <= args.queue <= 65535 or not 0 <= args.delay <= 10:
        parser.error("--queue is 0..65535 and --delay 0..10 seconds")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)
    try:
        line = DelayLine(args.queue, args.delay)
    except (OSError, DelayLineError) as exc:
        print(f"delayline: {exc}", file=sys.stderr, flush=True)
        return 1
    except _Stop:
        return 0
    try:
        if args.ready_file is not None:
            write_ready(args.ready_file, {"pid": os.getpid(), "queue": args.queue, "delay": args.delay})
        print(f"delayline: queue {args.queue} bound, holding packets {args.delay * 1000:g} ms", flush=True)
        serve(line)
    except _Stop:
        pass
    finally:
        released = line.released
        line.close()
        print(f"delayline: stopped after {released} packets", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
