"""The services that run inside the lab's network namespaces, as real child processes.

- :class:`DnsServer`: a real dnsmasq per DNS node (records from :mod:`lab.zones`);
- :class:`VmSshd`: a control-plane VM's sshd, with its own host key, hostname (UTS namespace) and
  resolv.conf (``/etc/netns/<ns>/resolv.conf``, bind-mounted over /etc/resolv.conf by ``ip netns
  exec`` and handed to every login);
- :class:`SimProcess`: one API simulator (``python -m lab.sim.serve``) at its addresses;
- :class:`DelayLineProcess`: the WAN delay line of :mod:`lab.latency` (``python -m lab.delayline``).

Every process is started with ``ip netns exec <ns> ...`` as a child of the caller, in a session
of its own; ``stop()`` sends SIGTERM to that group, waits (bounded), kills what is left and reaps.
Readiness is read from ``/proc/<pid>/net/{tcp,udp}``, which shows the sockets of the process's
network namespace, so nothing here ever sends a packet from the host namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Protocol

from .sshd import Sshd
from .zones import DnsRecord, dnsmasq_config

IP = "/usr/sbin/ip"
DNSMASQ = "/usr/sbin/dnsmasq"
NETNS_ETC = Path("/etc/netns")
ANY = "0.0.0.0"  # noqa: S104 -- only compared with what /proc shows bound, never bound here
REPO_ROOT = Path(__file__).resolve().parent.parent

Kind = Literal["nsx", "vcenter", "kube"]
Transport = Literal["tcp", "udp"]


class ServiceError(RuntimeError):
    """A lab service did not start, stop or reload as asked (the message carries its log)."""


# ---- sockets of a process's network namespace ------------------------------------------------------
def _proc_sockets(pid: int, protocol: Transport) -> set[tuple[str, int]]:
    """(address, port) of the IPv4 sockets listening (TCP) or bound (UDP) in ``pid``'s namespace."""
    try:
        text = Path(f"/proc/{pid}/net/{protocol}").read_text()
    except OSError:
        return set()
    found: set[tuple[str, int]] = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        address_hex, port_hex = fields[1].split(":")
        state = fields[3]
        if (protocol == "tcp" and state != "0A") or (protocol == "udp" and state != "07"):
            continue
        address = socket.inet_ntoa(struct.pack("=I", int(address_hex, 16)))
        found.add((address, int(port_hex, 16)))
    return found


def _in_netns(pid: int, netns: str) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return False


def write_resolv_conf(netns: str, nameservers: Sequence[str], search: Sequence[str] = ()) -> Path:
    """Write ``/etc/netns/<netns>/resolv.conf`` in place (a running sshd sees it through its bind mount)."""
    directory = NETNS_ETC / netns
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"search {' '.join(search)}"] if search else []
    lines += [f"nameserver {socket.inet_ntoa(socket.inet_aton(server))}" for server in nameservers]
    path = directory / "resolv.conf"
    with open(path, "w", encoding="ascii") as handle:  # truncate in place, never replace the inode
        handle.write("\n".join(lines) + "\n")
    return path


def remove_netns_etc(netns: str) -> None:
    """Remove what :func:`write_resolv_conf` wrote for ``netns`` (and the directory when it is empty)."""
    directory = NETNS_ETC / netns
    with contextlib.suppress(FileNotFoundError):
        (directory / "resolv.conf").unlink()
    with contextlib.suppress(FileNotFoundError, OSError):
        directory.rmdir()


