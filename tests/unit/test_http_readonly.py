"""ReadOnlySession: GET only, the inventory CA only, bounded waits, readable errors, no secret anywhere."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sim.conftest import ApiLabCa, RunningNsx
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.http import (
    ALL_NON_GET,
    SESSION_ENDPOINTS,
    WCP_LOGIN,
    ApiError,
    ApiTimeout,
    ApiTlsError,
    ApiUnreachable,
    ReadOnlySession,
    WriteRefused,
    describe_error_body,
    mask_headers,
)
from wcp_acceptance.transport.nsx import NsxReader

VS = "/policy/api/v1/infra/lb-virtual-servers"


def nsx_session(sim: RunningNsx, *, auth: str = "basic", ca_file: Path | None = None,
                password: Secret | None = None, **kwargs: object) -> ReadOnlySession:
    return ReadOnlySession(sim.url, ca_file=ca_file or sim.ca_file, username=sim.username,
                           password=password or sim.password, auth=auth, api_name="NSX",  # type: ignore[arg-type]
                           **kwargs)  # type: ignore[arg-type]


class Listener:
    """A plain TCP listener on 127.0.0.1 that records whether anything connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.sock.getsockname()[1]}"

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


@pytest.fixture
def listener() -> Iterator[Listener]:
    probe = Listener()
    try:
        yield probe
    finally:
        probe.close()


# ---- read-only -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [
    lambda s: s.post("/policy/api/v1/infra/lb-virtual-servers/x"),
    lambda s: s.put("/policy/api/v1/infra/lb-virtual-servers/x"),
    lambda s: s.patch("/policy/api/v1/infra/lb-virtual-servers/x"),
    lambda s: s.delete("/policy/api/v1/infra/lb-virtual-servers/x"),
    lambda s: s.request("POST", "/api/session/create"),
    lambda s: s._http.post(s.base_url + "/policy/api/v1/infra/segments/x", timeout=1),  # under the public API
    lambda s: s._http.delete(s.base_url + "/api/session?x=1", timeout=1),
    lambda s: s._http.post(s.base_url + "/wcp/login", timeout=1),  # the login client's POST, never an API session's
], ids=["post", "put", "patch", "delete", "request POST", "raw requests POST", "raw DELETE with a query",
        "raw POST /wcp/login"])
def test_writes_are_refused_before_any_connection(listener: Listener, api_lab_ca: ApiLabCa,
                                                  attempt: Callable[[ReadOnlySession], object]) -> None:
    session = ReadOnlySession(listener.url, ca_file=api_lab_ca.ca_file, username="admin", password=Secret("x"),
                              auth="basic", api_name="NSX", timeout=1.0)
    with pytest.raises(WriteRefused):
        attempt(session)
    time.sleep(0.3)
    assert listener.connections == 0
    # control: a GET does reach the listener (which is not TLS, so it fails to observe)
    with pytest.raises(ObservationError):
        session.get_json("/api/v1/node/version")
    assert listener.connections >= 1


def test_only_get_reaches_the_simulator(nsx_sim: RunningNsx) -> None:
    reader = NsxReader([nsx_sim.url], nsx_sim.ca_file, nsx_sim.username, nsx_sim.password)
    reader.virtual_servers()
    reader.lb_pools()
    reader.close()
    sent = {(r.method, r.path) for r in nsx_sim.app.requests}
    assert {m for m, _ in sent} == {"GET", "POST"}
    assert {p for m, p in sent if m == "POST"} == {"/api/session/create", "/api/session/destroy"}


def test_every_request_but_a_get_the_suite_can_send_is_listed() -> None:
    """The read-only proof: these fixed (method, path) pairs are all a run may send besides GETs; /wcp/login only
    from the login client, and only when the inventory opts in (tests/unit/test_login.py)."""
    assert {(e.method, e.path) for e in ALL_NON_GET} == {
        ("POST", "/api/session/create"), ("POST", "/api/session/destroy"),  # NSX session login / logout
        ("POST", "/api/session"), ("DELETE", "/api/session"),  # vCenter session login / logout
        ("POST", "/wcp/login"),  # kubectl vsphere login (WCP-LOGIN-001), opt-in
    }
    assert WCP_LOGIN not in SESSION_ENDPOINTS  # the NSX and vCenter sessions refuse it


