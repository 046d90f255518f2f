"""Observe the kube-apiserver VIP from the runner: TCP connect, TLS handshake, ``GET /version``.

The three steps run in order on one connection, each bounded by a timeout from the inventory
(``connect`` for TCP and the TLS handshake, ``api`` for the HTTP exchange). A later step is not
attempted when an earlier one failed; its record is then ``None``.

TLS is verified against the inventory's CA file *only* (``ssl.create_default_context(cafile=...)``
never loads the system store nor ``SSL_CERT_FILE``), for ``target.server_name`` (an IP address is
matched against the certificate's IP SANs). When verification fails, a second, unverified
handshake is made only to read the certificate the VIP presents, as evidence.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import io
import json
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory.model import Timeouts
from wcp_acceptance.targets import VipPort

BODY_HEAD_CHARS = 200  # how much of the /version body the evidence shows
MAX_RESPONSE_BYTES = 64 * 1024  # /version is a few hundred bytes; never read more than this

TcpOutcome = Literal["ok", "refused", "timeout", "unreachable", "error"]
TlsOutcome = Literal["verified", "verify_failed", "timeout", "error"]
VersionOutcome = Literal["answered", "timeout", "error"]

# OpenSSL X509_V_ERR_* codes the checks name in their messages.
X509_UNTRUSTED = frozenset({2, 18, 19, 20, 21})  # no path to a trusted CA / self-signed
X509_NOT_YET_VALID = 9
X509_EXPIRED = 10
X509_NAME_MISMATCH = frozenset({62, 64})  # hostname / IP address mismatch
ENCODING_DER = 2  # _ssl.ENCODING_DER: what _ssl.Certificate.public_bytes(2) returns (CPython 3.10-3.12)


class TlsTarget(Protocol):
    """What a TLS probe connects to: the VIP port, or any other endpoint (an NSX manager, vCenter)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def server_name(self) -> str: ...


@dataclass(frozen=True)
class PeerCertificate:
    """The leaf certificate the VIP presented, decoded for the report."""

    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    sha256: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the certificate is valid for: DNS SANs, then IP SANs."""
        return self.dns_names + self.ip_addresses

    def evidence(self) -> tuple[str, ...]:
        sans = [f"DNS:{n}" for n in self.dns_names] + [f"IP:{a}" for a in self.ip_addresses]
        return (
            f"certificate subject: {self.subject or '(empty)'}",
            f"certificate SANs: {', '.join(sans) or '(none)'}",
            f"certificate issuer: {self.issuer or '(empty)'}",
            f"certificate validity: {iso_utc(self.not_before)} .. {iso_utc(self.not_after)}",
            f"certificate sha256: {self.sha256}",
        )

    def __str__(self) -> str:
        return f"<PeerCertificate {self.subject} SANs={','.join(self.names)}>"


@dataclass(frozen=True)
class TcpStep:
    outcome: TcpOutcome
    detail: str  # the errno text, e.g. "[Errno 111] Connection refused"
    elapsed_s: float
    timeout_s: float


@dataclass(frozen=True)
class TlsStep:
    outcome: TlsOutcome
    server_name: str
    elapsed_s: float
    timeout_s: float
    verify_code: int | None = None  # OpenSSL X509_V_ERR_* when outcome == "verify_failed"
    verify_message: str = ""
    detail: str = ""
    protocol: str | None = None  # "TLSv1.3"
    certificate: PeerCertificate | None = None
    certificate_error: str = ""  # why the certificate could not be read, if it could not
    # what the server sent after its leaf, in the order it sent them (intermediates, sometimes a root);
    # ``served_note`` says why that is not known (then ``served`` is empty and proves nothing)
    served: tuple[PeerCertificate, ...] = ()
    served_note: str = ""


@dataclass(frozen=True)
class VersionStep:
    outcome: VersionOutcome
    elapsed_s: float
    timeout_s: float
    status: int | None = None
    reason: str = ""
    content_type: str = ""
    body_head: str = ""  # the first BODY_HEAD_CHARS of the body
    version_info: dict[str, object] | None = None  # the JSON object, when the body is one
    detail: str = ""

    @property
    def git_version(self) -> str | None:
        value = (self.version_info or {}).get("gitVersion")
        return value if isinstance(value, str) else None

    @property
    def is_kube_apiserver(self) -> bool:
        """200 and a JSON object with ``gitVersion``, ``major`` and ``minor`` (k8s.io/apimachinery version.Info)."""
        info = self.version_info or {}
        return self.status == 200 and all(isinstance(info.get(k), str) and info.get(k) for k in
                                           ("gitVersion", "major", "minor"))


@dataclass(frozen=True)
class VipObservation:
    target: VipPort
    ca_file: Path
    ca_subjects: tuple[str, ...]  # the CA certificates the handshake trusted
    observed_at: datetime
    tcp: TcpStep
    tls: TlsStep | None = None  # None: not attempted (TCP failed)
    version: VersionStep | None = None  # None: not attempted (TCP or TLS failed)

    def __str__(self) -> str:
        return f"<VipObservation {self.target} tcp={self.tcp.outcome} " \
               f"tls={self.tls.outcome if self.tls else '-'} version={self.version.outcome if self.version else '-'}>"


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_certificate(der: bytes) -> PeerCertificate:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ip_addresses = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names, ip_addresses = (), ()
    return PeerCertificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=hashlib.sha256(der).hexdigest(),
    )


def verifying_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts ``ca_file`` and nothing else (no system store, no SSL_CERT_FILE)."""
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))


