"""python -m lab.sim.serve: each simulator as a process in a namespace, TLS from the persisted lab
CA verified by a client in another namespace; SIGHUP applies a changed state file (model, faults,
certificate names and days left) without a restart; SIGTERM exits within 2 s; everything is reaped."""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lab.model import SupervisorModel
from lab.services import ServiceError, SimProcess, start_all, stop_all
from lab.sim.serve import FaultSpec, SimState
from lab.tls import LabCA
from tests.lab.netns_pair import NsPair, netns_pids, ns_pair

NSX, VCENTER, VM, VIP, JUMPBOX = "192.168.10.28", "192.168.10.20", "192.168.10.45", "172.16.1.2", "192.168.10.5"

# Runs in the jumpbox namespace; reads its requests (credentials included) as JSON on stdin.
CLIENT = """
import json, socket, ssl, sys
import requests
spec = json.load(sys.stdin)
ca = spec["ca"]
http = requests.Session()
http.trust_env = False  # this machine's CA bundle variables must not win over the lab CA
http.verify = ca
out = {}
for name, req in spec["requests"].items():
    try:
        kind = req["kind"]
        if kind == "nsx_login":
            r = http.post(req["url"] + "/api/session/create", timeout=5,
                          data={"j_username": req["user"], "j_password": req["password"]})
            out[name] = [r.status_code, r.cookies.get("JSESSIONID"), r.headers.get("x-xsrf-token")]
        elif kind == "nsx_vs":
            r = http.get(req["url"] + "/policy/api/v1/infra/lb-virtual-servers", timeout=5,
                         headers={"Cookie": "JSESSIONID=" + req["cookie"], "X-XSRF-TOKEN": req["xsrf"]})
            out[name] = [r.status_code, sorted(v["id"] for v in r.json().get("results", []))]
        elif kind == "vc":
            r = http.post(req["url"] + "/api/session", auth=(req["user"], req["password"]), timeout=5)
            if r.status_code != 201:
                out[name] = [r.status_code, None]
                continue
            r = http.get(req["url"] + "/api/vcenter/namespace-management/clusters", timeout=5,
                         headers={"vmware-api-session-id": r.json()})
            out[name] = [r.status_code, [c["cluster"] for c in r.json()]]
        elif kind == "kube":
            r = http.get(req["url"] + "/api/v1/services", timeout=5,
                         headers={"Authorization": "Bearer " + req["token"]})
            out[name] = [r.status_code, len(r.json().get("items", []))]
        elif kind == "tls":
            context = ssl.create_default_context(cafile=ca)
            with socket.create_connection((req["host"], req["port"]), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=req["name"]) as tls:
                    out[name] = "verified"
                    if req.get("not_after"):
                        out[name] = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
    except Exception as exc:
        out[name] = type(exc).__name__ + ": " + str(exc)[:200]
print(json.dumps(out))
"""


