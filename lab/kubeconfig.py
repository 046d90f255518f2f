"""Write a kubeconfig for the lab's Kubernetes API simulator (what ``kubectl vsphere login`` leaves behind)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from wcp_acceptance.secret import Secret


def write_kubeconfig(path: Path | str, server_url: str, ca_file: Path | str, token: str | Secret,
                     context: str = "lab") -> Path:
    """Write a one-cluster, one-user kubeconfig (mode 0600) and return its path.

    The CA is referenced by file (``certificate-authority``), the user by bearer token; the context
    ``context`` is the current one. The file holds the token in clear, as every kubeconfig does:
    it is created private to the owner.
    """
    target = Path(path)
    value = token.reveal() if isinstance(token, Secret) else token
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {
            "server": server_url,
            "certificate-authority": str(Path(ca_file).resolve()),
        }}],
        "users": [{"name": f"{context}-user", "user": {"token": value}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-user"}}],
        "current-context": context,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(document, handle, sort_keys=False)
    os.chmod(target, 0o600)
    return target
