"""The simulators' stated latency: every answer waits ``latency_s``, 0 adds nothing, bad values are refused.

Each simulator runs over TLS on 127.0.0.1; requests go over one kept-alive connection, so a timing
is one request's answer and not a handshake. One test starts ``python -m lab.sim.serve`` itself to
show the figure travels from the state file into a simulator process.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lab.model import SupervisorModel
from lab.sim.kube import KubeApiHandler, KubeApiSim
from lab.sim.nsx import NsxPolicyHandler, NsxPolicySim
from lab.sim.serve import SimState
from lab.sim.server import MAX_LATENCY_S, SimServer, check_latency
from lab.sim.vcenter import VcenterHandler, VcenterSim
from lab.tls import LabCA

LATENCY = 0.15
MARGIN = 0.35  # generous: the machine is shared; a latency applied twice (0.30 s) still fails
TOKEN = "lat-token-c4n4ry"
NSX_AUTH = "Basic " + base64.b64encode(b"admin:nsx-pw").decode()
VC_AUTH = "Basic " + base64.b64encode(b"root@vsphere.local:vc-pw").decode()


@dataclass
class Sims:
    nsx: NsxPolicySim
    vcenter: VcenterSim
    kube: KubeApiSim
    servers: dict[str, SimServer]
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def ca() -> LabCA:
    return LabCA()


@pytest.fixture(scope="module")
def sims(ca: LabCA) -> Iterator[Sims]:
    model = SupervisorModel.seed()
    nsx = NsxPolicySim(model, "admin", "nsx-pw", latency_s=LATENCY)
    vcenter = VcenterSim(model, "root@vsphere.local", "vc-pw", latency_s=LATENCY)
    kube = KubeApiSim(model, TOKEN, latency_s=LATENCY)
    tls = ca.server_context("127.0.0.1")
    servers = {name: SimServer(handler, app, tls).start() for name, handler, app in (
        ("nsx", NsxPolicyHandler, nsx), ("vcenter", VcenterHandler, vcenter), ("kube", KubeApiHandler, kube))}
    try:
        yield Sims(nsx, vcenter, kube, servers, ca.client_context())
    finally:
        for server in servers.values():
            server.stop()


def timed_gets(server: SimServer | tuple[str, int], client: ssl.SSLContext, path: str, headers: dict[str, str],
               count: int = 3, method: str = "GET") -> list[tuple[int, float]]:
    """``count`` requests on one kept-alive connection (opened first): (status, seconds) each."""
    host, port = server if isinstance(server, tuple) else (server.host, server.port)
    conn = http.client.HTTPSConnection(host, port, context=client, timeout=10)
    try:
        conn.connect()
        out = []
        for _ in range(count):
            start = time.perf_counter()
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            response.read()
            out.append((response.status, time.perf_counter() - start))
        return out
    finally:
        conn.close()


def _cases() -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("nsx", "/policy/api/v1/infra/lb-virtual-servers", {"Authorization": NSX_AUTH}),
        ("vcenter", "/api/vcenter/namespace-management/clusters", {"Authorization": "Basic bad"}),  # 401 waits too
        ("kube", "/api/v1/services", {"Authorization": f"Bearer {TOKEN}"}),
    ]


def test_every_simulator_answers_after_its_latency_and_not_much_later(sims: Sims) -> None:
    for name, path, headers in _cases():
        results = timed_gets(sims.servers[name], sims.client, path, headers)
        for status, seconds in results:
            assert status in (200, 401), (name, status)
            assert seconds >= LATENCY, (name, seconds)
        assert min(s for _, s in results) < LATENCY + MARGIN, (name, results)


def test_latency_applies_to_logins_and_errors_not_only_lists(sims: Sims) -> None:
    (status, seconds), = timed_gets(sims.servers["vcenter"], sims.client, "/api/session",
                                    {"Authorization": VC_AUTH}, count=1, method="POST")
    assert status == 201
    assert seconds >= LATENCY
    (status, seconds), = timed_gets(sims.servers["nsx"], sims.client, "/policy/api/v1/no/such/thing",
                                    {"Authorization": NSX_AUTH}, count=1)
    assert status == 400
    assert seconds >= LATENCY


def test_zero_latency_adds_nothing_measurable(sims: Sims) -> None:
    for app in (sims.nsx, sims.vcenter, sims.kube):
        app.latency_s = 0.0
    try:
        for name, path, headers in _cases():
            results = timed_gets(sims.servers[name], sims.client, path, headers, count=5)
            assert min(s for _, s in results) < 0.03, (name, results)  # a loopback answer, well under 1/5 of it
    finally:
        for app in (sims.nsx, sims.vcenter, sims.kube):
            app.latency_s = LATENCY


def test_latency_is_not_a_fault_it_survives_clearing_faults_and_reset(sims: Sims) -> None:
    sims.nsx.clear_faults()
    sims.nsx.reset()
    sims.vcenter.reset()
    sims.kube.clear_faults()
    sims.kube.reset(SupervisorModel.seed())
    assert (sims.nsx.latency_s, sims.vcenter.latency_s, sims.kube.latency_s) == (LATENCY,) * 3


def test_injected_delay_adds_to_the_latency(sims: Sims) -> None:
    sims.kube.set_delay(0.2, path_prefix="/api/v1/services")
    try:
        (status, seconds), = timed_gets(sims.servers["kube"], sims.client, "/api/v1/services",
                                        {"Authorization": f"Bearer {TOKEN}"}, count=1)
    finally:
        sims.kube.clear_faults()
    assert status == 200
    assert seconds >= LATENCY + 0.2


@pytest.mark.parametrize("bad", [-0.001, MAX_LATENCY_S + 0.001, math.nan, math.inf, "0.1", True, None])
def test_a_bad_latency_is_refused_everywhere(bad: Any, sims: Sims) -> None:
    with pytest.raises(ValueError, match="latency"):
        check_latency(bad)
    for app in (sims.nsx, sims.vcenter, sims.kube):
        with pytest.raises(ValueError, match="latency"):
            app.latency_s = bad
        assert app.latency_s == LATENCY  # unchanged
    with pytest.raises(ValueError, match="latency"):
        NsxPolicySim(SupervisorModel.seed(), "a", "b", latency_s=bad)
    with pytest.raises(ValueError, match="latency"):
        KubeApiSim(SupervisorModel.seed(), "t", latency_s=bad)
    data = _state(0.0).to_dict()
    data["latency_s"] = bad
    with pytest.raises(ValueError, match="latency_s"):
        SimState.from_dict(data)


def _state(latency: float) -> SimState:
    return SimState(model=SupervisorModel.seed(), nsx_username="admin", nsx_password="nsx-pw",
                    vcenter_username="root@vsphere.local", vcenter_password="vc-pw", kube_token=TOKEN,
                    latency_s=latency)


def test_the_state_file_round_trip_keeps_the_latency(tmp_path: Path) -> None:
    state = _state(0.02)
    assert SimState.from_dict(state.to_dict()).latency_s == 0.02
    assert SimState.load(state.save(tmp_path / "state.json")).latency_s == 0.02
    assert json.loads((tmp_path / "state.json").read_text())["latency_s"] == 0.02
    old = state.to_dict()
    del old["latency_s"]  # a state file written before the field existed: no latency
    assert SimState.from_dict(old).latency_s == 0.0
    assert SimState.from_dict({**old, "latency_s": 1}).latency_s == 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_simulator_process_serves_the_latency_from_its_state_file(tmp_path: Path, ca: LabCA) -> None:
    ca_dir = tmp_path / "ca"
    ca.save(ca_dir)
    state_file = _state(LATENCY).save(tmp_path / "state.json")
    port = _free_port()
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.sim.serve", "--kind", "nsx", "--listen", f"127.0.0.1:{port}",
         "--state", str(state_file), "--ca-dir", str(ca_dir), "--cert-names", "127.0.0.1", "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "simulator did not get ready"
            time.sleep(0.05)
        results = timed_gets(("127.0.0.1", port), ca.client_context(), "/policy/api/v1/infra/tier-1s",
                             {"Authorization": NSX_AUTH})
        assert all(status == 200 and seconds >= LATENCY for status, seconds in results), results
        assert min(s for _, s in results) < LATENCY + MARGIN
        # SIGHUP re-reads the file: the latency follows it
        _state(0.0).save(state_file)
        proc.send_signal(1)
        deadline = time.monotonic() + 20
        while json.loads(ready.read_text())["generation"] < 1:
            assert time.monotonic() < deadline, "simulator did not reload"
            time.sleep(0.05)
        results = timed_gets(("127.0.0.1", port), ca.client_context(), "/policy/api/v1/infra/tier-1s",
                             {"Authorization": NSX_AUTH}, count=5)
        assert min(s for _, s in results) < 0.03, results
    finally:
        proc.terminate()
        proc.wait(timeout=10)

