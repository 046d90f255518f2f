"""The lab's certificate authority (trustme): every simulator serves TLS the suite verifies."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme


@dataclass
class LabCA:
    """One CA per lab; ``issue`` makes a server certificate for the given names/addresses."""

    ca: trustme.CA = field(default_factory=trustme.CA)

    CERT_FILE = "lab-ca.pem"
    KEY_FILE = "lab-ca.key"

    def save(self, directory: Path) -> Path:
        """Persist the CA (certificate and private key, mode 0600) so other processes can issue from it.

        Returns the CA certificate's path (the file clients trust)."""
        directory.mkdir(parents=True, exist_ok=True)
        key = directory / self.KEY_FILE
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self.ca.private_key_pem.bytes())
        return self.write_ca(directory / self.CERT_FILE)

    @classmethod
    def load(cls, directory: Path) -> LabCA:
        """The CA saved in ``directory`` by :meth:`save`."""
        cert = (directory / cls.CERT_FILE).read_bytes()
        key = (directory / cls.KEY_FILE).read_bytes()
        return cls(trustme.CA.from_pem(cert, key))

    def write_ca(self, path: Path) -> Path:
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def server_context(self, *names: str, days_left: float | None = None) -> ssl.SSLContext:
        """A server-side SSLContext whose certificate is valid for ``names`` (DNS names or IPs).

        ``days_left`` issues it to run out that many days from now (valid since a day before); None keeps
        trustme's default lifetime (years)."""
        if days_left is None:
            cert = self.ca.issue_cert(*names)
        else:
            now = datetime.now(UTC)
            not_after = now + timedelta(days=days_left)
            cert = self.ca.issue_cert(*names, not_before=min(now, not_after) - timedelta(days=1), not_after=not_after)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context
