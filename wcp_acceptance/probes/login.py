"""Observe ``kubectl vsphere login`` (WCP-LOGIN-001): the login, then the token against kube-apiserver.

What can be judged is kept in a :class:`LoginObservation` (the statuses, never the token); what cannot
raises :class:`~wcp_acceptance.finding.ObservationError` naming the API and the request, so it is an
*error*: no TCP or TLS to the VIP, no answer in time, a 5xx, or a 200 that half-answers (no JSON, no
``session_id``: a lying API, not a broken site).

Judged statuses of ``POST /wcp/login``: 200 with a ``session_id``; 401 and 403 (refused); 404 (no login
here). Which status a failed login answers is not public (API-FACTS 7: only "bad credentials give 401"
is documented by the clients), so 403 is read as a refusal too and every other status is an error.
Judged statuses of ``GET /version`` with the token: 200 (accepted), 401 and 403 (not accepted).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory.model import Timeouts
from wcp_acceptance.secret import Secret
from wcp_acceptance.transport.wcp_login import API_PORT, LOGIN_PORT, HttpAnswer, WcpLoginClient

BODY_HEAD_CHARS = 300
LOGIN_JUDGED = frozenset({200, 401, 403, 404})
VERSION_JUDGED = frozenset({200, 401, 403})
TokenKind = Literal["jwt", "opaque"]


@dataclass(frozen=True)
class LoginObservation:
    """What one ``kubectl vsphere login`` as ``user`` against the VIP answered (no token, no password)."""

    user: str
    address: str
    server_name: str
    observed_at: datetime
    login_status: int
    login_reason: str
    login_elapsed_s: float
    login_body_head: str = ""  # scrubbed; empty for a 200 (its body is the token)
    token_kind: TokenKind | None = None  # None: no token (the login was refused)
    version_status: int | None = None  # None: not asked (no token)
    version_reason: str = ""
    version_elapsed_s: float = 0.0
    version_body_head: str = ""
    git_version: str | None = None
    login_port: int = LOGIN_PORT
    api_port: int = API_PORT

    def __str__(self) -> str:
        return (f"<LoginObservation {self.user} -> {self.address} login={self.login_status} "
                f"version={self.version_status if self.version_status is not None else '-'}>")


def token_kind(token: Secret) -> TokenKind:
    """``jwt`` when the token has three base64url parts and its first decodes as a JSON header with ``alg``."""
    parts = token.reveal().split(".")
    if len(parts) != 3:
        return "opaque"
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, TypeError):
        return "opaque"
    return "jwt" if isinstance(header, dict) and "alg" in header else "opaque"


def _head(client: WcpLoginClient, answer: HttpAnswer) -> str:
    text = " ".join(answer.body.decode("utf-8", errors="replace").split())
    return client.scrub(text)[:BODY_HEAD_CHARS]


def _evidence(client: WcpLoginClient, *answers: HttpAnswer) -> list[str]:
    lines = [f"{client.address} (TLS verified for {client.server_name} against {client.ca_file})"]
    for answer in answers:
        lines.append(f"{answer}: {answer.content_type or 'no Content-Type'}; {_head(client, answer) or '(empty body)'}")
    return lines


def observe_login(client: WcpLoginClient) -> LoginObservation:
    """The login as ``client.username``, then ``/version`` with the token; ObservationError where nothing is judged."""
    observed_at = datetime.now(UTC)
    answer, token, why_none = client.login()
    target = client.target(client.login_port)
    if answer.status not in LOGIN_JUDGED:
        raise ObservationError(target, f"the WCP login API answered {answer.status} {answer.reason} to POST "
                                       f"/wcp/login as {client.username} (neither a session nor a refusal)",
                               _evidence(client, answer))
    base = LoginObservation(client.username, client.address, client.server_name, observed_at, answer.status,
                            answer.reason, answer.elapsed_s, login_port=client.login_port, api_port=client.api_port)
    if answer.status != 200:
        return replace(base, login_body_head=_head(client, answer))
    if token is None:
        raise ObservationError(target, f"the WCP login API answered 200 to POST /wcp/login as {client.username} "
                                       f"but {why_none}: it half-answered (a session_id is what it promises)",
                               _evidence(client, answer))
    version = client.version(token)
    if version.status not in VERSION_JUDGED:
        raise ObservationError(client.target(client.api_port), f"kube-apiserver answered {version.status} "
                                                        f"{version.reason} to GET /version with the login's token",
                               _evidence(client, answer, version))
    git_version = None
    if version.status == 200:
        try:
            info = json.loads(version.body.decode("utf-8", errors="replace"))
        except ValueError:
            info = None
        value = info.get("gitVersion") if isinstance(info, dict) else None
        if not isinstance(value, str) or not value:
            raise ObservationError(client.target(client.api_port),
                                   "GET /version with the login's token answered 200 but not as kube-apiserver "
                                   "(no gitVersion)", _evidence(client, answer, version))
        git_version = value
    return replace(base, token_kind=token_kind(token), version_status=version.status, version_reason=version.reason,
                   version_elapsed_s=version.elapsed_s,
                   version_body_head=_head(client, version) if version.status != 200 else "", git_version=git_version)


def login_client(address: str, server_name: str, ca_file: Path, user: str, password: Secret, timeouts: Timeouts, *,
                 opted_in: bool, login_port: int = LOGIN_PORT, api_port: int = API_PORT) -> WcpLoginClient:
    return WcpLoginClient(address, server_name, ca_file, user, password, connect_timeout=timeouts.connect,
                          read_timeout=timeouts.api, opted_in=opted_in, login_port=login_port, api_port=api_port)
