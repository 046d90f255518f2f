"""The lab's certificate authority (trustme): every simulator serves TLS the suite verifies.

The API VIP (the kube-apiserver simulators) serves its certificate from an *intermediate* CA the root
signed, and sends that intermediate in the handshake, as a Supervisor whose certificate comes from an
enterprise CA does; clients trust the root only (``lab-ca.pem``). The intermediate is made once per lab
and saved beside the root, so every control-plane VM serves the same chain; a fault re-issues it with
few days left (:meth:`LabCA.intermediate`).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

INTERMEDIATE_NAME = "wcp-lab intermediate CA"


@dataclass
class LabCA:
    """One CA per lab; ``issue`` makes a server certificate for the given names/addresses."""

    ca: trustme.CA = field(default_factory=trustme.CA)
    saved_intermediate: trustme.CA | None = None  # the lab's intermediate, once made or loaded

    CERT_FILE = "lab-ca.pem"
    KEY_FILE = "lab-ca.key"
    INTERMEDIATE_CERT_FILE = "lab-intermediate.pem"
    INTERMEDIATE_KEY_FILE = "lab-intermediate.key"

    def save(self, directory: Path) -> Path:
        """Persist the CA (certificate and private key, mode 0600) so other processes can issue from it.

        Returns the CA certificate's path (the file clients trust)."""
        directory.mkdir(parents=True, exist_ok=True)
        key = directory / self.KEY_FILE
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self.ca.private_key_pem.bytes())
        intermediate = self.intermediate()
        fd = os.open(directory / self.INTERMEDIATE_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(intermediate.private_key_pem.bytes())
        intermediate.cert_pem.write_to_path(str(directory / self.INTERMEDIATE_CERT_FILE))
        return self.write_ca(directory / self.CERT_FILE)

    @classmethod
    def load(cls, directory: Path) -> LabCA:
        """The CA saved in ``directory`` by :meth:`save` (with its intermediate, when one was saved)."""
        cert = (directory / cls.CERT_FILE).read_bytes()
        key = (directory / cls.KEY_FILE).read_bytes()
        lab = cls(trustme.CA.from_pem(cert, key))
        if (directory / cls.INTERMEDIATE_CERT_FILE).exists():
            saved = trustme.CA.from_pem((directory / cls.INTERMEDIATE_CERT_FILE).read_bytes(),
                                        (directory / cls.INTERMEDIATE_KEY_FILE).read_bytes())
            saved.parent_cert = lab.ca  # issue_cert then sends [leaf, intermediate]
            lab.saved_intermediate = saved
        return lab

    def intermediate(self, days_left: float | None = None) -> trustme.CA:
        """An intermediate CA the root signed (subject ``CN=wcp-lab intermediate CA``), able to issue leaves.

        ``days_left`` None: the lab's own (made once, valid for years); a number: a new one that runs out that many
        days from now (valid since a day before), for the faults."""
        if days_left is None and self.saved_intermediate is not None:
            return self.saved_intermediate
        now = datetime.now(UTC)
        not_after = now + timedelta(days=3650 if days_left is None else days_left)
        key = ec.generate_private_key(ec.SECP256R1())
        root_cert = x509.load_pem_x509_certificate(self.ca.cert_pem.bytes())
        root_key = serialization.load_pem_private_key(self.ca.private_key_pem.bytes(), password=None)
        if not isinstance(root_key, ec.EllipticCurvePrivateKey):
            raise TypeError("the lab CA's key is not an EC key")
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wcp-lab"),
                          x509.NameAttribute(NameOID.COMMON_NAME, INTERMEDIATE_NAME)])
        ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(root_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(min(now, not_after) - timedelta(days=1)).not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
                .sign(root_key, hashes.SHA256()))
        made = trustme.CA.from_pem(cert.public_bytes(serialization.Encoding.PEM),
                                   key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        made.parent_cert = self.ca
        if days_left is None:
            self.saved_intermediate = made
        return made

    def write_ca(self, path: Path) -> Path:
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def server_context(self, *names: str, days_left: float | None = None, via: trustme.CA | None = None
                       ) -> ssl.SSLContext:
        """A server-side SSLContext whose certificate is valid for ``names`` (DNS names or IPs).

        ``days_left`` issues it to run out that many days from now (valid since a day before); None keeps
        trustme's default lifetime (years). ``via`` issues it from that intermediate (:meth:`intermediate`),
        and the server then sends the intermediate after its leaf."""
        issuer = via or self.ca
        if days_left is None:
            cert = issuer.issue_cert(*names)
        else:
            now = datetime.now(UTC)
            not_after = now + timedelta(days=days_left)
            cert = issuer.issue_cert(*names, not_before=min(now, not_after) - timedelta(days=1), not_after=not_after)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context
