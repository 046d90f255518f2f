"""The one redaction point masks whatever looks like a credential, and the run's own secrets."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from pathlib import Path

import pytest

from wcp_acceptance import redact as redaction
from wcp_acceptance.redact import redact, redact_data, redact_file, register, register_secrets
from wcp_acceptance.secret import MASK, Secret

CANARY = "canary-7f3a9c0d1e"


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    redaction.forget()
    yield
    redaction.forget()


@pytest.mark.parametrize("text", [
    f"https://admin:{CANARY}@nsx.corp.local/api/v1",
    f"manager admin:{CANARY}@nsx.corp.local:443 refused",
    f"GET /x headers={{'Authorization': 'Basic {CANARY}', 'Accept': 'application/json'}}",
    f"Cookie: JSESSIONID={CANARY}; Path=/",
    f"Set-Cookie: JSESSIONID={CANARY}",
    f"X-XSRF-TOKEN: {CANARY}",
    f"vmware-api-session-id: {CANARY}",
    f"Authorization: Bearer {CANARY}",
    f"the token was bearer {CANARY}",
    f"login failed: j_username=admin&j_password={CANARY}",
    f"password={CANARY}",
    f'{{"password": "{CANARY}", "username": "admin"}}',
    f"JSESSIONID={CANARY}",
    f"-----BEGIN OPENSSH PRIVATE KEY-----\n{CANARY}\n-----END OPENSSH PRIVATE KEY-----",
])
def test_a_credential_is_masked(text: str) -> None:
    masked = redact(text)
    assert CANARY not in masked, f"expected {CANARY} masked; observed {masked!r}"
    assert MASK in masked


def test_a_credential_in_escaped_html_is_masked() -> None:
    masked = redact(escape(f"{{'Cookie': 'JSESSIONID={CANARY}'}} and {{\"password\": \"{CANARY}\"}}"))
    assert CANARY not in masked, masked


def test_a_json_web_token_is_masked() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLWNhbmFyeQ"
    assert redact(f"token {jwt} refused") == f"token {MASK} refused"


def test_a_registered_secret_is_masked_wherever_it_appears() -> None:
    assert redact(f"NSX said: no user with {CANARY}") == f"NSX said: no user with {CANARY}"
    register(CANARY)
    assert redact(f"NSX said: no user with {CANARY}") == f"NSX said: no user with {MASK}"


def test_the_secrets_of_a_model_are_registered() -> None:
    register_secrets({"nsx": {"password": Secret(CANARY)}, "ssh": [Secret("other-canary")]})
    assert redact(f"{CANARY} other-canary") == f"{MASK} {MASK}"


def test_a_very_short_secret_is_not_searched_for() -> None:
    register("ab")
    assert redact("a table about tabs") == "a table about tabs"


@pytest.mark.parametrize("text", [
    "expected 192.168.10.10 (management DNS) from 192.168.10.45 reached via eth0 (main table)",
    "NSX refused the credentials (403): check nsx.username/nsx.password",
    "basic authentication failed; the login answered no X-XSRF-TOKEN header",
    "https://nsx.corp.local:443/policy/api/v1/infra?cursor=abc&page_size=1000",
    "wcp-acceptance site-a: UNHEALTHY exit=1 41 passed, 2 failed report=/var/lib/reports/site-a/20261125T020000Z",
    "token-bucket rate limited (429), retried after 0.2 s",
    "ssh root@192.168.10.45 -p 22: ok at 22:31:05 UTC",
    "git@github.com:org/repo.git",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_json_data_is_redacted_value_by_value() -> None:
    data = {"tests": [{"cause": f"password={CANARY}", "duration_s": 0.5, "evidence": [f"Cookie: {CANARY}"]}]}
    assert redact_data(data) == {"tests": [{"cause": f"password={MASK}", "duration_s": 0.5,
                                            "evidence": [f"Cookie: {MASK}"]}]}


def test_a_file_written_by_another_writer_is_masked_in_place(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(f'<testcase><failure message="Cookie: JSESSIONID={CANARY}"/></testcase>\n')
    redact_file(path)
    assert path.read_text() == f'<testcase><failure message="Cookie: {MASK}"/></testcase>\n'
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_a_file_without_credentials_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("<p>HEALTHY</p>\n")
    before = path.stat().st_mtime_ns
    redact_file(path)
    assert path.stat().st_mtime_ns == before
