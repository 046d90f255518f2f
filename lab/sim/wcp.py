"""The Supervisor's login endpoints as the kube-apiserver simulators on 443 serve them (API-FACTS 4).

* ``GET /wcp/loginbanner``: 200 and a short text (what the plugin probes first);
* ``POST /wcp/login`` with ``Authorization: Basic base64(user:password)``: 200 and ``{"session_id": "<JWT>"}``
  for the lab's SSO user, 401 for anyone else (or no credentials);
* the JWT (HS256 over a key every simulator of the lab shares, ``sub`` the user, ``exp`` an hour on) is then
  accepted as a Bearer token by the same simulators (:meth:`WcpLogin.accepts`), on whichever VM the VIP
  sends the connection to, as a real Supervisor's apiserver accepts what its vCenter SSO signed.

What a real ``/wcp/login`` answers on refusal (status and body) is not public beyond "bad credentials give
401"; the lab answers 401 with a small JSON message. Only port 443 serves these paths (6443 is
kube-apiserver's: 404 there).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field

LOGIN_PORT = 443
TOKEN_LIFETIME_S = 3600
BANNER = b"wcp-lab Supervisor: authorised users only\n"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


TOKEN_HEADER = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())  # how every lab session token begins


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class WcpLogin:
    """The lab's SSO user and the key its session tokens are signed with."""

    username: str
    password: str = field(repr=False)
    key: str = field(repr=False)
    login_ports: frozenset[int] = frozenset({LOGIN_PORT})  # where /wcp/* is served (tests pick free ports)
    logins: list[tuple[str, int]] = field(default_factory=list)  # (user tried, status): never a password
    issued: list[str] = field(default_factory=list, repr=False)  # the tokens handed out (tests grep for them)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def token(self, user: str, now: float | None = None) -> str:
        header = TOKEN_HEADER
        issued_at = int(now if now is not None else time.time())
        claims = _b64(json.dumps({"sub": user, "iss": "wcp-lab", "iat": issued_at,
                                  "exp": issued_at + TOKEN_LIFETIME_S}).encode())
        signature = hmac.new(self.key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
        return f"{header}.{claims}.{_b64(signature)}"

    def accepts(self, token: str) -> bool:
        """A token this lab signed that has not run out."""
        parts = token.split(".")
        if len(parts) != 3:
            return False
        expected = hmac.new(self.key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64(parts[2])):
                return False
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error):
            return False
        return isinstance(claims, dict) and isinstance(claims.get("exp"), int) and claims["exp"] > time.time()

    def _basic_user(self, header: str | None) -> str | None:
        """The user whose Basic credentials are right (None: wrong, missing or not Basic)."""
        scheme, _, credential = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(credential.strip(), validate=True).decode().partition(":")
        except (ValueError, binascii.Error):
            return None
        ok = hmac.compare_digest(user.encode(), self.username.encode()) and \
            hmac.compare_digest(password.encode(), self.password.encode())
        return user if ok else None

    def answer(self, method: str, path: str, headers: dict[str, str], port: int) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` for a ``/wcp/...`` request (``headers`` with lower-case names)."""
        as_json = {"Content-Type": "application/json"}
        if port not in self.login_ports:
            return 404, as_json, b'{"message":"not found"}'
        if path == "/wcp/loginbanner" and method in ("GET", "HEAD"):
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, BANNER
        if path != "/wcp/login":
            return 404, as_json, b'{"message":"not found"}'
        if method != "POST":
            return 405, as_json, b'{"message":"method not allowed"}'
        user = self._basic_user(headers.get("authorization"))
        tried = self._tried(headers.get("authorization"))
        if user is None:
            with self._lock:
                self.logins.append((tried, 401))
            return 401, as_json, b'{"message":"Unauthorized"}'
        token = self.token(user)
        with self._lock:
            self.logins.append((user, 200))
            self.issued.append(token)
        return 200, as_json, json.dumps({"session_id": token}).encode()

    @staticmethod
    def _tried(header: str | None) -> str:
        scheme, _, credential = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return ""
        try:
            return base64.b64decode(credential.strip(), validate=True).decode().partition(":")[0]
        except (ValueError, binascii.Error):
            return ""
