"""The lab's certificate authority (trustme): every simulator serves TLS the suite verifies."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

import trustme


@dataclass
class LabCA:
    """One CA per lab; ``issue`` makes a server certificate for the given names/addresses."""

    ca: trustme.CA = field(default_factory=trustme.CA)

    def write_ca(self, path: Path) -> Path:
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server-side SSLContext whose certificate is valid for ``names`` (DNS names or IPs)."""
        cert = self.ca.issue_cert(*names)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context
