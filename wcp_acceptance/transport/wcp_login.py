"""``kubectl vsphere login`` over HTTPS, as the plugin does it (API-FACTS 4): the suite's one write beyond sessions.

:class:`WcpLoginClient` sends exactly two requests to the Supervisor's API VIP:

* ``POST https://<VIP>:443/wcp/login`` with ``Authorization: Basic``, ``Content-Type: application/json`` and
  the body ``{}``; the answer is ``{"session_id": "<JWT>"}``;
* ``GET https://<VIP>:6443/version`` with ``Authorization: Bearer <session_id>``.

The POST is allowed only when the inventory opts in (``login.enabled``): the client is built with
``opted_in`` and checks every request with :func:`~wcp_acceptance.transport.http.refuse_unless_allowed`
before a connection opens, so without it, or for any other path or method, nothing leaves. The token is
a :class:`~wcp_acceptance.secret.Secret` from the moment it is parsed: it is never returned as text,
logged, or put into a message (bodies shown as evidence are scrubbed of the password and the token).

TLS trusts the inventory's CA file only and is verified for ``api_vip.server_name`` (or the VIP), the
address being connected to directly (no DNS), as the VIP checks do. Each request gets its own
connection, bounded by the connect timeout (TCP and TLS) and the API timeout (the answer).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from wcp_acceptance.secret import MASK, Secret
from wcp_acceptance.transport.http import (
    WCP_LOGIN,
    ApiTimeout,
    ApiTlsError,
    ApiUnreachable,
    SessionEndpoint,
    refuse_unless_allowed,
)

LOGIN_PORT = 443  # the WCP authentication proxy on the VIP (kubectl vsphere login --server <VIP>)
API_PORT = 6443  # kube-apiserver on the VIP, where the kubeconfig the plugin writes points
MAX_BODY = 64 * 1024  # a login answer or /version is a few hundred bytes; never read more


@dataclass(frozen=True)
class HttpAnswer:
    """One answer: status, reason, content type and the first :data:`MAX_BODY` bytes of the body."""

    method: str
    port: int
    path: str
    status: int
    reason: str
    content_type: str
    body: bytes
    elapsed_s: float

    def __str__(self) -> str:
        return f"{self.method} :{self.port}{self.path} -> {self.status} {self.reason} ({self.elapsed_s:.2f} s)"


class _VerifiedConnection(http.client.HTTPSConnection):
    """HTTPS to ``host`` with TLS verified for ``server_name`` (SNI too), TCP_NODELAY, connect-bounded."""

    def __init__(self, host: str, port: int, *, server_name: str, tls: ssl.SSLContext, connect_timeout: float,
                 read_timeout: float) -> None:
        super().__init__(host, port, timeout=connect_timeout, context=tls)
        self._server_name = server_name
        self._tls = tls
        self._read_timeout = read_timeout

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self._server_name)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(self._read_timeout)


class WcpLoginClient:
    """The two requests of ``kubectl vsphere login`` against one API VIP, as ``username``."""

    def __init__(self, address: str, server_name: str, ca_file: Path, username: str, password: Secret, *,
                 connect_timeout: float, read_timeout: float, opted_in: bool, login_port: int = LOGIN_PORT,
                 api_port: int = API_PORT) -> None:
        if not isinstance(password, Secret):
            raise TypeError("password must be a wcp_acceptance.secret.Secret")
        self.address = address
        self.server_name = server_name
        self.ca_file = Path(ca_file)
        self.username = username
        self._password = password
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.login_port, self.api_port = login_port, api_port
        self.allowed: frozenset[SessionEndpoint] = frozenset({WCP_LOGIN}) if opted_in else frozenset()
        self.calls = 0
        self._tokens: list[Secret] = []  # every token seen, only to scrub it from what is shown

    def __repr__(self) -> str:
        state = "opted in" if self.allowed else "not opted in"
        return f"<WcpLoginClient {self.address} user={self.username} {state}>"

    def target(self, port: int) -> str:
        return f"WCP login {self.address}:{port}"

    # ---- the two requests ------------------------------------------------------------------------------
    def login(self) -> tuple[HttpAnswer, Secret | None, str]:
        """``POST /wcp/login``: the answer, the session token (None when there is none) and why there is none."""
        basic = base64.b64encode(f"{self.username}:{self._password.reveal()}".encode()).decode()
        answer = self._send(WCP_LOGIN.method, self.login_port, WCP_LOGIN.path,
                            {"Authorization": f"Basic {basic}", "Content-Type": "application/json"}, b"{}")
        if answer.status != 200:
            return answer, None, ""
        try:
            body = json.loads(answer.body.decode("utf-8", errors="replace"))
        except ValueError:
            return answer, None, "the body is not JSON"
        token = body.get("session_id") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            return answer, None, "the JSON has no session_id"
        secret = Secret(token, "wcp-login")
        self._tokens.append(secret)
        return answer, secret, ""

    def version(self, token: Secret) -> HttpAnswer:
        """``GET /version`` on the API port with the token as Bearer."""
        return self._send("GET", self.api_port, "/version", {"Authorization": f"Bearer {token.reveal()}"}, None)

    def scrub(self, text: str) -> str:
        """``text`` without the password, its Basic form or any token this client saw."""
        basic = base64.b64encode(f"{self.username}:{self._password.reveal()}".encode()).decode()
        for value in (self._password.reveal(), basic, *(t.reveal() for t in self._tokens)):
            if value and len(value) >= 4:
                text = text.replace(value, MASK)
        return text

    # ---- sending -----------------------------------------------------------------------------------------
    def _send(self, method: str, port: int, path: str, headers: dict[str, str], body: bytes | None) -> HttpAnswer:
        refuse_unless_allowed(method, path, "", self.allowed)  # before any connection
        try:
            tls = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ApiTlsError(self.target(port), f"cannot load the CA file {self.ca_file}: {exc}") from None
        host = self.server_name if ":" not in self.server_name else f"[{self.server_name}]"
        connection = _VerifiedConnection(self.address, port, server_name=self.server_name, tls=tls,
                                         connect_timeout=self.connect_timeout, read_timeout=self.read_timeout)
        start = time.monotonic()
        self.calls += 1
        where = f"{method} {path} on {self.address}:{port}"
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in {"Host": f"{host}:{port}", "Accept": "application/json",
                                "User-Agent": "wcp-acceptance", **headers,
                                **({"Content-Length": str(len(body))} if body is not None else {})}.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read(MAX_BODY)
            return HttpAnswer(method, port, path, response.status, response.reason,
                              response.getheader("Content-Type", "") or "", data, time.monotonic() - start)
        except ssl.SSLCertVerificationError as exc:
            raise ApiTlsError(self.target(port), f"certificate not trusted by {self.ca_file} for {self.server_name}: "
                                                 f"{exc.verify_message or exc} ({where})") from None
        except ssl.SSLError as exc:
            raise ApiTlsError(self.target(port), f"TLS handshake failed (CA file {self.ca_file}): {exc} "
                                                 f"({where})") from None
        except TimeoutError:
            elapsed = time.monotonic() - start
            if connection.sock is None:
                raise ApiUnreachable(self.target(port), f"could not connect within {self.connect_timeout:g} s "
                                                        f"(connect timeout) for {where}") from None
            raise ApiTimeout(self.target(port), f"no answer within {self.read_timeout:g} s (API timeout) to {where} "
                                                f"(after {elapsed:.1f} s)") from None
        except (OSError, http.client.HTTPException) as exc:
            reason = self.scrub(str(exc)) or type(exc).__name__
            raise ApiUnreachable(self.target(port), f"no answer to {where}: {reason}") from None
        finally:
            connection.close()