def _ca_subjects(ca_file: Path) -> tuple[str, ...]:
    try:
        return tuple(c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(ca_file.read_bytes()))
    except (OSError, ValueError):
        return ()


def _tcp_connect(target: TlsTarget, timeout: float) -> tuple[TcpStep, socket.socket | None]:
    start = time.monotonic()
    outcome: TcpOutcome
    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
    except ConnectionRefusedError as exc:
        outcome, detail = "refused", str(exc)
    except TimeoutError as exc:
        outcome, detail = "timeout", str(exc) or "timed out"
    except OSError as exc:
        unreachable = exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)
        outcome, detail = ("unreachable" if unreachable else "error"), str(exc)
    else:
        return TcpStep("ok", "", time.monotonic() - start, timeout), sock
    return TcpStep(outcome, detail, time.monotonic() - start, timeout), None


def served_chain(tls: ssl.SSLSocket) -> tuple[tuple[bytes, ...], str]:
    """The certificates the server sent in the handshake, leaf first, as DER; or () and why they cannot be read.

    Python's ssl gives the peer's whole chain publicly only from 3.13 (``SSLSocket.get_unverified_chain``);
    CPython 3.10 to 3.12 have the same C function on the socket's ``_sslobj``, returning ``_ssl.Certificate``
    objects. Both are what the server *sent* (not the path OpenSSL built), which is what is to be judged."""
    public = getattr(tls, "get_unverified_chain", None)  # Python 3.13+
    try:
        if public is not None:
            return tuple(bytes(der) for der in public() or ()), ""
        inner = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)  # CPython 3.10-3.12
        if inner is None:
            return (), "this Python's ssl cannot hand out the certificates the server sent (only its leaf)"
        return tuple(cert.public_bytes(ENCODING_DER) for cert in inner() or ()), ""
    except (ssl.SSLError, ValueError, TypeError, AttributeError) as exc:
        return (), f"the certificates the server sent could not be read: {exc}"


def _served_after_leaf(tls: ssl.SSLSocket) -> tuple[tuple[PeerCertificate, ...], str]:
    ders, note = served_chain(tls)
    if note:
        return (), note
    try:
        return tuple(decode_certificate(der) for der in ders[1:]), ""
    except ValueError as exc:
        return (), f"a certificate the server sent after its leaf could not be decoded: {exc}"


