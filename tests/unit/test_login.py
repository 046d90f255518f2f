"""WCP-LOGIN-001: the check's messages, the probe against the lab's kube-apiserver simulator with its /wcp/login,
the opt-in in the inventory, and that the POST leaves only when opted in."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lab.model import SupervisorModel
from lab.sim.kube import KubeApiHandler, KubeApiSim
from lab.sim.server import SimServer
from lab.sim.wcp import WcpLogin
from lab.tls import LabCA
from wcp_acceptance.checks.login import check_login
from wcp_acceptance.finding import CheckFailed, ObservationError, expect
from wcp_acceptance.inventory.model import LoginSpec
from wcp_acceptance.probes.login import LoginObservation, observe_login, token_kind
from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.http import WriteRefused
from wcp_acceptance.transport.wcp_login import WcpLoginClient

USER = "devops@vsphere.local"
PASSWORD = "login-canary-" + "7" * 12
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
OK = LoginObservation(USER, "172.16.1.2", "172.16.1.2", NOW, 200, "OK", 0.04, token_kind="jwt", version_status=200,
                      version_reason="OK", version_elapsed_s=0.01, git_version="v1.30.1+vmware.1")


# ---- the check's messages -------------------------------------------------------------------------------------


def test_a_login_whose_token_kube_apiserver_accepts_passes() -> None:
    finding = expect(check_login(OK, "supervisor-1"))
    assert finding.target == "supervisor-1"
    assert finding.expected == ("POST https://172.16.1.2:443/wcp/login as devops@vsphere.local answers 200 with a "
                                "session_id, and GET https://172.16.1.2:6443/version with it as Bearer token answers "
                                "as kube-apiserver")
    assert finding.observed == ("POST /wcp/login as devops@vsphere.local answered 200 OK in 0.04 s with a JWT "
                                "session_id; GET /version with it answered 200 (v1.30.1+vmware.1) in 0.01 s")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_login_fails_naming_the_user_and_the_likely_causes(status: int) -> None:
    obs = LoginObservation(USER, "172.16.1.2", "172.16.1.2", NOW, status, "Unauthorized", 0.02,
                           login_body_head='{"message":"Unauthorized"}')
    finding = check_login(obs, "supervisor-1")
    assert not finding.ok
    assert finding.observed == f"POST /wcp/login as devops@vsphere.local answered {status} Unauthorized in 0.02 s"
    assert finding.cause.startswith("vCenter SSO refused devops@vsphere.local: the user holds no role")
    assert "without its SSO domain or in another one" in finding.cause
    assert "the token and the password are never shown" in finding.evidence
    with pytest.raises(CheckFailed, match="SSO refused devops@vsphere.local"):
        expect(finding)


def test_no_login_endpoint_fails_as_not_a_supervisor_vip() -> None:
    finding = check_login(replace(OK, login_status=404, login_reason="Not Found", token_kind=None,
                                  version_status=None), "s")
    assert "not the Supervisor's API VIP" in finding.cause


def test_a_token_kube_apiserver_refuses_fails_blaming_the_clock_or_the_signer() -> None:
    finding = check_login(replace(OK, version_status=401, version_reason="Unauthorized", git_version=None), "s")
    assert "GET /version with it answered 401 Unauthorized: kube-apiserver does not accept the token" in \
        finding.observed
    assert "clock skew" in finding.cause


def test_an_opaque_token_is_named_so() -> None:
    assert "an opaque (not JWT-shaped) session_id" in expect(check_login(replace(OK, token_kind="opaque"),
                                                                         "s")).observed
    assert token_kind(Secret("eyJhbGciOiJIUzI1NiJ9.e30.c2ln")) == "jwt"
    assert token_kind(Secret("not-a-jwt")) == "opaque"
    assert token_kind(Secret("a.b.c")) == "opaque"


# ---- the inventory: opt-in, user and password needed once enabled -----------------------------------------


def test_login_is_off_unless_the_inventory_opts_in() -> None:
    assert LoginSpec().enabled is False
    with pytest.raises(ValueError, match="login.enabled needs the SSO user"):
        LoginSpec(enabled=True, password=Secret("x"))
    with pytest.raises(ValueError, match="login.enabled needs the user's password"):
        LoginSpec(enabled=True, user=USER)
    with pytest.raises(ValueError, match="valid boolean"):
        LoginSpec.model_validate({"enabled": "yes"})


# ---- the probe against the simulator ------------------------------------------------------------------------


@dataclass
class LoginSim:
    sim: KubeApiSim
    wcp: WcpLogin
    login: SimServer
    api: SimServer
    ca_file: Path

    def client(self, password: str = PASSWORD, *, opted_in: bool = True, **kwargs: float) -> WcpLoginClient:
        return WcpLoginClient("127.0.0.1", "127.0.0.1", self.ca_file, USER, Secret(password), opted_in=opted_in,
                              connect_timeout=kwargs.get("connect", 2.0), read_timeout=kwargs.get("read", 2.0),
                              login_port=self.login.port, api_port=self.api.port)


@pytest.fixture
def login_sim(tmp_path: Path) -> Iterator[LoginSim]:
    ca = LabCA()
    ca_file = ca.write_ca(tmp_path / "ca.pem")
    sim = KubeApiSim(SupervisorModel.seed(), "token-" + "k" * 16)
    tls = ca.server_context("127.0.0.1", via=ca.intermediate())
    login, api = SimServer(KubeApiHandler, sim, tls).start(), SimServer(KubeApiHandler, sim, tls).start()
    wcp = WcpLogin(USER, PASSWORD, "jwtkey-" + "9" * 12, login_ports=frozenset({login.port}))
    sim.wcp = wcp
    try:
        yield LoginSim(sim, wcp, login, api, ca_file)
    finally:
        login.stop()
        api.stop()


def test_the_probe_logs_in_and_the_token_is_accepted(login_sim: LoginSim) -> None:
    client = login_sim.client()
    obs = observe_login(client)
    assert (obs.login_status, obs.token_kind, obs.version_status, obs.git_version) == (200, "jwt", 200,
                                                                                       "v1.30.1+vmware.1")
    assert client.calls == 2
    sent = [(r.method, r.path, r.auth) for r in login_sim.sim.requests]
    assert sent == [("POST", "/wcp/login", "invalid"), ("GET", "/version", "bearer")]  # Basic is not a kube auth
    assert login_sim.wcp.logins == [(USER, 200)]
    assert expect(check_login(obs, "s")).ok


def test_a_wrong_password_is_a_failure_not_an_error(login_sim: LoginSim) -> None:
    obs = observe_login(login_sim.client("wrong-" + PASSWORD))
    assert (obs.login_status, obs.version_status) == (401, None)
    finding = check_login(obs, "s")
    assert "SSO refused devops@vsphere.local" in finding.cause
    assert PASSWORD not in finding.message()


def test_the_login_endpoint_is_not_served_on_the_api_port(login_sim: LoginSim) -> None:
    client = WcpLoginClient("127.0.0.1", "127.0.0.1", login_sim.ca_file, USER, Secret(PASSWORD), opted_in=True,
                            connect_timeout=2.0, read_timeout=2.0, login_port=login_sim.api.port,
                            api_port=login_sim.api.port)
    assert observe_login(client).login_status == 404


def test_a_token_signed_by_another_key_is_refused_by_kube_apiserver(login_sim: LoginSim) -> None:
    stranger = WcpLogin(USER, PASSWORD, "another-key-" + "1" * 10)
    assert not login_sim.wcp.accepts(stranger.token(USER))
    assert login_sim.wcp.accepts(login_sim.wcp.token(USER))
    assert not login_sim.wcp.accepts(login_sim.wcp.token(USER, now=time.time() - 7200))  # run out


def test_a_500_is_an_error_naming_the_api(login_sim: LoginSim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(login_sim.wcp, "answer", lambda *a: (500, {"Content-Type": "text/plain"}, b"boom"))
    with pytest.raises(ObservationError) as caught:
        observe_login(login_sim.client())
    assert caught.value.cause.startswith("the WCP login API answered 500 Internal Server Error to POST /wcp/login")
    assert caught.value.target == f"WCP login 127.0.0.1:{login_sim.login.port}"


def test_a_200_without_a_session_id_is_an_error_not_a_pass(login_sim: LoginSim,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(login_sim.wcp, "answer", lambda *a: (200, {"Content-Type": "application/json"}, b"{}"))
    with pytest.raises(ObservationError, match="half-answered"):
        observe_login(login_sim.client())


def test_a_certificate_from_another_ca_is_an_error(login_sim: LoginSim, tmp_path: Path) -> None:
    other = LabCA().write_ca(tmp_path / "other.pem")
    client = replace_ca(login_sim.client(), other)
    with pytest.raises(ObservationError, match="certificate not trusted by"):
        observe_login(client)


def replace_ca(client: WcpLoginClient, ca_file: Path) -> WcpLoginClient:
    client.ca_file = ca_file
    return client


def test_a_refused_port_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ca_file = LabCA().write_ca(tmp_path / "ca.pem")
    client = WcpLoginClient("127.0.0.1", "127.0.0.1", ca_file, USER, Secret(PASSWORD), opted_in=True,
                            connect_timeout=1.0, read_timeout=1.0, login_port=port, api_port=port)
    with pytest.raises(ObservationError, match="refused"):
        observe_login(client)


def test_a_silent_vip_is_an_error_within_the_timeouts(tmp_path: Path) -> None:
    ca_file = LabCA().write_ca(tmp_path / "ca.pem")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = WcpLoginClient("127.0.0.1", "127.0.0.1", ca_file, USER, Secret(PASSWORD), opted_in=True,
                                connect_timeout=0.5, read_timeout=0.5, login_port=port, api_port=port)
        start = time.monotonic()
        with pytest.raises(ObservationError):
            observe_login(client)
        assert time.monotonic() - start < 2.0


# ---- read-only: the POST leaves only when opted in, and only to /wcp/login ------------------------------------


class _Listener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.1)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_without_the_opt_in_the_login_post_never_leaves(tmp_path: Path) -> None:
    listener = _Listener()
    try:
        port = listener.sock.getsockname()[1]
        client = WcpLoginClient("127.0.0.1", "127.0.0.1", LabCA().write_ca(tmp_path / "ca.pem"), USER,
                                Secret(PASSWORD), opted_in=False, connect_timeout=1.0, read_timeout=1.0,
                                login_port=port, api_port=port)
        with pytest.raises(WriteRefused, match="refused POST /wcp/login"):
            client.login()
        opted = WcpLoginClient("127.0.0.1", "127.0.0.1", tmp_path / "ca.pem", USER, Secret(PASSWORD),
                               opted_in=True, connect_timeout=1.0, read_timeout=1.0, login_port=port, api_port=port)
        for method, path in (("POST", "/wcp/logout"), ("PUT", "/wcp/login"), ("DELETE", "/version")):
            with pytest.raises(WriteRefused):
                opted._send(method, port, path, {}, b"{}")
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()


def test_the_token_and_the_password_never_reach_a_message_or_log(login_sim: LoginSim,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = login_sim.client()
    obs = observe_login(client)
    texts = [repr(obs), str(obs), repr(vars(obs)), repr(client), str(client), repr(vars(client)),
             check_login(obs, "s").message() if not check_login(obs, "s").ok else check_login(obs, "s").observed]
    login_sim.sim.wcp = WcpLogin(USER, "rotated", login_sim.wcp.key, login_ports=frozenset({login_sim.login.port}))
    refused = check_login(observe_login(login_sim.client()), "s")
    texts += [refused.message(), *refused.evidence]
    texts += [record.getMessage() for record in caplog.records]
    (token,) = login_sim.wcp.issued
    blob = "\n".join(texts)
    assert USER in blob
    for secret in (PASSWORD, token, token.split(".")[2]):
        assert secret not in blob
    assert client.scrub(f"echo {token} {PASSWORD}") == "echo ******** ********"


# ---- the lab's side: the simulator's login endpoints and their state ----------------------------------------


def test_the_simulator_serves_the_banner_and_only_post_on_the_login_port() -> None:
    wcp = WcpLogin(USER, PASSWORD, "jwtkey-" + "3" * 12)
    assert wcp.answer("GET", "/wcp/loginbanner", {}, 443)[0] == 200
    assert wcp.answer("GET", "/wcp/login", {}, 443)[0] == 405
    assert wcp.answer("POST", "/wcp/login", {}, 6443)[0] == 404  # 6443 is kube-apiserver's
    assert wcp.answer("POST", "/wcp/login", {"authorization": "Bearer x"}, 443)[0] == 401
    assert wcp.logins == [("", 401)]


def test_the_login_state_survives_the_state_file_round_trip() -> None:
    from lab.sim.serve import SimState

    state = SimState(SupervisorModel.seed(), "audit", "n", "v@vsphere.local", "v", "t", login_username=USER,
                     login_password=PASSWORD, login_key="k" * 16, cert_intermediate_days={"kube": 5.5})
    again = SimState.from_dict(state.to_dict())
    assert (again.login_username, again.login_password, again.login_key) == (USER, PASSWORD, "k" * 16)
    assert again.cert_intermediate_days == {"kube": 5.5}
    assert PASSWORD not in repr(again)
