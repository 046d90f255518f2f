"""Read-only HTTPS for the NSX and vCenter readers.

:class:`ReadOnlySession` can only ``get_json``. The session login and logout of each API are the
only other requests it can send; they are fixed (method, path) pairs chosen by the auth mode, never
a caller's path. A second guard sits in the transport adapter: any request that is not a GET and
not one of those fixed pairs raises :class:`WriteRefused` before a connection is opened.

TLS trusts exactly the inventory's CA file: ``trust_env`` is off, so ``REQUESTS_CA_BUNDLE``,
``CURL_CA_BUNDLE`` and proxy variables of the runner cannot override it. Every wait is bounded:
(connect, read) timeouts per request, at most ``tries`` attempts on 429/503 with backoff
(``Retry-After`` honoured up to a cap), and an overall time budget.

An API that cannot be connected to (connect timeout, refused, no route, name not resolved) is
remembered as down for the life of the session, which is one run: every later call raises at once,
saying when it did not answer and that it is not asked again. An answer that breaks off
mid-transfer (a chunked body cut short, a reset while reading) raises :class:`ApiBrokenAnswer`
naming the API, the request and the exception; no exception of the HTTP stack escapes raw.

Failures raise subclasses of :class:`~wcp_acceptance.finding.ObservationError` with a readable
cause; passwords, session ids and tokens never appear in messages, reprs or log records.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.secret import MASK, Secret

log = logging.getLogger(__name__)

AuthMode = Literal["basic", "nsx-session", "vcenter-session"]
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-xsrf-token", "vmware-api-session-id"})
SENSITIVE_FORM_FIELDS = frozenset({"j_password"})
RETRY_STATUSES = frozenset({429, 503})
EVIDENCE_CHARS = 2000


class WriteRefused(RuntimeError):
    """A reader tried to send something other than a GET (or its fixed session login/logout)."""


class HttpObservationError(ObservationError):
    """An HTTP API could not be observed; ``status``/``error_code`` are set when the API answered."""

    def __init__(self, target: str, cause: str, evidence: Iterable[str] = (), *, status: int | None = None,
                 error_code: int | str | None = None) -> None:
        super().__init__(target, cause, evidence)
        self.status = status
        self.error_code = error_code


class ApiError(HttpObservationError):
    """The API answered with an error status (or a body that is not what the API promises)."""


class ApiTimeout(HttpObservationError):
    """No answer within the read timeout."""


class ApiUnreachable(HttpObservationError):
    """No connection: refused, reset, no route, or not connected within the connect timeout."""


class ApiBrokenAnswer(ApiError):
    """The API began to answer but the answer broke off (cut body, reset, malformed chunking)."""


class ApiTlsError(HttpObservationError):
    """The server's certificate is not trusted by the CA file, or is not valid for the host."""


@dataclass(frozen=True)
class SessionEndpoint:
    """A session login or logout request: a fixed method and path, not chosen by callers."""

    method: str
    path: str


NSX_LOGIN = SessionEndpoint("POST", "/api/session/create")
NSX_LOGOUT = SessionEndpoint("POST", "/api/session/destroy")
VCENTER_LOGIN = SessionEndpoint("POST", "/api/session")
VCENTER_LOGOUT = SessionEndpoint("DELETE", "/api/session")
SESSION_ENDPOINTS = frozenset({NSX_LOGIN, NSX_LOGOUT, VCENTER_LOGIN, VCENTER_LOGOUT})
# kubectl vsphere login's own request (API-FACTS 4): sent only by the login transport, and only when the
# inventory opts in (login.enabled); the NSX and vCenter sessions refuse it like any other write
WCP_LOGIN = SessionEndpoint("POST", "/wcp/login")
# every request other than a GET the suite can ever send, whoever sends it (the read-only proof lists these)
ALL_NON_GET = frozenset({*SESSION_ENDPOINTS, WCP_LOGIN})


