"""``kubectl vsphere login`` check: a pure function ``LoginObservation -> Finding``.

WCP-LOGIN-001  ``POST /wcp/login`` on the API VIP as the inventory's login user answers 200 with a
               ``session_id``, and ``GET :6443/version`` with that token as Bearer answers as
               kube-apiserver. A refusal (401/403) names the user, never the password.
"""

from __future__ import annotations

from wcp_acceptance.finding import Finding, failed, passed
from wcp_acceptance.probes.login import LoginObservation

LOGIN = "WCP-LOGIN-001"

REFUSED_CAUSE = (
    "vCenter SSO refused {user}: the user holds no role (can view / can edit) on any vSphere Namespace, which is "
    "how kubectl vsphere login refuses an SSO user it knows; or the user is given without its SSO domain or in "
    "another one (give it as user@vsphere.local, or the identity source's domain); or its password is wrong, "
    "expired or locked out in SSO")
NO_LOGIN_CAUSE = (
    "the VIP answers but has no /wcp/login: it is not the Supervisor's API VIP (check api_vip.address), or the "
    "Supervisor's authentication proxy on 443 is not serving")
UNACCEPTED_CAUSE = (
    "the Supervisor issued a session token that its own kube-apiserver does not accept: clock skew between the "
    "control-plane VMs and vCenter (the token's validity window; check NTP on both), or kube-apiserver does not "
    "trust the token's signer (the Supervisor's authentication webhook is down or out of step)")


def _expected(obs: LoginObservation) -> str:
    return (f"POST https://{obs.address}:{obs.login_port}/wcp/login as {obs.user} answers 200 with a session_id, and "
            f"GET https://{obs.address}:{obs.api_port}/version with it as Bearer token answers as kube-apiserver")


def _login_line(obs: LoginObservation) -> str:
    return (f"POST /wcp/login as {obs.user} answered {obs.login_status} {obs.login_reason} "
            f"in {obs.login_elapsed_s:.2f} s")


def _evidence(obs: LoginObservation) -> list[str]:
    lines = [f"TLS to {obs.address} verified for {obs.server_name}",
             _login_line(obs) + (f": {obs.login_body_head}" if obs.login_body_head else "")]
    if obs.version_status is not None:
        lines.append(f"GET :{obs.api_port}/version with the token as Bearer answered {obs.version_status} "
                     f"{obs.version_reason} in {obs.version_elapsed_s:.2f} s"
                     + (f": {obs.version_body_head}" if obs.version_body_head else ""))
    lines.append("the token and the password are never shown")
    return lines


def check_login(obs: LoginObservation, target: str) -> Finding:
    """WCP-LOGIN-001: the login answers a session, and kube-apiserver accepts it."""
    expected = _expected(obs)
    if obs.login_status in (401, 403):
        return failed(LOGIN, target, expected, _login_line(obs), REFUSED_CAUSE.format(user=obs.user), _evidence(obs))
    if obs.login_status != 200:
        return failed(LOGIN, target, expected, _login_line(obs), NO_LOGIN_CAUSE, _evidence(obs))
    kind = {"jwt": "a JWT"}.get(obs.token_kind or "", "an opaque (not JWT-shaped)")
    login = f"{_login_line(obs)} with {kind} session_id"
    if obs.version_status != 200:
        observed = (f"{login}; GET /version with it answered {obs.version_status} {obs.version_reason}: "
                    "kube-apiserver does not accept the token")
        return failed(LOGIN, target, expected, observed, UNACCEPTED_CAUSE, _evidence(obs))
    return passed(LOGIN, target, expected,
                  f"{login}; GET /version with it answered 200 ({obs.git_version}) in {obs.version_elapsed_s:.2f} s")