# ---- trust: the inventory CA wins over the environment -------------------------------------------------------


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_inventory_ca_wins_over_ca_environment_variables(nsx_sim: RunningNsx, api_lab_ca: ApiLabCa,
                                                         monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, str(api_lab_ca.other_ca_file))
    assert nsx_session(nsx_sim).get_json("/api/v1/node/version")["product_version"]
    monkeypatch.setenv(variable, str(api_lab_ca.ca_file))  # the environment trusts the lab; the inventory does not
    with pytest.raises(ApiTlsError) as error:
        nsx_session(nsx_sim, ca_file=api_lab_ca.other_ca_file).get_json("/api/v1/node/version")
    assert f"certificate not trusted by {api_lab_ca.other_ca_file}" in error.value.cause


def test_proxy_environment_is_ignored(nsx_sim: RunningNsx, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")  # discard port: a proxy would fail every call
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert nsx_session(nsx_sim).get_json("/api/v1/reverse-proxy/node/health") == {"healthy": True}


def test_certificate_for_another_name_is_a_hostname_mismatch(start_nsx_sim: Callable[..., RunningNsx]) -> None:
    sim = start_nsx_sim(names=("nsx.elsewhere.example",))
    with pytest.raises(ApiTlsError) as error:
        nsx_session(sim).get_json("/api/v1/node/version")
    assert "not valid for 127.0.0.1 (hostname mismatch)" in error.value.cause


# ---- retries: bounded ------------------------------------------------------------------------------------


def test_429_is_retried_with_retry_after_then_succeeds(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.fail(VS, 429, times=2, retry_after=0.2)
    session = nsx_session(nsx_sim)
    start = time.monotonic()
    body = session.get_json(VS)
    assert body["result_count"] == len(nsx_sim.app.model.virtual_servers)
    assert [r.status for r in nsx_sim.app.requests_to(VS)] == [429, 429, 200]
    assert time.monotonic() - start >= 0.4  # Retry-After was honoured


def test_503_stops_after_three_tries_with_a_readable_error(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.fail(VS, 503, times=None, error_code=60576, retry_after=30)
    session = nsx_session(nsx_sim, retry_after_cap=0.2)
    start = time.monotonic()
    with pytest.raises(ApiError) as error:
        session.get_json(VS)
    assert time.monotonic() - start < 2.0  # Retry-After 30 s was capped
    assert len(nsx_sim.app.requests_to(VS)) == 3
    assert error.value.status == 503
    assert error.value.error_code == 60576
    assert error.value.cause.startswith("NSX answered 503 SERVICE_UNAVAILABLE (error_code 60576): ")
    assert "after 3 tries" in error.value.cause


def test_retries_stop_when_the_time_budget_is_spent(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.fail(VS, 429, times=None, retry_after=1)
    session = nsx_session(nsx_sim, retry_after_cap=1.0, max_total=0.5)
    start = time.monotonic()
    with pytest.raises(ApiError):
        session.get_json(VS)
    assert time.monotonic() - start < 1.0
    assert len(nsx_sim.app.requests_to(VS)) == 1


# ---- readable errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "expected"), [
    (401, None, "NSX answered 401 UNAUTHORIZED (error_code 401): Not authenticated"),
    (500, None, "NSX answered 500 INTERNAL_SERVER_ERROR (error_code 500): Internal server error"),
    (500, "269", "NSX answered 500 INTERNAL_SERVER_ERROR (error_code 269): Internal server error"),
])
def test_error_statuses_become_readable_observation_errors(nsx_sim: RunningNsx, status: int, code: str | None,
                                                          expected: str) -> None:
    nsx_sim.app.fail(VS, status, times=None, error_code=code)
    with pytest.raises(ApiError) as error:
        nsx_session(nsx_sim).get_json(VS)
    assert isinstance(error.value, ObservationError)
    assert error.value.cause.startswith(expected)
    assert f"(GET {VS})" in error.value.cause
    assert str(error.value).startswith(f"NSX 127.0.0.1:{nsx_sim.server.port}: could not observe: NSX answered")
    assert len(nsx_sim.app.requests_to(VS)) == 1  # not retried


def test_bad_credentials_say_so(nsx_sim: RunningNsx) -> None:
    with pytest.raises(ApiError) as error:
        nsx_session(nsx_sim, auth="nsx-session", password=Secret("wrong")).get_json(VS)
    assert error.value.cause.startswith("NSX answered 403 FORBIDDEN (error_code 403): The credentials were incorrect")
    assert "POST /api/session/create as admin" in error.value.cause


def test_read_timeout_ends_within_the_timeout_and_says_it(nsx_sim: RunningNsx) -> None:
    nsx_sim.app.delay(3.0, VS)
    start = time.monotonic()
    with pytest.raises(ApiTimeout) as error:
        nsx_session(nsx_sim, timeout=(2.0, 0.5)).get_json(VS)
    assert time.monotonic() - start < 1.5
    assert "no answer within 0.5 s (read timeout)" in error.value.cause


def test_connection_refused_is_unreachable(api_lab_ca: ApiLabCa) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    session = ReadOnlySession(f"https://127.0.0.1:{port}", ca_file=api_lab_ca.ca_file, username="admin",
                              password=Secret("x"), auth="basic", api_name="NSX", timeout=1.0)
    with pytest.raises(ApiUnreachable) as error:
        session.get_json("/api/v1/node/version")
    assert "Connection refused" in error.value.cause
    assert "object at 0x" not in error.value.cause


def test_error_bodies_of_both_apis_are_described() -> None:
    nsx = ('{"httpStatus":"BAD_REQUEST","error_code":500012,"module_name":"Policy","error_message":"bad path",'
           '"related_errors":[{"error_message":"and this"}]}')
    assert describe_error_body("NSX", 400, nsx) == (
        "NSX answered 400 BAD_REQUEST (error_code 500012): bad path [related: and this]", 500012)
    vapi = '{"error_type":"UNAUTHENTICATED","messages":[{"default_message":"Authentication required."}]}'
    assert describe_error_body("vCenter", 401, vapi)[0] == (
        "vCenter answered 401 UNAUTHENTICATED: Authentication required.")
    assert describe_error_body("NSX", 502, "<html>Bad   gateway</html>")[0] == (
        "NSX answered 502 BAD_GATEWAY: <html>Bad gateway</html>")


# ---- secrets ---------------------------------------------------------------------------------------------------


def test_canary_password_and_session_tokens_never_leak(nsx_sim: RunningNsx, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    canary = nsx_sim.password_text
    basic = base64.b64encode(f"{nsx_sim.username}:{canary}".encode()).decode()
    texts: list[str] = []
    reader = NsxReader([nsx_sim.url], nsx_sim.ca_file, nsx_sim.username, nsx_sim.password, timeout=5)
    reader.virtual_servers()
    session_id, xsrf = next(iter(nsx_sim.app.sessions.items()))
    texts += [repr(reader), str(reader), repr(reader._sessions[0]), repr(vars(reader._sessions[0]))]
    nsx_sim.app.fail(VS, 500, times=1)
    with pytest.raises(ApiError) as failure:
        reader.virtual_servers()
    texts += [str(failure.value), repr(failure.value), *failure.value.evidence]
    reader.close()
    for auth in ("nsx-session", "basic"):  # a wrong password is a secret too
        with pytest.raises(ApiError) as refused:
            nsx_session(nsx_sim, auth=auth, password=Secret("wrong-" + canary)).get_json(VS)
        texts += [str(refused.value), repr(refused.value), refused.value.cause, *refused.value.evidence]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    blob = "\n".join(texts)
    assert "Authorization" in blob  # the masked header names are logged...
    for secret in (canary, basic, session_id, xsrf):
        assert secret not in blob  # ...their values never


def test_mask_headers_covers_every_credential_header() -> None:
    headers = {"Authorization": "Basic abc", "Cookie": "JSESSIONID=1", "X-XSRF-TOKEN": "t",
               "vmware-api-session-id": "s", "Accept": "application/json"}
    assert mask_headers(headers) == {"Authorization": "********", "Cookie": "********", "X-XSRF-TOKEN": "********",
                                     "vmware-api-session-id": "********", "Accept": "application/json"}


def test_a_password_must_be_a_secret(nsx_sim: RunningNsx) -> None:
    with pytest.raises(TypeError):
        ReadOnlySession(nsx_sim.url, ca_file=nsx_sim.ca_file, username="admin", password="plain",  # type: ignore[arg-type]
                        auth="basic", api_name="NSX")