def refuse_unless_allowed(method: str, path: str, query: str, allowed: frozenset[SessionEndpoint]) -> None:
    """Raise :class:`WriteRefused` unless this is a GET, or exactly one of ``allowed`` (no query string)."""
    method = method.upper()
    if method != "GET" and (SessionEndpoint(method, path) not in allowed or query):
        raise WriteRefused(f"read-only transport refused {method} {path}: only GET (and the API's session "
                           "login/logout) may be sent")


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log record: credentials and session ids replaced by the mask."""
    return {k: (MASK if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}


def mask_form(form: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k in SENSITIVE_FORM_FIELDS else v) for k, v in form.items()}


class _ReadOnlyAdapter(HTTPAdapter):
    """The last line: refuse anything but GET and the fixed session endpoints, before connecting."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        refuse_unless_allowed(request.method or "", parts.path, parts.query, SESSION_ENDPOINTS)
        return super().send(request, *args, **kwargs)


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    params: Mapping[str, str]
    status: int | None
    elapsed_s: float

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} ({self.elapsed_s:.2f} s)"


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:
        return "HTTP_ERROR"


def describe_error_body(api_name: str, status: int, text: str) -> tuple[str, int | str | None]:
    """``"NSX answered 403 FORBIDDEN (error_code 403): ..."`` from an NSX, vAPI or plain error body."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and ("error_code" in body or "httpStatus" in body or "error_message" in body):
        phrase = str(body.get("httpStatus") or _status_phrase(status))
        code = body.get("error_code")
        code_part = f" (error_code {code})" if code is not None else ""
        message = str(body.get("error_message") or "").strip()
        related = [str(r.get("error_message")) for r in body.get("related_errors") or []
                   if isinstance(r, dict) and r.get("error_message")]
        if related:
            message += " [related: " + "; ".join(related) + "]"
        return f"{api_name} answered {status} {phrase}{code_part}: {message or '(no message)'}", code
    if isinstance(body, dict) and "error_type" in body:
        messages = [str(m.get("default_message")) for m in body.get("messages") or []
                    if isinstance(m, dict) and m.get("default_message")]
        return f"{api_name} answered {status} {body['error_type']}: {' '.join(messages) or '(no message)'}", None
    snippet = " ".join(text.split())[:200]
    return f"{api_name} answered {status} {_status_phrase(status)}: {snippet or '(empty body)'}", None


class ReadOnlySession:
    """GET-only JSON over HTTPS to one API endpoint (``base_url`` like ``https://nsx.corp.local``).

    ``auth`` picks how credentials travel: ``basic`` on every request, ``nsx-session``
    (``POST /api/session/create``, then ``JSESSIONID`` + ``X-XSRF-TOKEN``) or ``vcenter-session``
    (``POST /api/session``, then ``vmware-api-session-id``). Sessions log in on first use and once
    more if the API answers 401 (an expired session).
    """

    def __init__(self, base_url: str, *, ca_file: Path | str, username: str, password: Secret, auth: AuthMode,
                 api_name: str, timeout: float | tuple[float, float] = 10.0, tries: int = 3,
                 retry_after_cap: float = 5.0, backoff: float = 0.5, max_total: float | None = None) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an https:// URL")
        if not isinstance(password, Secret):
            raise TypeError("password must be a wcp_acceptance.secret.Secret")
        self.base_url = f"https://{parts.netloc}"
        self.api_name = api_name
        self.target = f"{api_name} {parts.netloc}"
        self.ca_file = Path(ca_file)
        self.username = username
        self._password = password
        self.auth: AuthMode = auth
        connect, read = (timeout, timeout) if isinstance(timeout, int | float) else timeout
        self.timeout = (float(connect), float(read))
        self.tries = max(1, int(tries))
        self.retry_after_cap = float(retry_after_cap)
        self.backoff = float(backoff)
        self.max_total = float(max_total) if max_total is not None else (
            self.tries * (connect + read) + (self.tries - 1) * self.retry_after_cap)
        self.calls = 0
        self.log: deque[RequestLogEntry] = deque(maxlen=10_000)
        self._session_headers: dict[str, Secret] = {}
        self.down: str | None = None  # why the API is not asked again this run (set on a failed connect)
        self._http = requests.Session()
        self._http.trust_env = False  # the inventory CA wins over REQUESTS_CA_BUNDLE & co; no proxies
        self._http.verify = str(self.ca_file)
        adapter = _ReadOnlyAdapter(max_retries=0)
        self._http.mount("https://", adapter)
        self._http.mount("http://", adapter)

    def __repr__(self) -> str:
        state = "logged in" if self._session_headers else "no session"
        return f"<ReadOnlySession {self.target} user={self.username} auth={self.auth} {state}>"

    # ---- the only public ways to talk ------------------------------------------------------------
    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET ``path`` (absolute, e.g. ``/policy/api/v1/infra/tier-1s``) and return its JSON body."""
        if not path.startswith("/") or "://" in path:
            raise ValueError(f"{path!r}: give an absolute path on {self.base_url}")
        query = {k: str(v) for k, v in (params or {}).items()}
        if self.auth != "basic" and not self._session_headers:
            self._login()
        response = self._send("GET", path, query)
        if response.status_code == 401 and self.auth != "basic":
            log.info("%s: session no longer valid (401), logging in again", self.target)
            self._session_headers = {}
            self._login()
            response = self._send("GET", path, query)
        if response.status_code >= 400:
            self._raise_for(response, "GET", path)
        try:
            return response.json()
        except ValueError:
            snippet = self._scrub(" ".join(response.text.split())[:200])
            raise ApiError(self.target, f"GET {path} answered {response.status_code} but the body is not JSON: "
                                        f"{snippet!r}", status=response.status_code) from None

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> NoReturn:
        """Only GET exists here; this raises for every method so a mistaken call cannot write."""
        raise WriteRefused(f"read-only transport refused {method.upper()} {path}: use get_json()")

    def post(self, path: str, *args: Any, **kwargs: Any) -> NoReturn:
        self.request("POST", path)

    def put(self, path: str, *args: Any, **kwargs: Any) -> NoReturn:
        self.request("PUT", path)

    def patch(self, path: str, *args: Any, **kwargs: Any) -> NoReturn:
        self.request("PATCH", path)

    def delete(self, path: str, *args: Any, **kwargs: Any) -> NoReturn:
        self.request("DELETE", path)

    def close(self) -> None:
        """Log out (if a session exists) and release connections. Errors are logged, not raised."""
        try:
            self._logout()
        finally:
            self._http.close()

    def __enter__(self) -> ReadOnlySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- session login / logout: fixed endpoints per API -----------------------------------------
    def _basic_header(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.username}:{self._password.reveal()}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _login(self) -> None:
        if self.auth == "nsx-session":
            form = {"j_username": self.username, "j_password": self._password.reveal()}
            response = self._send(NSX_LOGIN.method, NSX_LOGIN.path, {}, form=form)
            if response.status_code not in (200, 201):
                self._raise_for(response, NSX_LOGIN.method, NSX_LOGIN.path, login=True)
            session_id = response.cookies.get("JSESSIONID")
            xsrf = response.headers.get("x-xsrf-token")
            self._http.cookies.clear()  # the cookie travels in our own header only
            if not session_id or not xsrf:
                raise ApiError(self.target, f"session login as {self.username} answered {response.status_code} "
                                            "without a JSESSIONID cookie and x-xsrf-token header",
                               status=response.status_code)
            self._session_headers = {"Cookie": Secret(f"JSESSIONID={session_id}", "nsx-session"),
                                     "X-XSRF-TOKEN": Secret(xsrf, "nsx-session")}
        elif self.auth == "vcenter-session":
            response = self._send(VCENTER_LOGIN.method, VCENTER_LOGIN.path, {}, basic=True)
            if response.status_code not in (200, 201):
                self._raise_for(response, VCENTER_LOGIN.method, VCENTER_LOGIN.path, login=True)
            try:
                session_id = response.json()
            except ValueError:
                session_id = None
            if isinstance(session_id, dict):  # legacy /rest shape {"value": "<id>"}
                session_id = session_id.get("value")
            if not isinstance(session_id, str) or not session_id:
                raise ApiError(self.target, f"session login as {self.username} answered {response.status_code} "
                                            "without a session id", status=response.status_code)
            self._session_headers = {"vmware-api-session-id": Secret(session_id, "vcenter-session")}
        log.debug("%s: logged in as %s (%s)", self.target, self.username, self.auth)

    def _logout(self) -> None:
        if not self._session_headers:
            return
        endpoint = NSX_LOGOUT if self.auth == "nsx-session" else VCENTER_LOGOUT
        try:
            response = self._send(endpoint.method, endpoint.path, {}, retry=False)
            log.debug("%s: logout answered %s", self.target, response.status_code)
        except (HttpObservationError, requests.RequestException) as exc:
            log.info("%s: logout failed: %s", self.target, self._scrub(str(exc)))
        finally:
            self._session_headers = {}

    # ---- sending -----------------------------------------------------------------------------------
    def _headers(self, basic: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if basic or self.auth == "basic":
            headers.update(self._basic_header())
        headers.update({k: v.reveal() for k, v in self._session_headers.items()})
        return headers

    def _secrets(self) -> list[str]:
        values = [self._password.reveal(), self._basic_header()["Authorization"][6:]]
        for value in self._session_headers.values():
            values.append(value.reveal())
            values.append(value.reveal().partition("=")[2])
        return [v for v in values if v and len(v) >= 4]

    def _scrub(self, text: str) -> str:
        for value in self._secrets():
            text = text.replace(value, MASK)
        return text

    def _send(self, method: str, path: str, params: Mapping[str, str], *, form: Mapping[str, str] | None = None,
              basic: bool = False, retry: bool = True) -> requests.Response:
        url = self.base_url + path
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            headers = self._headers(basic)
            began = time.monotonic()
            if self.down is not None:
                raise ApiUnreachable(self.target, f"{self.down}; not asked again this run ({method} {path})")
            self.calls += 1
            try:
                response = self._http.request(method, url, params=dict(params) or None, data=form, headers=headers,
                                              timeout=self.timeout, verify=str(self.ca_file), allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                self._record(method, path, params, None, began)
                raise self._tls_error(exc, method, path) from None
            except requests.exceptions.ConnectTimeout:
                self._record(method, path, params, None, began)
                self._mark_down(f"connect timeout {self.timeout[0]:g} s")
                raise ApiUnreachable(self.target, f"could not connect within {self.timeout[0]:g} s (connect timeout)"
                                                  f" for {method} {path}") from None
            except requests.exceptions.ReadTimeout:
                self._record(method, path, params, None, began)
                raise ApiTimeout(self.target, f"no answer within {self.timeout[1]:g} s (read timeout) to {method} "
                                              f"{path}") from None
            except requests.exceptions.ConnectionError as exc:
                self._record(method, path, params, None, began)
                reason = self._scrub(self._root_reason(exc))
                if not _failed_to_connect(exc):
                    raise self._broken(exc, method, path) from None
                self._mark_down(reason)
                raise ApiUnreachable(self.target, f"cannot connect for {method} {path}: {reason}") from None
            except (requests.RequestException, http.client.HTTPException, urllib3.exceptions.HTTPError,
                    OSError) as exc:
                self._record(method, path, params, None, began)
                raise self._broken(exc, method, path) from None
            self._record(method, path, params, response.status_code, began, headers, form)
            if not retry or response.status_code not in RETRY_STATUSES or attempt >= self.tries:
                response.attempts = attempt  # type: ignore[attr-defined]
                return response
            wait = self._retry_wait(response, attempt)
            if time.monotonic() - start + wait > self.max_total:
                response.attempts = attempt  # type: ignore[attr-defined]
                return response
            log.info("%s: %s %s answered %s; retry %d/%d in %.1f s", self.target, method, path,
                     response.status_code, attempt + 1, self.tries, wait)
            time.sleep(wait)

    def _retry_wait(self, response: requests.Response, attempt: int) -> float:
        retry_after = response.headers.get("Retry-After", "")
        try:
            wait = float(retry_after)
        except ValueError:
            wait = self.backoff * (2 ** (attempt - 1))
        return max(0.0, min(wait, self.retry_after_cap))

    def _record(self, method: str, path: str, params: Mapping[str, str], status: int | None, began: float,
                headers: Mapping[str, str] | None = None, form: Mapping[str, str] | None = None) -> None:
        elapsed = time.monotonic() - began
        self.log.append(RequestLogEntry(method, path, dict(params), status, elapsed))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s%s params=%s form=%s headers=%s -> %s in %.2f s", method, self.base_url, path,
                      dict(params), mask_form(form or {}), mask_headers(headers or {}), status, elapsed)

    # ---- errors --------------------------------------------------------------------------------------
    def _mark_down(self, why: str) -> None:
        when = datetime.now(UTC).strftime("%H:%M:%S UTC")
        self.down = f"the {self.api_name} API at {self.base_url} did not answer at {when} ({why})"
        log.info("%s: %s; not asked again this run", self.target, self.down)

    def _broken(self, exc: BaseException, method: str, path: str) -> ApiBrokenAnswer:
        reason = self._scrub(self._root_reason(exc))
        return ApiBrokenAnswer(self.target, f"the answer to {method} {path} broke off mid-transfer "
                                            f"({type(exc).__name__}: {reason})")

    @staticmethod
    def _root_reason(exc: BaseException) -> str:
        """The innermost readable reason of a requests/urllib3 exception chain (e.g. ``[Errno 111] ...``)."""
        reason, current = str(exc), exc
        for _ in range(10):
            inner = getattr(current, "reason", None)
            if not isinstance(inner, BaseException):
                inner = current.__cause__ or current.__context__
            if inner is None:
                break
            if str(inner):
                reason = str(inner)
            current = inner
        return re.sub(r"<[^>]* object at 0x[0-9a-f]+>:\s*", "", reason)[:300]

    def _tls_error(self, exc: requests.exceptions.SSLError, method: str, path: str) -> ApiTlsError:
        reason = self._root_reason(exc)
        host = urlsplit(self.base_url).hostname
        if "mismatch" in reason.lower() or "doesn't match" in reason or "not valid for" in reason:
            cause = f"certificate is not valid for {host} (hostname mismatch): {reason}"
        elif "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
            cause = f"certificate not trusted by {self.ca_file}: {reason}"
        else:
            cause = f"TLS handshake failed (CA file {self.ca_file}): {reason}"
        return ApiTlsError(self.target, f"{cause} ({method} {path})")

    def _raise_for(self, response: requests.Response, method: str, path: str, *, login: bool = False) -> NoReturn:
        text = response.text[:20_000]
        cause, code = describe_error_body(self.api_name, response.status_code, text)
        cause = self._scrub(cause)
        attempts = getattr(response, "attempts", 1)
        if attempts > 1:
            cause += f" (after {attempts} tries)"
        cause += f" ({method} {path}{' as ' + self.username if login else ''})"
        evidence = (f"{method} {path} -> {response.status_code}", self._scrub(text[:EVIDENCE_CHARS]))
        raise ApiError(self.target, cause, evidence, status=response.status_code, error_code=code)


def _failed_to_connect(exc: BaseException) -> bool:
    """Whether a requests ConnectionError happened before a connection existed (refused, no route, no name)."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
            return True
        inner = getattr(current, "reason", None)
        current = inner if isinstance(inner, BaseException) else (current.__cause__ or current.__context__)
    return False
