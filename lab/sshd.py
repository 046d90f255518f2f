"""A real OpenSSH sshd for the lab: its own host key, authorized_keys and config in a temp dir.

``Sshd`` starts ``/usr/sbin/sshd -D -e -f <cfg>`` as a child process (optionally inside a network
namespace through ``ip netns exec``), waits until it listens (bounded), and stops and reaps it on
exit, even when start-up failed half way. Keys are generated in-process (``cryptography``), so no
passphrase ever appears in a command line.

Nothing here touches the host's accounts: the client key is authorised through an
``AuthorizedKeysFile`` inside the temp dir; password login is available only for accounts that
already have a password (the lab never sets one).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SSHD = "/usr/sbin/sshd"
IP = "/usr/sbin/ip"
UNSHARE = "/usr/bin/unshare"
PRIVSEP_DIR = Path("/run/sshd")
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class SshdError(RuntimeError):
    """The lab sshd could not be started (the message carries its log)."""


def _write_key(path: Path, comment: str, passphrase: str | None = None) -> str:
    """Write a new ed25519 private key (OpenSSH format, mode 0600); return the public key line."""
    key = ed25519.Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    line = f"{public.decode()} {comment}"
    path.with_name(path.name + ".pub").write_text(line + "\n")
    return line


def _existing_or_new_key(path: Path, comment: str, passphrase: str | None = None) -> str:
    """Keep a key a persistent work dir already holds (a restarted VM keeps its host key)."""
    public = path.with_name(path.name + ".pub")
    if path.is_file() and public.is_file():
        return public.read_text().strip()
    return _write_key(path, comment, passphrase)


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


class Sshd:
    """A running sshd; use as a context manager (``with Sshd() as sshd: ...``).

    ``known_hosts_line`` / ``known_hosts`` pin the generated host key for ``[address]:port``;
    ``client_key`` is a private key authorised for every account (passphrase ``client_key_passphrase``
    when given). ``exec_count()`` counts the commands sshd started (LogLevel VERBOSE), which lets a
    test prove that a refused command never reached the server.
    """

    def __init__(
        self,
        listen_address: str = "127.0.0.1",
        port: int | None = None,
        *,
        netns: str | None = None,
        permit_root_login: Literal["prohibit-password", "yes", "no"] = "prohibit-password",
        password_authentication: bool = False,
        client_key_passphrase: str | None = None,
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        hostname: str | None = None,
        workdir: Path | None = None,
        authorized_keys: Sequence[str] = (),
    ) -> None:
        """``hostname``: run sshd in its own UTS namespace with that hostname (what ``hostname`` prints
        in a login). ``workdir``: keep keys, config and log there (kept after stop, and a restart reuses
        the host key) instead of a temp dir. ``authorized_keys``: public key lines authorised besides
        the generated client key."""
        if hostname is not None and not HOSTNAME_RE.match(hostname):
            raise ValueError(f"{hostname!r} is not a plain host name")
        self.hostname = hostname
        self._fixed_dir = workdir
        self.authorized_keys = tuple(authorized_keys)
        self.address = listen_address
        self._requested_port = port
        self.port = port or 0
        self.netns = netns
        self.permit_root_login = permit_root_login
        self.password_authentication = password_authentication
        self.client_key_passphrase = client_key_passphrase
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.dir: Path | None = None
        self.client_key = Path()
        self.client_public_key = ""
        self.known_hosts = Path()
        self.known_hosts_line = ""
        self.host_public_key = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._cleanups: list[Callable[[], None]] = []
        # variables every login session gets (SetEnv), e.g. libfaketime preloaded for cp-clock-skew
        self.session_env: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Sshd:
        try:
            self._prepare()
            attempts = 1 if self._requested_port else 3
            for attempt in range(attempts):
                if not self._requested_port:
                    self.port = self._pick_port()
                self._write_config()
                if self._launch() or attempt == attempts - 1:
                    break
            self._await_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate, wait (bounded), kill if needed, reap; then remove the temp dir."""
        process, self._process = self._process, None
        if process is not None:
            self._reap(process)
        while self._cleanups:
            with contextlib.suppress(Exception):
                self._cleanups.pop()()

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what a client needs -----------------------------------------------------------------
    @property
    def hostport(self) -> str:
        return f"[{self.address}]:{self.port}" if self.port != 22 else self.address

    @property
    def log_path(self) -> Path:
        return self._workdir() / "sshd.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def exec_count(self) -> int:
        """How many exec (command) sessions sshd has started so far."""
        return sum(1 for line in self.log().splitlines() if "Starting session: command" in line)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- internals ---------------------------------------------------------------------------
    def _workdir(self) -> Path:
        if self.dir is None:
            raise SshdError("sshd not started")
        return self.dir

    def _prepare(self) -> None:
        if self._fixed_dir is not None:
            self._fixed_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.dir = self._fixed_dir
            make_key = _existing_or_new_key
        else:
            self.dir = Path(tempfile.mkdtemp(prefix="wcp-sshd-"))
            lab_dir = self.dir
            self._cleanups.append(lambda: shutil.rmtree(lab_dir, ignore_errors=True))
            make_key = _write_key
        # sshd refuses to start without its privilege-separation directory.
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        host_key = self.dir / "ssh_host_ed25519_key"
        self.host_public_key = make_key(host_key, "wcp-lab-host")
        self.client_key = self.dir / "client_ed25519"
        self.client_public_key = make_key(self.client_key, "wcp-lab-client", self.client_key_passphrase)
        keys = [self.client_public_key, *(line.strip() for line in self.authorized_keys)]
        (self.dir / "authorized_keys").write_text("".join(f"{line}\n" for line in keys))
        os.chmod(self.dir / "authorized_keys", 0o600)

    def _pick_port(self) -> int:
        if self.netns is None:
            return _free_port(self.address)
        return random.randint(20000, 60000)  # noqa: S311 -- a fresh namespace has no listeners

    def _write_config(self) -> None:
        workdir = self._workdir()
        host_key = workdir / "ssh_host_ed25519_key"
        lines = [
            f"ListenAddress {self.address}",
            f"Port {self.port}",
            f"HostKey {host_key}",
            f"PidFile {workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            f"PermitRootLogin {self.permit_root_login}",
            f"PasswordAuthentication {'yes' if self.password_authentication else 'no'}",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "UseDNS no",
            "PrintMotd no",
            "LogLevel VERBOSE",
            "MaxStartups 100:30:200",
            "MaxSessions 100",
            "LoginGraceTime 30",
            # bash sources ~/.bashrc for commands run by sshd only when SHLVL < 2 after its own
            # increment; a lab "VM" should run commands with a plain, quiet shell.
            "SetEnv " + " ".join(f"{k}={v}" for k, v in {"SHLVL": "1", **self.session_env}.items()),
        ]
        config = workdir / "sshd_config"
        config.write_text("\n".join(lines) + "\n")
        host_pub = self.host_public_key.split()
        self.known_hosts_line = f"{self.hostport} {host_pub[0]} {host_pub[1]}"
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(self.known_hosts_line + "\n")

    def _launch(self) -> bool:
        """Start sshd; return False if it died at once because the port was taken."""
        argv = [SSHD, "-D", "-e", "-f", str(self._workdir() / "sshd_config")]
        if self.hostname is not None:
            # a UTS namespace of its own, named before sshd is exec'd (same pid all the way down)
            argv = [UNSHARE, "--uts", "/bin/sh", "-c", 'hostname "$0" && exec "$@"', self.hostname, *argv]
        if self.netns is not None:
            argv = [IP, "netns", "exec", self.netns, *argv]
        with open(self.log_path, "wb") as log:  # a fresh log per launch: readiness is read from it
            self._process = subprocess.Popen(  # noqa: S603 -- fixed binary, lab-generated config
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if "Server listening on" in self.log():
                return True
            if self._process.poll() is not None:
                if "Address already in use" in self.log() and not self._requested_port:
                    self._process = None
                    return False
                break
            time.sleep(0.02)
        return True

    def _await_listening(self) -> None:
        process = self._process
        if process is None:
            raise SshdError(f"sshd did not start on {self.hostport}:\n{self.log()}")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SshdError(f"sshd exited with status {process.returncode} on {self.hostport}:\n{self.log()}")
            if "Server listening on" in self.log() and (self.netns is not None or self._accepts()):
                return
            time.sleep(0.02)
        raise SshdError(f"sshd did not listen on {self.hostport} within {self.start_timeout} s:\n{self.log()}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.address, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _reap(self, process: subprocess.Popen[bytes]) -> None:
        # sshd runs in its own session (start_new_session): signal the group so the per-connection
        # children go with it; the group id is our child's pid, so nothing else is touched.
        self._signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(process, signal.SIGKILL)
            process.wait(timeout=self.stop_timeout)
        else:
            self._signal_group(process, signal.SIGKILL)  # leftovers of a group whose leader is gone

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
