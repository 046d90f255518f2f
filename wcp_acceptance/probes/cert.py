"""Observe the certificates an endpoint serves, for their days left (WCP-CERT-001). Read-only: a handshake only.

Each endpoint is observed once per run. An API VIP port reuses the VIP observation's own handshake
(:func:`from_vip`: TCP, TLS verified against ``api_vip.ca_file``); an NSX manager or vCenter gets one
TLS handshake of its own (:func:`observe_cert`), verified against that endpoint's CA file for its
name and bounded by the connect timeout, and closed without a request.

The chain is what the endpoint *serves* (its leaf, then the intermediates it sends in the handshake,
in order: :func:`wcp_acceptance.probes.vip.served_chain`), then the CA certificates of the CA file
above the last one served (the root a server need not send). Where this Python cannot read what was
sent, the chain is the leaf and the CA file's certificates it chains to, and the evidence says so.

What cannot be observed raises :class:`ObservationError` naming why (TCP refused or timed out, the
TLS handshake failed, a certificate from a CA the inventory does not trust): an *error*, never a
failed certificate check. A certificate that is expired, not yet valid or for another name was
still observed; its dates are judged (the name is the VIP checks' concern, WCP-VIP-002).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory.model import Timeouts
from wcp_acceptance.probes.vip import (
    X509_EXPIRED,
    X509_NAME_MISMATCH,
    X509_NOT_YET_VALID,
    PeerCertificate,
    TcpStep,
    TlsStep,
    VipObservation,
    decode_certificate,
    handshake_only,
    verifying_context,
)
from wcp_acceptance.targets import CertEndpoint

MAX_CHAIN = 8  # issuers followed up from the leaf through the CA file, at most
JUDGED_CODES = frozenset({X509_EXPIRED, X509_NOT_YET_VALID, *X509_NAME_MISMATCH})  # dates still readable


@dataclass(frozen=True)
class CertObservation:
    """The leaf an endpoint presented and the CA certificates it chains to, seen at ``observed_at``."""

    endpoint: CertEndpoint
    ca_file: Path
    observed_at: datetime
    tls: TlsStep  # verified, or verify_failed with the certificate read (expired, not yet valid, other name)
    leaf: PeerCertificate
    chain: tuple[PeerCertificate, ...]  # from the CA file: the issuers above the last served certificate, nearest first
    shared_with: str = ""  # the checks whose handshake this is ("WCP-VIP-001..003" for a VIP port)
    served: tuple[PeerCertificate, ...] = ()  # what the endpoint sent after its leaf, in its order
    served_note: str = ""  # why what was sent after the leaf is not known ("" when it is)

    def __str__(self) -> str:
        return f"<CertObservation {self.endpoint} {self.leaf.subject} notAfter={self.leaf.not_after:%Y-%m-%d}>"


def ca_certificates(ca_file: Path) -> tuple[PeerCertificate, ...]:
    """Every certificate of the CA file, decoded (none when it cannot be read)."""
    try:
        certs = x509.load_pem_x509_certificates(ca_file.read_bytes())
    except (OSError, ValueError):
        return ()
    return tuple(decode_certificate(c.public_bytes(Encoding.DER)) for c in certs)


def issuer_chain(leaf: PeerCertificate, cas: tuple[PeerCertificate, ...]) -> tuple[PeerCertificate, ...]:
    """The CA certificates above ``leaf``, by issuer name, the nearest first (stops at a self-signed one)."""
    chain: list[PeerCertificate] = []
    current = leaf
    while len(chain) < MAX_CHAIN and current.issuer != current.subject:
        issuer = next((c for c in cas if c.subject == current.issuer and c not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return tuple(chain)


def _not_observed(endpoint: CertEndpoint, tcp: TcpStep, tls: TlsStep | None, ca_file: Path) -> str | None:
    """Why no certificate could be judged (None: one can)."""
    if tls is None:
        detail = f" ({tcp.detail})" if tcp.detail else ""
        if tcp.outcome == "timeout":
            return f"no TCP connection to {endpoint.host}:{endpoint.port} within {tcp.timeout_s:g} s (connect timeout)"
        return f"no TLS handshake: TCP to {endpoint.host}:{endpoint.port} {tcp.outcome}{detail}"
    if tls.outcome == "timeout":
        return f"TCP connected but no TLS handshake within {tls.timeout_s:g} s (connect timeout)"
    if tls.outcome == "error":
        return f"the TLS handshake failed: {tls.detail}"
    if tls.outcome == "verify_failed" and tls.verify_code not in JUDGED_CODES:
        return (f"the certificate was not accepted: {tls.verify_message} (X509 error {tls.verify_code}); it is "
                f"not one {ca_file} vouches for, so its days left are not counted")
    if tls.certificate is None:
        return f"no certificate could be read: {tls.certificate_error or 'the server presented none'}"
    return None


def judged(endpoint: CertEndpoint, ca_file: Path, observed_at: datetime, tcp: TcpStep, tls: TlsStep | None,
           shared_with: str = "") -> CertObservation:
    """The observation of ``endpoint``'s certificates from one handshake, or ObservationError naming why not."""
    why = _not_observed(endpoint, tcp, tls, ca_file)
    if why is not None or tls is None or tls.certificate is None:
        evidence = [f"connect {endpoint.host}:{endpoint.port}: {tcp.outcome} after {tcp.elapsed_s:.2f} s "
                    f"(connect timeout {tcp.timeout_s:g} s)"]
        if tls is not None:
            evidence.append(f"TLS with server name {tls.server_name}: {tls.outcome} after {tls.elapsed_s:.2f} s")
            if tls.certificate is not None:
                evidence.extend(tls.certificate.evidence())
        evidence.append(f"trusted CA file: {ca_file}")
        raise ObservationError(str(endpoint), why or "no certificate was presented", evidence)
    leaf = tls.certificate
    served = tuple(c for c in tls.served if c.sha256 != leaf.sha256)[:MAX_CHAIN]
    sent = {leaf.sha256, *(c.sha256 for c in served)}
    above = tuple(c for c in issuer_chain(served[-1] if served else leaf, ca_certificates(ca_file))
                  if c.sha256 not in sent)
    return CertObservation(endpoint, ca_file, observed_at, tls, leaf, above, shared_with, served, tls.served_note)


def from_vip(endpoint: CertEndpoint, vip: VipObservation) -> CertObservation:
    """The VIP port's certificates from the VIP observation's handshake (no second connection)."""
    return judged(endpoint, vip.ca_file, vip.observed_at, vip.tcp, vip.tls, shared_with="WCP-VIP-001..003")


def observe_cert(endpoint: CertEndpoint, timeouts: Timeouts) -> CertObservation:
    """One verified TLS handshake with ``endpoint`` (bounded by the connect timeout), closed without a request."""
    try:
        context = verifying_context(endpoint.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ObservationError(str(endpoint), f"cannot load the CA file {endpoint.ca_file}: {exc}") from None
    observed_at = datetime.now(UTC)
    tcp, tls = handshake_only(endpoint, context, timeouts.connect)
    return judged(endpoint, endpoint.ca_file, observed_at, tcp, tls)