def _read_certificate(target: TlsTarget, timeout: float
                      ) -> tuple[PeerCertificate | None, str, tuple[PeerCertificate, ...], str]:
    """An unverified handshake on a fresh connection, only to read the presented certificate (and what it sent
    after it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=target.server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            served, note = _served_after_leaf(tls)
    except TimeoutError:
        return None, f"no certificate within {timeout:g} s (timeout) on a second, unverified handshake", (), ""
    except (OSError, ssl.SSLError) as exc:
        return None, f"second, unverified handshake failed: {exc}", (), ""
    if not der:
        return None, "the server presented no certificate", (), ""
    try:
        return decode_certificate(der), "", served, note
    except ValueError as exc:
        return None, f"the certificate could not be decoded: {exc}", (), ""


def _tls_handshake(target: TlsTarget, sock: socket.socket, context: ssl.SSLContext,
                   timeout: float) -> tuple[TlsStep, ssl.SSLSocket | None]:
    name = target.server_name
    start = time.monotonic()
    sock.settimeout(timeout)  # CPython bounds the whole handshake by this (a deadline, not per read)
    try:
        tls = context.wrap_socket(sock, server_hostname=name)
    except ssl.SSLCertVerificationError as exc:
        elapsed = time.monotonic() - start
        sock.close()
        cert, cert_error, served, note = _read_certificate(target, timeout)
        return TlsStep("verify_failed", name, elapsed, timeout, verify_code=exc.verify_code,
                       verify_message=str(exc.verify_message or exc.reason or exc), certificate=cert,
                       certificate_error=cert_error, served=served, served_note=note), None
    except TimeoutError:
        sock.close()
        return TlsStep("timeout", name, time.monotonic() - start, timeout,
                       detail=f"no TLS handshake within {timeout:g} s (timeout)"), None
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        return TlsStep("error", name, time.monotonic() - start, timeout, detail=str(exc)), None
    elapsed = time.monotonic() - start
    der = tls.getpeercert(binary_form=True)
    cert = decode_certificate(der) if der else None
    served, note = _served_after_leaf(tls)
    return TlsStep("verified", name, elapsed, timeout, protocol=tls.version(), certificate=cert, served=served,
                   served_note=note), tls


def handshake_only(target: TlsTarget, context: ssl.SSLContext, timeout: float) -> tuple[TcpStep, TlsStep | None]:
    """TCP connect and the verified TLS handshake, each bounded by ``timeout``, then close: no request is sent.

    The TLS step is None when TCP failed; a failed verification reads the certificate on a second,
    unverified handshake, as :func:`observe_vip` does."""
    tcp, sock = _tcp_connect(target, timeout)
    if sock is None:
        return tcp, None
    tls_step, tls = _tls_handshake(target, sock, context, timeout)
    if tls is not None:
        tls.close()
    return tcp, tls_step


class _BytesSocket:
    """Just enough of a socket for http.client.HTTPResponse to parse bytes already read."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str, *args: object, **kwargs: object) -> io.BytesIO:  # noqa: ARG002
        return io.BytesIO(self._data)


def _response_complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False  # chunked or close-delimited: read until the server closes (Connection: close)


def _get_version(target: VipPort, tls: ssl.SSLSocket, timeout: float) -> VersionStep:
    start = time.monotonic()
    deadline = start + timeout
    host = target.server_name if ":" not in target.server_name else f"[{target.server_name}]"
    request = (f"GET /version HTTP/1.1\r\nHost: {host}:{target.port}\r\nAccept: application/json\r\n"
               f"User-Agent: wcp-acceptance\r\nConnection: close\r\n\r\n").encode("ascii")
    data = b""
    try:
        tls.settimeout(timeout)
        tls.sendall(request)
        while len(data) < MAX_RESPONSE_BYTES and not _response_complete(data):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            tls.settimeout(remaining)  # each read gets only what is left: the whole exchange is bounded
            chunk = tls.recv(16384)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        if not data:
            return VersionStep("timeout", time.monotonic() - start, timeout,
                               detail=f"no HTTP response within {timeout:g} s (timeout)")
        # a partial response: parse what came, the check shows it
    except (OSError, ssl.SSLError) as exc:
        if not data:
            return VersionStep("error", time.monotonic() - start, timeout, detail=str(exc))
    finally:
        tls.close()
    elapsed = time.monotonic() - start
    if not data:
        return VersionStep("error", elapsed, timeout, detail="the server closed the connection without a response")
    response = http.client.HTTPResponse(_BytesSocket(data))  # type: ignore[arg-type]
    try:
        response.begin()
        body = response.read()
    except (http.client.HTTPException, ValueError) as exc:
        return VersionStep("error", elapsed, timeout, detail=f"not an HTTP response ({exc!r}): {data[:80]!r}")
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    info = {str(k): v for k, v in parsed.items()} if isinstance(parsed, dict) else None
    return VersionStep("answered", elapsed, timeout, status=response.status, reason=response.reason,
                       content_type=response.getheader("Content-Type", ""), body_head=text[:BODY_HEAD_CHARS],
                       version_info=info)


def observe_vip(target: VipPort, ca_file: Path, timeouts: Timeouts) -> VipObservation:
    """TCP connect, verified TLS handshake and ``GET /version`` against ``target``, each bounded.

    Raises :class:`ObservationError` only when the CA file cannot be loaded (nothing was observed).
    """
    try:
        context = verifying_context(ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ObservationError(str(target), f"cannot load the CA file {ca_file}: {exc}") from None
    observed_at = datetime.now(UTC)
    ca_subjects = _ca_subjects(ca_file)
    tcp, sock = _tcp_connect(target, timeouts.connect)
    if sock is None:
        return VipObservation(target, ca_file, ca_subjects, observed_at, tcp)
    tls_step, tls = _tls_handshake(target, sock, context, timeouts.connect)
    if tls is None:
        return VipObservation(target, ca_file, ca_subjects, observed_at, tcp, tls_step)
    version = _get_version(target, tls, timeouts.api)
    return VipObservation(target, ca_file, ca_subjects, observed_at, tcp, tls_step, version)
