"""The constant python3 programs the VMs run (and nothing else: the allow-list matches them verbatim).

They only move bytes. The runner builds a DNS query with dnspython and parses the reply; the VM
binds the interface's own address, **connects** the UDP socket and sets IP_RECVERR (so an ICMP
error comes back as ECONNREFUSED / EHOSTUNREACH / ENETUNREACH, with the address of the router
that sent it read from the error queue, instead of a silent timeout: Linux reports host and net
unreachable to a UDP socket only with IP_RECVERR), sends, waits, and prints
exactly one JSON line. Standard library only, and no f-strings, so an old python3 on a VM runs them.

DNS query, argv ``<src> <server> <port> <hex query> <timeout>``, prints one of::

    {"ok": true, "reply": "<hex>", "elapsed": 0.004}
    {"ok": false, "error": "timeout"|"icmp"|"send", "errno": 111, "text": "...", "elapsed": 2.0}

Egress datagram, argv ``<src> <observer> <port> <nonce> <wait>``, prints one of::

    {"sent": true, "port": 40123, "echo": "<text>"|null, "errno": null|113, "text": "...", "elapsed": 0.01}
    {"sent": false, "errno": 101, "text": "[Errno 101] Network is unreachable"}

TLS handshake with an NSX manager (WCP-NCP-004), argv ``<src> <host> <port> <timeout>``: TCP from the bound
source, a TLS handshake without verification (the VM does not hold the inventory's CA; the handshake is what
NCP's connection needs), no request, then close. Prints one of::

    {"ok": true, "stage": "done", "version": "TLSv1.3", "sha256": "<hex>", "elapsed": 0.01}
    {"ok": false, "stage": "bind"|"resolve"|"connect"|"tls", "errno": 111|null, "text": "...", "elapsed": 3.0}
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

_ICMP_PRELUDE = """\
import json, socket, struct, sys, time
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
def icmp_from(sock):
    try:
        _, anc, _, _ = sock.recvmsg(512, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except OSError:
        return None
    for level, kind, data in anc:
        if level == socket.IPPROTO_IP and kind == IP_RECVERR and len(data) >= 24:
            return socket.inet_ntoa(data[20:24])
    return None
"""

DNS_QUERY_SCRIPT = _ICMP_PRELUDE + """\
src, server, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
query, wait = bytes.fromhex(sys.argv[4]), float(sys.argv[5])
def done(record):
    sys.stdout.write(json.dumps(record) + "\\n")
    sys.exit(0)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
start = time.monotonic()
try:
    sock.bind((src, 0))
    sock.connect((server, port))
    sock.send(query)
except OSError as exc:
    done({"ok": False, "error": "send", "errno": exc.errno, "text": str(exc), "elapsed": time.monotonic() - start})
sock.settimeout(wait)
try:
    reply = sock.recv(65535)
except socket.timeout:
    done({"ok": False, "error": "timeout", "errno": None, "text": "no reply within %g s" % wait,
          "elapsed": time.monotonic() - start})
except OSError as exc:
    done({"ok": False, "error": "icmp", "errno": exc.errno, "text": str(exc), "from": icmp_from(sock),
          "elapsed": time.monotonic() - start})
done({"ok": True, "reply": reply.hex(), "elapsed": time.monotonic() - start})
"""

EGRESS_SEND_SCRIPT = _ICMP_PRELUDE + """\
src, observer, port, nonce, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
def done(record):
    sys.stdout.write(json.dumps(record) + "\\n")
    sys.exit(0)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
start = time.monotonic()
try:
    sock.bind((src, 0))
    sock.connect((observer, port))
    sock.send(nonce.encode())
except OSError as exc:
    done({"sent": False, "errno": exc.errno, "text": str(exc)})
local_port = sock.getsockname()[1]
sock.settimeout(wait)
try:
    echo = sock.recv(4096)
except socket.timeout:
    done({"sent": True, "port": local_port, "echo": None, "errno": None, "text": "",
          "elapsed": time.monotonic() - start})
except OSError as exc:
    done({"sent": True, "port": local_port, "echo": None, "errno": exc.errno, "text": str(exc),
          "from": icmp_from(sock), "elapsed": time.monotonic() - start})
done({"sent": True, "port": local_port, "echo": echo.decode("utf-8", "replace"), "errno": None, "text": "",
      "elapsed": time.monotonic() - start})
"""

MANAGER_TLS_SCRIPT = """\
import hashlib, json, socket, ssl, sys, time
src, host, port, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
start = time.monotonic()
def done(record):
    record["elapsed"] = time.monotonic() - start
    sys.stdout.write(json.dumps(record) + "\\n")
    sys.exit(0)
def fail(stage, exc):
    done({"ok": False, "stage": stage, "errno": getattr(exc, "errno", None), "text": str(exc) or type(exc).__name__})
try:
    addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
except OSError as exc:
    fail("resolve", exc)
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.settimeout(wait)
try:
    sock.bind((src, 0))
except OSError as exc:
    fail("bind", exc)
try:
    sock.connect(addr)
except OSError as exc:
    fail("connect", exc)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
try:
    tls = context.wrap_socket(sock, server_hostname=host)
    der = tls.getpeercert(binary_form=True) or b""
    version = tls.version()
    tls.close()
except (OSError, ssl.SSLError) as exc:
    fail("tls", exc)
done({"ok": True, "stage": "done", "version": version, "sha256": hashlib.sha256(der).hexdigest()})
"""

_ICMP_NAMES = {
    errno.ECONNREFUSED: "port unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


def icmp_text(code: int, text: str, sender: object = None) -> str:
    """``host unreachable from 10.244.0.1 ([Errno 113] No route to host)``: what ping would say."""
    origin = f" from {sender}" if isinstance(sender, str) and sender else ""
    return f"{_ICMP_NAMES.get(code, 'error')}{origin} ({text})"


@dataclass(frozen=True)
class SenderResult:
    """What the VM-side egress sender saw: whether it sent, and any echo or ICMP error that came back."""

    sent: bool
    icmp_error: str | None = None  # "port unreachable (...)", "host unreachable (...)", ...
    echo: str | None = None  # the observer's reply, when it echoes
    error: str | None = None  # the VM could not send at all (bind/route), with the errno text
    source_port: int | None = None  # the UDP source port the VM used (None when not sent)
    elapsed_s: float | None = None

