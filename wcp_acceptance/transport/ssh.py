"""SSH to a Supervisor control-plane VM: a testinfra paramiko backend built from the inventory.

The client is built from ``ControlPlaneVm.ssh`` (never from a hostspec carrying a password):
host keys are checked against ``known_hosts`` with ``RejectPolicy`` unless the inventory says
``insecure_skip_host_key_check`` (then the key is accepted, and :attr:`VmConnection.host_key_checked`
is False so the report can say so). No agent, no ``~/.ssh`` keys. Connect, banner and auth waits
are each bounded by the connect timeout; every command by the command timeout (a watchdog closes
the channel at the deadline and the command is reported as a timeout).

Every command line is checked against the read-only allow-list
(:func:`wcp_acceptance.commands.check_command_line`) before a channel is opened, also when it
comes through ``testinfra``'s ``Host.run``.

Failures are :class:`ObservationError` with a readable cause and no secret in it.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from types import TracebackType
from typing import Any

import paramiko
import testinfra.host
from testinfra.backend import base
from testinfra.backend.paramiko import ParamikoBackend

from wcp_acceptance.commands import CommandTimeout, ReadOnlyRunner, check_command_line
from wcp_acceptance.finding import ObservationError
from wcp_acceptance.inventory.model import ControlPlaneVm, Timeouts
from wcp_acceptance.secret import MASK

log = logging.getLogger("wcp_acceptance.ssh")

MAX_OUTPUT = 8 * 1024 * 1024  # bytes of stdout+stderr kept from one command
_POLL = 0.5


def _fingerprint(key: paramiko.PKey | None) -> str:
    if key is None:
        return "unknown key"
    return f"{key.get_name()} {key.fingerprint}"


class VmSshBackend(ParamikoBackend):
    """testinfra's paramiko backend, configured from the inventory and restricted to read-only commands."""

    NAME = "paramiko"

    def __init__(self, vm: ControlPlaneVm, timeouts: Timeouts) -> None:
        spec = vm.ssh
        self.vm = vm
        self.address = str(vm.management_address)
        self.port = spec.port
        self.user = spec.user
        self.connect_timeout = float(timeouts.connect)
        self.command_timeout = float(timeouts.command)
        self.host_key_checked = not spec.insecure_skip_host_key_check
        self.host_key = ""  # "ssh-ed25519 SHA256:..." once connected
        self.target = f"{vm.name} ({self.address}:{self.port})"
        self._client: paramiko.SSHClient | None = None
        self._client_lock = threading.Lock()  # per connection: other VMs never wait for this one
        # The hostspec names user, address and port only; the password stays in the Secret.
        hostspec = f"{urllib.parse.quote(spec.user, safe='')}@{self.address}:{self.port}"
        super().__init__(hostspec, timeout=max(1, round(self.connect_timeout)))
        self._encoding = "utf-8"  # never ask the VM (testinfra would run a python3 one-liner)

    def __repr__(self) -> str:
        return f"<VmSshBackend {self.target}>"

    # -- connection --------------------------------------------------------------------------
    @property
    def client(self) -> paramiko.SSHClient:
        # Not functools.cached_property: before Python 3.12 that holds one lock for every instance of
        # the class, so VMs connecting at the same time would wait out each other's connect timeouts.
        with self._client_lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    @client.deleter
    def client(self) -> None:
        self.close()

    def connect(self) -> None:
        """Connect now (raise :class:`ObservationError` if that is impossible)."""
        _ = self.client

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _secrets(self) -> list[str]:
        spec = self.vm.ssh
        return [s.reveal() for s in (spec.password, spec.key_passphrase) if s is not None and s.reveal()]

    def _scrub(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, MASK)
        return text

    def _fail(self, cause: str, evidence: tuple[str, ...] = ()) -> ObservationError:
        return ObservationError(self.target, self._scrub(cause), tuple(self._scrub(e) for e in evidence))

    def _load_key(self) -> paramiko.PKey | None:
        spec = self.vm.ssh
        if spec.key_file is None:
            return None
        passphrase = spec.key_passphrase.reveal() if spec.key_passphrase is not None else None
        try:
            return paramiko.PKey.from_path(Path(spec.key_file), password=passphrase.encode() if passphrase else None)
        except paramiko.PasswordRequiredException:
            raise self._fail(f"key file {spec.key_file} is encrypted and no key_passphrase is given") from None
        except TypeError as exc:  # cryptography: "Key is password-protected, but password was not provided."
            if passphrase is None and "password" in str(exc).lower():
                raise self._fail(f"key file {spec.key_file} is encrypted and no key_passphrase is given") from None
            raise self._fail(f"cannot load key file {spec.key_file}: {type(exc).__name__}") from None
        except (paramiko.SSHException, ValueError) as exc:
            hint = "wrong key_passphrase?" if passphrase else "not a private key paramiko can read"
            raise self._fail(f"cannot load key file {spec.key_file}: {type(exc).__name__} ({hint})") from None
        except OSError as exc:
            raise self._fail(f"cannot read key file {spec.key_file}: {exc.strerror or exc}") from None

    def _tcp_connect(self) -> socket.socket:
        timeout = self.connect_timeout
        try:
            sock = socket.create_connection((self.address, self.port), timeout=timeout)
            # one request, one answer: without this each command waits ~40 ms for the peer's delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except TimeoutError:
            raise self._fail(f"TCP connect timed out after {timeout:g} s (connect timeout)") from None
        except ConnectionRefusedError:
            raise self._fail(f"TCP connection refused (nothing listens on port {self.port})") from None
        except OSError as exc:
            raise self._fail(f"TCP connect failed: {exc.strerror or exc}") from None

    def _connect(self) -> paramiko.SSHClient:
        spec = self.vm.ssh
        pkey = self._load_key()
        client = paramiko.SSHClient()
        if spec.insecure_skip_host_key_check:
            # Nothing is loaded, so nothing can be written back: AutoAddPolicy only saves when
            # the client was given a host-keys *file* (load_host_keys), never here.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 -- the inventory's choice, reported
        else:
            try:
                client.get_host_keys().load(str(spec.known_hosts))
            except (OSError, paramiko.SSHException) as exc:
                raise self._fail(f"cannot read known_hosts {spec.known_hosts}: {exc}") from None
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        timeout = self.connect_timeout
        sock = self._tcp_connect()
        try:
            client.connect(
                hostname=self.address,
                port=self.port,
                username=spec.user,
                password=spec.password.reveal() if spec.password is not None else None,
                pkey=pkey,
                sock=sock,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except BaseException as exc:
            cause = self._connect_failure(client, exc)
            client.close()
            sock.close()
            if cause is None:
                raise
            raise self._fail(cause) from None
        transport = client.get_transport()
        self.host_key = _fingerprint(transport.get_remote_server_key() if transport else None)
        if not self.host_key_checked:
            log.warning("%s: host key NOT verified (insecure_skip_host_key_check): %s", self.target, self.host_key)
        return client

    def _connect_failure(self, client: paramiko.SSHClient, exc: BaseException) -> str | None:
        """A readable cause for a failed SSH handshake (None: not ours to translate)."""
        spec = self.vm.ssh
        timeout = self.connect_timeout
        hostkey_name = f"[{self.address}]:{self.port}" if self.port != 22 else self.address
        if isinstance(exc, paramiko.BadHostKeyException):
            return (
                f"host key for {hostkey_name} does not match known_hosts ({spec.known_hosts}): "
                f"server offered {_fingerprint(exc.key)}, known_hosts has {_fingerprint(exc.expected_key)}"
            )
        if isinstance(exc, paramiko.AuthenticationException):
            methods = " and ".join(m for m, given in (("key", spec.key_file), ("password", spec.password)) if given)
            if "timeout" in str(exc).lower():
                return f"authentication for {spec.user} did not finish within {timeout:g} s (connect timeout)"
            return f"authentication refused for {spec.user} (tried {methods})"
        if isinstance(exc, paramiko.SSHException):
            text = str(exc)
            transport = client.get_transport()
            heard_banner = bool(transport is not None and transport.remote_version)
            if "not found in known_hosts" in text:
                transport = client.get_transport()
                offered = _fingerprint(transport.get_remote_server_key() if transport else None)
                return (
                    f"host key for {hostkey_name} is not in known_hosts ({spec.known_hosts}): server offered {offered}"
                )
            if "banner" in text.lower() or not heard_banner:
                return (
                    f"no SSH banner within {timeout:g} s (connect timeout): the port accepted TCP but did not speak SSH"
                )
            if "No existing session" in text:  # start_client gave up at the deadline, mid key exchange
                return f"SSH key exchange did not finish within {timeout:g} s (connect timeout)"
            return f"SSH negotiation failed: {text or type(exc).__name__}"
        if isinstance(exc, TimeoutError):
            return f"SSH handshake did not finish within {timeout:g} s (connect timeout)"
        if isinstance(exc, OSError | EOFError):
            return f"SSH connection lost during the handshake: {type(exc).__name__} {exc}".rstrip()
        return None

    def _transport(self) -> paramiko.Transport:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            log.info("%s: SSH transport is down, reconnecting once", self.target)
            self.close()
            transport = self.client.get_transport()
            if transport is None or not transport.is_active():
                raise self._fail("SSH transport closed right after connecting")
        return transport

    # -- commands ----------------------------------------------------------------------------
    def exec_line(self, line: str, timeout: float | None = None) -> tuple[int, bytes, bytes]:
        """Run one allow-listed command line; bounded by ``timeout`` (default: the command timeout)."""
        check_command_line(line)  # before anything is sent
        limit = float(timeout if timeout is not None else self.command_timeout)
        deadline = time.monotonic() + limit
        transport = self._transport()
        expired = threading.Event()
        channel: list[paramiko.Channel] = []

        def expire() -> None:
            expired.set()
            for chan in channel:
                chan.close()

        watchdog = threading.Timer(limit, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            chan = transport.open_session(timeout=limit)
            channel.append(chan)
            if expired.is_set():
                chan.close()
            chan.exec_command(line)
            out, err = self._collect(chan, deadline, expired, line, limit)
            if not chan.status_event.wait(max(0.0, deadline - time.monotonic())) or expired.is_set():
                raise CommandTimeout(self.target, line, limit)
            status = chan.recv_exit_status()
            if status == -1 and not transport.is_active():
                raise self._fail(f"SSH connection lost while running {line.split(' ', 1)[0]} (no exit status)")
            return status, out, err
        except CommandTimeout:
            raise
        except (paramiko.SSHException, OSError, EOFError) as exc:
            if expired.is_set():
                raise CommandTimeout(self.target, line, limit) from None
            raise self._fail(f"SSH session failed while running {line.split(' ', 1)[0]}: {exc}") from None
        finally:
            watchdog.cancel()
            for chan in channel:
                chan.close()

    def _collect(
        self, chan: paramiko.Channel, deadline: float, expired: threading.Event, line: str, limit: float
    ) -> tuple[bytes, bytes]:
        out, err = bytearray(), bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if expired.is_set() or remaining <= 0:
                raise CommandTimeout(self.target, line, limit)
            select.select([chan], [], [], min(remaining, _POLL))
            while chan.recv_ready():
                out += chan.recv(65536)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if len(out) + len(err) > MAX_OUTPUT:
                raise self._fail(f"{line.split(' ', 1)[0]} printed more than {MAX_OUTPUT} bytes; stopped reading")
            if (chan.eof_received or chan.closed) and not chan.recv_ready() and not chan.recv_stderr_ready():
                if expired.is_set():
                    raise CommandTimeout(self.target, line, limit)
                return bytes(out), bytes(err)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        """testinfra's entry point: the same allow-list applies."""
        line = self.get_command(command, *args)
        status, out, err = self.exec_line(line)
        return self.result(status, self.encode(line), out, err)

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8", errors="replace")


class VmConnection:
    """An open SSH connection to one control-plane VM (testinfra Host + read-only runner)."""

    def __init__(self, vm: ControlPlaneVm, backend: VmSshBackend) -> None:
        self.vm = vm
        self.name = vm.name
        self.backend = backend
        self.host = testinfra.host.Host(backend)
        backend.set_host(self.host)

    @property
    def target(self) -> str:
        return self.backend.target

    @property
    def command_timeout(self) -> float:
        return self.backend.command_timeout

    @property
    def host_key_checked(self) -> bool:
        """False when the inventory skipped host-key checking (the report must say so)."""
        return self.backend.host_key_checked

    @property
    def host_key(self) -> str:
        return self.backend.host_key

    def exec_line(self, line: str, timeout: float) -> tuple[int, bytes, bytes]:
        return self.backend.exec_line(line, timeout)

    def runner(self, command_timeout: float | None = None) -> ReadOnlyRunner:
        return ReadOnlyRunner(self, self.name, command_timeout or self.command_timeout)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> VmConnection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        checked = "" if self.host_key_checked else " host-key-unchecked"
        return f"<VmConnection {self.target}{checked}>"


def connect_vm(vm: ControlPlaneVm, timeouts: Timeouts) -> VmConnection:
    """Connect to ``vm`` now; raise :class:`ObservationError` (readable, no secrets) if impossible."""
    backend = VmSshBackend(vm, timeouts)
    backend.connect()
    return VmConnection(vm, backend)
