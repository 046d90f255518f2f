"""connect_vm: host keys checked against known_hosts, readable bounded failures, no secret in any message."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from lab.sshd import Sshd
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory.model import ControlPlaneVm, Timeouts
from wcp_acceptance.transport.ssh import connect_vm

from .conftest import TIMEOUTS, vm_model

FAST = Timeouts(connect=1.0, command=5.0)
CANARY_PASSWORD = "canary-pw-7f3a9c1e"  # noqa: S105 -- planted to prove it never leaks
CANARY_PASSPHRASE = "canary-pp-4b8d2e60"  # noqa: S105


def _fingerprint(public_line: str) -> str:
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _new_key(path: Path, passphrase: str | None = None) -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption))
    path.chmod(0o600)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _observation_error(vm: ControlPlaneVm, timeouts: Timeouts = FAST) -> tuple[ObservationError, float]:
    started = time.monotonic()
    with pytest.raises(ObservationError) as info:
        connect_vm(vm, timeouts)
    return info.value, time.monotonic() - started


def _everything_said(error: ObservationError) -> str:
    return "\n".join([str(error), repr(error), error.cause, error.target, *error.evidence])


def test_connects_with_key_and_pinned_host_key(vm: ControlPlaneVm, sshd: Sshd) -> None:
    with connect_vm(vm, TIMEOUTS) as conn:
        assert conn.host_key_checked is True
        assert conn.host_key == f"ssh-ed25519 {_fingerprint(sshd.host_public_key)}"
        assert conn.runner().run(["hostname"]).stdout.strip() == socket.gethostname()


def test_insecure_skip_accepts_any_host_key_and_says_so(make_vm: Callable[..., ControlPlaneVm], sshd: Sshd) -> None:
    vm = make_vm(known_hosts=None, insecure_skip_host_key_check=True)
    before = sshd.known_hosts.read_text()
    with connect_vm(vm, TIMEOUTS) as conn:
        assert conn.host_key_checked is False
        assert "host-key-unchecked" in repr(conn)
        assert conn.host_key.endswith(_fingerprint(sshd.host_public_key))
    assert sshd.known_hosts.read_text() == before


def test_wrong_host_key_is_refused_naming_known_hosts(
    make_vm: Callable[..., ControlPlaneVm], sshd: Sshd, tmp_path: Path
) -> None:
    impostor = _new_key(tmp_path / "other")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"{sshd.hostport} {impostor}\n")
    error, _ = _observation_error(make_vm(known_hosts=str(known_hosts)))
    assert error.target == f"cp-1 (127.0.0.1:{sshd.port})"
    assert f"host key for {sshd.hostport} does not match known_hosts ({known_hosts})" in error.cause
    assert _fingerprint(sshd.host_public_key) in error.cause
    assert _fingerprint(impostor) in error.cause


def test_host_missing_from_known_hosts_is_refused(
    make_vm: Callable[..., ControlPlaneVm], sshd: Sshd, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    error, _ = _observation_error(make_vm(known_hosts=str(known_hosts)))
    assert f"is not in known_hosts ({known_hosts})" in error.cause
    assert _fingerprint(sshd.host_public_key) in error.cause


def test_closed_port_is_refused_quickly(make_vm: Callable[..., ControlPlaneVm]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error, elapsed = _observation_error(make_vm(port=port))
    assert error.cause == f"TCP connection refused (nothing listens on port {port})"
    assert str(error).startswith(f"cp-1 (127.0.0.1:{port}): could not observe: ")
    assert elapsed < 0.5


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listener whose accept queue is full: the kernel drops further SYNs, so connect() hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)
    yield port
    filler.close()
    listener.close()


def test_tcp_connect_timeout_is_bounded_and_stated(make_vm: Callable[..., ControlPlaneVm], full_backlog: int) -> None:
    error, elapsed = _observation_error(make_vm(port=full_backlog))
    assert error.cause == "TCP connect timed out after 1 s (connect timeout)"
    assert 0.9 < elapsed < 2.0


@pytest.fixture
def mute_listener() -> Iterator[int]:
    """Accepts TCP (kernel side) and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_no_banner_times_out_within_connect_timeout(make_vm: Callable[..., ControlPlaneVm], mute_listener: int) -> None:
    error, elapsed = _observation_error(make_vm(port=mute_listener))
    assert "no SSH banner within 1 s (connect timeout)" in error.cause
    assert 0.9 < elapsed < 2.0


def test_unknown_key_is_refused_for_the_user(make_vm: Callable[..., ControlPlaneVm], tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    _new_key(stranger)
    error, _ = _observation_error(make_vm(key_file=str(stranger)))
    assert error.cause == "authentication refused for root (tried key)"


def test_password_never_appears_when_login_fails(
    make_vm: Callable[..., ControlPlaneVm], caplog: pytest.LogCaptureFixture
) -> None:
    # The lab sshd has PasswordAuthentication no: the canary password is offered and refused.
    caplog.set_level(logging.DEBUG)
    vm = make_vm(key_file=None, password=CANARY_PASSWORD)
    error, _ = _observation_error(vm)
    assert error.cause == "authentication refused for root (tried password)"
    assert CANARY_PASSWORD not in _everything_said(error)
    assert CANARY_PASSWORD not in repr(vm)
    assert CANARY_PASSWORD not in caplog.text
    assert caplog.records, "paramiko logged nothing: the log check above proved nothing"


@pytest.fixture(scope="module")
def sshd_with_passphrase_key() -> Iterator[Sshd]:
    with Sshd("127.0.0.1", client_key_passphrase=CANARY_PASSPHRASE) as server:
        yield server


def test_encrypted_key_works_with_its_passphrase(sshd_with_passphrase_key: Sshd) -> None:
    vm = vm_model(sshd_with_passphrase_key, key_passphrase=CANARY_PASSPHRASE)
    with connect_vm(vm, TIMEOUTS) as conn:
        assert conn.runner().run(["hostname"]).ok


def test_wrong_passphrase_never_appears(sshd_with_passphrase_key: Sshd, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = CANARY_PASSPHRASE[::-1]
    vm = vm_model(sshd_with_passphrase_key, key_passphrase=wrong, password=CANARY_PASSWORD)
    error, _ = _observation_error(vm)
    assert error.cause.startswith(f"cannot load key file {sshd_with_passphrase_key.client_key}: ")
    assert "wrong key_passphrase?" in error.cause
    said = _everything_said(error) + caplog.text
    for secret in (CANARY_PASSPHRASE, wrong, CANARY_PASSWORD):
        assert secret not in said


def test_encrypted_key_without_passphrase_is_explained(sshd_with_passphrase_key: Sshd) -> None:
    error, _ = _observation_error(vm_model(sshd_with_passphrase_key))
    assert error.cause == (
        f"key file {sshd_with_passphrase_key.client_key} is encrypted and no key_passphrase is given"
    )