@dataclass
class Lab:
    pair: NsPair
    ca_file: Path
    state_file: Path
    state: SimState
    sims: dict[str, SimProcess]

    def ask(self, **requests: dict[str, Any]) -> dict[str, Any]:
        result = self.pair.run_client(CLIENT, stdin=json.dumps({"ca": str(self.ca_file), "requests": requests}))
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def nsx(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {"kind": kind, "url": f"https://{NSX}", "user": self.state.nsx_username,
                "password": self.state.nsx_password, **extra}

    def vc(self) -> dict[str, Any]:
        return {"kind": "vc", "url": f"https://{VCENTER}", "user": self.state.vcenter_username,
                "password": self.state.vcenter_password}

    def kube(self, port: int) -> dict[str, Any]:
        return {"kind": "kube", "url": f"https://{VM}:{port}", "token": self.state.kube_token}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    ca_dir = tmp_path / "ca"
    ca_file = LabCA().save(ca_dir)
    state = SimState(model=SupervisorModel.seed(), nsx_username="audit",
                     nsx_password="canary-" + secrets.token_hex(8), vcenter_username="readonly@vsphere.local",
                     vcenter_password="canary-" + secrets.token_hex(8), kube_token="token-" + secrets.token_hex(16))
    state_file = state.save(tmp_path / "state.json")
    with ns_pair([NSX, VCENTER, VM], JUMPBOX) as pair:
        sims = {
            "nsx": SimProcess("nsx", pair.server, [(NSX, 443)], state_file, ca_dir, [NSX], tmp_path / "run"),
            "vcenter": SimProcess("vcenter", pair.server, [(VCENTER, 443)], state_file, ca_dir, [VCENTER],
                                  tmp_path / "run"),
            "kube": SimProcess("kube", pair.server, [(VM, 443), (VM, 6443)], state_file, ca_dir, [VIP, VM],
                               tmp_path / "run", name="sim-kube-cp-1"),
        }
        start_all(list(sims.values()))  # side by side, as the lab starts them
        try:
            yield Lab(pair, ca_file, state_file, state, sims)
        finally:
            stop_all(list(sims.values()))
        assert netns_pids(pair.server) == []


def test_each_simulator_answers_over_tls_verified_with_the_persisted_ca(lab: Lab) -> None:
    assert stat_mode(lab.state_file) == 0o600
    assert stat_mode(lab.ca_file.with_name("lab-ca.key")) == 0o600
    got = lab.ask(login=lab.nsx("nsx_login"), vc=lab.vc(), kube443=lab.kube(443), kube6443=lab.kube(6443),
                  vip_name={"kind": "tls", "host": VM, "port": 6443, "name": VIP},
                  other_name={"kind": "tls", "host": VM, "port": 443, "name": "kubernetes.example"})
    assert got["login"][0] == 200
    assert got["vc"] == [200, ["domain-c8"]]
    assert got["kube443"] == [200, len(lab.state.model.services)]
    assert got["kube6443"] == [200, len(lab.state.model.services)]
    assert got["vip_name"] == "verified"  # the edge DNATs the VIP here: the certificate names it
    assert "certificate verify failed" in got["other_name"]
    _, cookie, xsrf = got["login"]
    got = lab.ask(vs=lab.nsx("nsx_vs", cookie=cookie, xsrf=xsrf))
    assert got["vs"] == [200, sorted(vs.id for vs in lab.state.model.virtual_servers)]
    for sim in lab.sims.values():
        assert "ready kind=" in sim.log()
        assert lab.state.nsx_password not in sim.log()
        assert all(lab.state.kube_token not in arg and lab.state.nsx_password not in arg for arg in sim.argv())


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_sighup_applies_a_changed_state_without_a_restart(lab: Lab) -> None:
    before = lab.ask(login=lab.nsx("nsx_login"))
    _, cookie, xsrf = before["login"]
    pids = {kind: sim.pid for kind, sim in lab.sims.items()}
    dropped = lab.state.model.drop_dlb_virtual_server("kube-system", "kube-dns", 53, "UDP")
    lab.state.faults["vcenter"] = [FaultSpec(503)]
    lab.state.cert_names["kube"] = ["wrong.example"]
    lab.state.save(lab.state_file)
    started = time.monotonic()
    for sim in lab.sims.values():
        sim.reload()
    reload_s = time.monotonic() - started
    assert {kind: sim.pid for kind, sim in lab.sims.items()} == pids
    got = lab.ask(vs=lab.nsx("nsx_vs", cookie=cookie, xsrf=xsrf), vc=lab.vc(),
                  vip_name={"kind": "tls", "host": VM, "port": 6443, "name": VIP},
                  wrong={"kind": "tls", "host": VM, "port": 443, "name": "wrong.example"})
    status, ids = got["vs"]
    assert status == 200  # the session from before the reload is still valid
    assert dropped.id not in ids
    assert ids == sorted(vs.id for vs in lab.state.model.virtual_servers)
    assert got["vc"] == [503, None]
    assert "certificate verify failed" in got["vip_name"]
    assert got["wrong"] == "verified"
    assert reload_s < 3, f"three reloads took {reload_s:.2f} s"

    lab.state.faults.clear()
    lab.state.cert_names.clear()
    lab.state.save(lab.state_file)
    for sim in lab.sims.values():
        sim.reload()
    got = lab.ask(vc=lab.vc(), vip_name={"kind": "tls", "host": VM, "port": 6443, "name": VIP})
    assert got == {"vc": [200, ["domain-c8"]], "vip_name": "verified"}


def test_a_broken_state_file_is_reported_and_the_old_state_kept(lab: Lab) -> None:
    lab.state_file.write_text('{"model": ')
    sim = lab.sims["vcenter"]
    with pytest.raises(ServiceError, match="kept its old state: JSONDecodeError"):
        sim.reload()
    assert sim.running
    assert lab.ask(vc=lab.vc())["vc"] == [200, ["domain-c8"]]


def test_sigterm_stops_each_simulator_within_two_seconds(lab: Lab) -> None:
    for kind, sim in lab.sims.items():
        process = sim._process
        assert process is not None
        pid = process.pid
        assert pid in netns_pids(lab.pair.server)
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        status = process.wait(timeout=5)
        elapsed = time.monotonic() - started
        assert status == 0, sim.log()
        assert elapsed < 2, f"{kind} took {elapsed:.2f} s to stop"
        assert f"stopping on signal {int(signal.SIGTERM)}" in sim.log()
        assert not os.path.exists(f"/proc/{pid}")
    assert netns_pids(lab.pair.server) == []


def test_a_simulator_that_cannot_bind_fails_with_its_log_and_is_reaped(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    LabCA().save(ca_dir)
    state_file = SimState(model=SupervisorModel.seed(), nsx_username="audit", nsx_password="canary-x",
                          vcenter_username="v", vcenter_password="canary-y", kube_token="t").save(tmp_path / "s.json")
    with ns_pair([NSX], JUMPBOX) as pair:
        sim = SimProcess("nsx", pair.server, [("192.168.10.99", 443)], state_file, ca_dir, [NSX], tmp_path,
                         start_timeout=5)
        started = time.monotonic()
        with pytest.raises(ServiceError, match="exited with status 1") as caught:
            sim.start()
        assert "Cannot assign requested address" in str(caught.value)
        assert time.monotonic() - started < 5
        assert not sim.running
        assert netns_pids(pair.server) == []


def test_sighup_reissues_a_certificate_with_the_days_left_the_state_asks(lab: Lab) -> None:
    nsx_cert = {"kind": "tls", "host": NSX, "port": 443, "name": NSX, "not_after": True}
    pid = lab.sims["nsx"].pid
    assert lab.ask(cert=nsx_cert)["cert"] - time.time() > 365 * 86400  # trustme's default: years
    lab.state.cert_days["nsx"] = 5.5
    lab.state.save(lab.state_file)
    lab.sims["nsx"].reload()
    left = (lab.ask(cert=nsx_cert)["cert"] - time.time()) / 86400
    assert 5.4 < left < 5.5  # notAfter has whole seconds
    assert lab.sims["nsx"].pid == pid
    assert "days_left=5.5" in lab.sims["nsx"].log()
    lab.state.cert_days.clear()
    lab.state.save(lab.state_file)
    lab.sims["nsx"].reload()
    assert lab.ask(cert=nsx_cert)["cert"] - time.time() > 365 * 86400