# ---- a child process in a namespace --------------------------------------------------------------
class _Child:
    """One process started with ``ip netns exec`` in its own session; stopped and reaped by :meth:`stop`."""

    def __init__(self, netns: str, log_path: Path, start_timeout: float, stop_timeout: float) -> None:
        self.netns = netns
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _spawn(self, argv: Sequence[str], *, stdout: IO[bytes] | None = None, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        if self.running:
            raise ServiceError(f"already running in {self.netns} (pid {self.pid})")
        if not Path(f"/run/netns/{self.netns}").exists():
            raise ServiceError(f"network namespace {self.netns} does not exist")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 -- fixed binaries, lab-generated arguments
                [IP, "netns", "exec", self.netns, *argv], stdin=subprocess.DEVNULL, stdout=stdout or log,
                stderr=log, start_new_session=True, cwd=cwd, env=env,
            )
        return self._process

    def _await(self, ready: Sequence[tuple[Transport, str, int]], what: str) -> None:
        """Wait until every (protocol, address, port) is bound in the child's namespace (bounded)."""
        process = self._process
        if process is None:
            raise ServiceError(f"{what} was not started")
        deadline = time.monotonic() + self.start_timeout
        while True:
            if process.poll() is not None:
                raise ServiceError(f"{what} in {self.netns} exited with status {process.returncode}:\n{self.log()}")
            if _in_netns(process.pid, self.netns):
                bound = {p: _proc_sockets(process.pid, p) for p in ("tcp", "udp")}
                missing = [(p, a, n) for p, a, n in ready if (a, n) not in bound[p] and (ANY, n) not in bound[p]]
                if not missing:
                    return
            if time.monotonic() >= deadline:
                raise ServiceError(
                    f"{what} in {self.netns} did not listen within {self.start_timeout} s:\n{self.log()}")
            time.sleep(0.01)

    def stop(self) -> None:
        """SIGTERM the child's process group, wait (bounded), SIGKILL what is left, reap."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=self.stop_timeout)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # leftovers of a group whose leader is gone


# ---- DNS ------------------------------------------------------------------------------------------
class DnsServer(_Child):
    """A real dnsmasq in ``netns`` answering ``records`` on every address of ``addresses`` (UDP and TCP).

    Files (all in ``workdir``): ``dnsmasq.conf``, ``dnsmasq.log`` (queries logged), ``dnsmasq.pid``.
    ``restart(records)`` serves other records (the DNS faults); ``stop()`` is dns-server-down.
    """

    def __init__(self, netns: str, addresses: Sequence[str], records: Sequence[DnsRecord], workdir: Path, *,
                 port: int = 53, local_domains: Sequence[str] = (), start_timeout: float = 5.0,
                 stop_timeout: float = 3.0) -> None:
        super().__init__(netns, workdir / "dnsmasq.log", start_timeout, stop_timeout)
        self.addresses = tuple(addresses)
        self.records = list(records)
        self.workdir = workdir
        self.port = port
        self.local_domains = tuple(local_domains)

    @property
    def config_path(self) -> Path:
        return self.workdir / "dnsmasq.conf"

    def start(self) -> DnsServer:
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.config_path.write_text(dnsmasq_config(
                listen=self.addresses, records=self.records, log_file=self.log_path,
                pid_file=self.workdir / "dnsmasq.pid", port=self.port, local_domains=self.local_domains))
            self._spawn([DNSMASQ, "--keep-in-foreground", f"--conf-file={self.config_path}"])
            self._await([(p, a, self.port) for a in self.addresses for p in ("udp", "tcp")], "dnsmasq")
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, records: Sequence[DnsRecord] | None = None) -> DnsServer:
        """Stop, then serve ``records`` (the current ones when None)."""
        self.stop()
        if records is not None:
            self.records = list(records)
        return self.start()

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# ---- control-plane VM sshd ------------------------------------------------------------------------
class VmSshd:
    """A control-plane VM's sshd in ``netns``: hostname ``hostname``, its own host key (kept in
    ``workdir`` across restarts), root login by key for ``authorized_keys``, and the VM's
    resolv.conf (``nameservers``) in ``/etc/netns/<netns>/resolv.conf``.

    ``known_hosts_line`` pins the host key for ``address`` (port 22: the bare address).
    ``stop()`` removes the resolv.conf it wrote (cp-vm-unreachable stops, a clear starts again).
    """

    def __init__(self, netns: str, hostname: str, address: str, workdir: Path, *, authorized_keys: Sequence[str],
                 nameservers: Sequence[str], search: Sequence[str] = (), port: int = 22,
                 start_timeout: float = 10.0, stop_timeout: float = 3.0) -> None:
        self.netns = netns
        self.hostname = hostname
        self.address = address
        self.workdir = workdir
        self.nameservers = tuple(nameservers)
        self.search = tuple(search)
        self.sshd = Sshd(address, port, netns=netns, permit_root_login="prohibit-password",
                         start_timeout=start_timeout, stop_timeout=stop_timeout, hostname=hostname,
                         workdir=workdir, authorized_keys=authorized_keys)

    @property
    def port(self) -> int:
        return self.sshd.port

    @property
    def known_hosts_line(self) -> str:
        return self.sshd.known_hosts_line

    @property
    def pid(self) -> int | None:
        process = self.sshd._process  # noqa: SLF001 -- same package
        return process.pid if process is not None else None

    @property
    def running(self) -> bool:
        return self.sshd.running

    def log(self) -> str:
        return self.sshd.log()

    def start(self) -> VmSshd:
        try:
            write_resolv_conf(self.netns, self.nameservers, self.search)
            self.sshd.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.sshd.stop()
        remove_netns_etc(self.netns)

    def __enter__(self) -> VmSshd:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# ---- API simulators -------------------------------------------------------------------------------
class SimProcess(_Child):
    """``python -m lab.sim.serve`` for ``kind`` in ``netns`` on every ``(address, port)`` of ``listen``.

    It reads ``state_file`` (:class:`lab.sim.serve.SimState`) and issues its certificate for
    ``cert_names`` from the CA saved in ``ca_dir`` (:meth:`lab.tls.LabCA.save`). ``reload()``
    sends SIGHUP and waits until the process has applied the state file again.
    Files in ``workdir``: ``<name>.log`` and ``<name>.ready`` (JSON: pid, generation, error).
    """

    def __init__(self, kind: Kind, netns: str, listen: Sequence[tuple[str, int]], state_file: Path, ca_dir: Path,
                 cert_names: Sequence[str], workdir: Path, *, name: str | None = None,
                 python: str = sys.executable, start_timeout: float = 15.0, stop_timeout: float = 3.0) -> None:
        self.kind = kind
        self.name = name or f"sim-{kind}"
        super().__init__(netns, workdir / f"{self.name}.log", start_timeout, stop_timeout)
        self.listen = [(str(a), int(p)) for a, p in listen]
        self.state_file = state_file
        self.ca_dir = ca_dir
        self.cert_names = tuple(cert_names)
        self.workdir = workdir
        self.python = python

    @property
    def ready_file(self) -> Path:
        return self.workdir / f"{self.name}.ready"

    def argv(self) -> list[str]:
        argv = [self.python, "-m", f"{__package__}.sim.serve", "--kind", self.kind]
        for address, port in self.listen:
            argv += ["--listen", f"{address}:{port}"]
        return [*argv, "--state", str(self.state_file), "--ca-dir", str(self.ca_dir),
                "--cert-names", ",".join(self.cert_names), "--ready-file", str(self.ready_file)]

    def start(self) -> SimProcess:
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self.ready_file.unlink()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p), "PYTHONUNBUFFERED": "1"}
            self._spawn(self.argv(), cwd=REPO_ROOT, env=env)
            self._await([("tcp", a, p) for a, p in self.listen], f"{self.kind} simulator")
            self._await_generation(0)
        except BaseException:
            self.stop()
            raise
        return self

    def readiness(self) -> dict[str, object]:
        try:
            data = json.loads(self.ready_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _await_generation(self, generation: int) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            state = self.readiness()
            if state.get("pid") == self.pid and isinstance(state.get("generation"), int) \
                    and int(str(state["generation"])) >= generation:
                if state.get("error"):
                    raise ServiceError(f"{self.kind} simulator in {self.netns} kept its old state: {state['error']}")
                return
            if not self.running:
                raise ServiceError(f"{self.kind} simulator in {self.netns} exited:\n{self.log()}")
            if time.monotonic() >= deadline:
                raise ServiceError(f"{self.kind} simulator in {self.netns} did not apply state generation "
                                   f"{generation} within {self.start_timeout} s:\n{self.log()}")
            time.sleep(0.01)

    def reload(self) -> None:
        """SIGHUP: re-read the state file (model, credentials kept, faults, certificate names); bounded wait."""
        process = self._process
        if process is None or process.poll() is not None:
            raise ServiceError(f"{self.kind} simulator in {self.netns} is not running")
        generation = int(str(self.readiness().get("generation", 0)))
        process.send_signal(signal.SIGHUP)
        self._await_generation(generation + 1)

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# ---- the WAN delay line ---------------------------------------------------------------------------
class DelayLineProcess(_Child):
    """``python -m lab.delayline`` in ``netns``: holds the packets of NFQUEUE ``queue`` for ``delay_s``.

    ``start()`` returns once the process has bound the queue (its ready file names its pid), so the
    rule that feeds the queue (:mod:`lab.latency`) goes in only when something releases what it queues.
    Files in ``workdir``: ``delayline.log`` and ``delayline.ready``.
    """

    def __init__(self, netns: str, delay_s: float, workdir: Path, *, queue: int = 7, python: str = sys.executable,
                 start_timeout: float = 10.0, stop_timeout: float = 3.0) -> None:
        super().__init__(netns, workdir / "delayline.log", start_timeout, stop_timeout)
        self.delay_s = delay_s
        self.queue = queue
        self.workdir = workdir
        self.python = python
        self.started_pid: int | None = None

    @property
    def ready_file(self) -> Path:
        return self.workdir / "delayline.ready"

    @property
    def returncode(self) -> int | None:
        """The exit status of a delay line that died (``None`` while it runs or after :meth:`stop`)."""
        return self._process.poll() if self._process is not None else None

    def argv(self) -> list[str]:
        return [self.python, "-m", f"{__package__}.delayline", "--queue", str(self.queue),
                "--delay", repr(self.delay_s), "--ready-file", str(self.ready_file)]

    def start(self) -> DelayLineProcess:
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                self.ready_file.unlink()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p), "PYTHONUNBUFFERED": "1"}
            process = self._spawn(self.argv(), cwd=REPO_ROOT, env=env)
            self.started_pid = process.pid
            deadline = time.monotonic() + self.start_timeout
            while not self._ready(process.pid):
                if process.poll() is not None:
                    raise ServiceError(f"the delay line in {self.netns} exited with status {process.returncode}:"
                                       f"\n{self.log()}")
                if time.monotonic() >= deadline:
                    raise ServiceError(f"the delay line in {self.netns} did not bind queue {self.queue} "
                                       f"within {self.start_timeout} s:\n{self.log()}")
                time.sleep(0.01)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self, pid: int) -> bool:
        try:
            data = json.loads(self.ready_file.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("pid") == pid

    def __enter__(self) -> DelayLineProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# ---- many at once ---------------------------------------------------------------------------------
class Service(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


def start_all(services: Sequence[Service], max_workers: int = 16) -> None:
    """Start ``services`` side by side; if one fails, stop every one of them and raise the first error."""
    if not services:
        return
    with ThreadPoolExecutor(min(max_workers, len(services))) as pool:
        futures = [pool.submit(service.start) for service in services]
        errors = [f.exception() for f in futures]
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        stop_all(services, max_workers)
        raise first


def stop_all(services: Sequence[Service], max_workers: int = 16) -> None:
    """Stop ``services`` side by side (each stop is bounded by its own timeouts); never raises."""
    if not services:
        return
    with ThreadPoolExecutor(min(max_workers, len(services))) as pool:
        for future in [pool.submit(service.stop) for service in services]:
            with contextlib.suppress(Exception):
                future.result()
