"""Shared set-up for the Kubernetes simulator tests: a lab CA, the simulator over TLS, a kubeconfig.

Plain context managers (not fixtures), so each test module declares the fixtures it needs.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.kubeconfig import write_kubeconfig
from lab.model import SupervisorModel
from lab.sim.kube import KubeApiSim
from lab.sim.server import SimServer
from lab.tls import LabCA
from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.kube import KubeReader

TOKEN = "lab-kube-token-c4n4ry-7f3a9d"  # a canary: tests grep outputs for it
KUBECTL = "/usr/bin/kubectl"


@dataclass
class KubeLab:
    app: KubeApiSim
    server: SimServer
    ca: LabCA
    ca_file: Path
    kubeconfig: Path
    workdir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @functools.cached_property
    def client_context(self) -> ssl.SSLContext:
        return self.ca.client_context()  # built once: loading the system store costs tens of ms

    def reader(self, timeout: float = 5.0) -> KubeReader:
        return KubeReader.from_token(self.url, Secret(TOKEN, "env:LAB_KUBE_TOKEN"), self.ca_file, timeout)

    def kubectl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against the simulator (bounded; discovery cache private to the test)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "KUBECONFIG": str(self.kubeconfig),
            "CLOUDSDK_CONFIG": str(self.workdir / "gcloud"),
        }
        argv = [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.workdir / "cache"),
                "--request-timeout", "20s", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)


@contextmanager
def kube_lab(workdir: Path, model: SupervisorModel | None = None) -> Iterator[KubeLab]:
    ca = LabCA()
    app = KubeApiSim(model or SupervisorModel.seed(), TOKEN)
    ca_file = ca.write_ca(workdir / "lab-ca.pem")
    server = app.serve(ca)
    try:
        kubeconfig = write_kubeconfig(workdir / "kubeconfig", server.url, ca_file, TOKEN)
        yield KubeLab(app, server, ca, ca_file, kubeconfig, workdir)
    finally:
        app.clear_faults()
        server.stop()
        shutil.rmtree(workdir / "cache", ignore_errors=True)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def raw_request(lab: KubeLab, path: str, *, method: str = "GET", token: str | None = TOKEN,
                accept: str = "application/json", timeout: float = 10.0) -> RawResponse:
    """One HTTPS request to the simulator with nothing in between (no client library)."""
    connection = http.client.HTTPSConnection(lab.server.host, lab.server.port, context=lab.client_context,
                                             timeout=timeout)
    headers = {"Accept": accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()
