"""Fixtures for the NSX Policy and vCenter simulators: a lab CA, and simulators over TLS on 127.0.0.1:0.

Fixture names are specific (``api_lab_ca``, ``nsx_sim``, ``vcenter_sim``, ``start_nsx_sim``) so other
simulators' fixtures can live beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.model import SupervisorModel
from lab.sim.nsx import NsxPolicyHandler, NsxPolicySim
from lab.sim.server import SimServer
from lab.sim.vcenter import VcenterHandler, VcenterSim
from lab.tls import LabCA
from wcp_acceptance.secret import Secret

NSX_USER = "admin"
NSX_PASSWORD = "nsx-C4n4ry-pw-5e1b7d"  # canaries: tests grep every output for them
VC_USER = "administrator@vsphere.local"
VC_PASSWORD = "vc-C4n4ry-pw-9a2f44"


@dataclass
class ApiLabCa:
    ca: LabCA
    ca_file: Path
    other_ca_file: Path  # an unrelated CA: trusting it must fail


@dataclass
class RunningNsx:
    app: NsxPolicySim
    server: SimServer
    ca_file: Path
    username: str = NSX_USER
    password_text: str = NSX_PASSWORD

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def password(self) -> Secret:
        return Secret(self.password_text, "env:LAB_NSX_PASSWORD")


@dataclass
class RunningVcenter:
    app: VcenterSim
    server: SimServer
    ca_file: Path
    username: str = VC_USER
    password_text: str = VC_PASSWORD

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def password(self) -> Secret:
        return Secret(self.password_text, "env:LAB_VC_PASSWORD")


@pytest.fixture(scope="session")
def api_lab_ca(tmp_path_factory: pytest.TempPathFactory) -> ApiLabCa:
    workdir = tmp_path_factory.mktemp("api-lab-ca")
    ca = LabCA()
    return ApiLabCa(ca, ca.write_ca(workdir / "lab-ca.pem"), LabCA().write_ca(workdir / "other-ca.pem"))


@pytest.fixture
def start_nsx_sim(api_lab_ca: ApiLabCa) -> Iterator[Callable[..., RunningNsx]]:
    """Start NSX simulators (model, TLS names); every one is stopped at teardown."""
    servers: list[SimServer] = []

    def start(model: SupervisorModel | None = None, names: tuple[str, ...] = ("127.0.0.1", "localhost"),
              **kwargs: object) -> RunningNsx:
        app = NsxPolicySim(model or SupervisorModel.seed(), NSX_USER, NSX_PASSWORD, **kwargs)  # type: ignore[arg-type]
        server = SimServer(NsxPolicyHandler, app, api_lab_ca.ca.server_context(*names)).start()
        servers.append(server)
        return RunningNsx(app, server, api_lab_ca.ca_file)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def _shared_nsx_server(api_lab_ca: ApiLabCa) -> Iterator[RunningNsx]:
    app = NsxPolicySim(SupervisorModel.seed(), NSX_USER, NSX_PASSWORD)
    server = SimServer(NsxPolicyHandler, app, api_lab_ca.ca.server_context("127.0.0.1", "localhost")).start()
    try:
        yield RunningNsx(app, server, api_lab_ca.ca_file)
    finally:
        server.stop()


@pytest.fixture
def nsx_sim(_shared_nsx_server: RunningNsx) -> RunningNsx:
    """One NSX manager simulator serving the seed's Supervisor, reset for each test.

    ``nsx_sim.app.reset(model)`` serves another model."""
    _shared_nsx_server.app.reset(SupervisorModel.seed())
    return _shared_nsx_server


@pytest.fixture(scope="session")
def _shared_vcenter_server(api_lab_ca: ApiLabCa) -> Iterator[RunningVcenter]:
    app = VcenterSim(SupervisorModel.seed(), VC_USER, VC_PASSWORD)
    server = SimServer(VcenterHandler, app, api_lab_ca.ca.server_context("127.0.0.1", "localhost")).start()
    try:
        yield RunningVcenter(app, server, api_lab_ca.ca_file)
    finally:
        server.stop()


@pytest.fixture
def vcenter_sim(_shared_vcenter_server: RunningVcenter) -> RunningVcenter:
    """One vCenter simulator serving the seed's Supervisor, reset for each test."""
    _shared_vcenter_server.app.reset(SupervisorModel.seed())
    return _shared_vcenter_server
