"""The process that keeps a lab up after ``wcp-lab up`` has returned, and its control socket.

``python -m lab.supervisor --prefix P --topology FILE [--fault NAME]... [--latency S] [--sim-latency S]``
(started detached by ``wcp-lab up``, in a session of its own, stdio to ``/run/wcp-lab/<prefix>.log``):

1. takes the lab's lock (``/run/wcp-lab/<prefix>.lock``, an exclusive ``flock`` held for the
   supervisor's lifetime and holding its pid): a lab is *up* exactly while someone holds it, so a
   crashed (even SIGKILLed) supervisor never looks alive, whatever became of its pid;
2. runs ``LabRuntime.up()``: every daemon of the lab is a child of this process, which stops and
   reaps them on the way down;
3. listens on ``/run/wcp-lab/<prefix>.sock`` (AF_UNIX, mode 0600), then writes the ready file
   ``/run/wcp-lab/<prefix>.ready`` (JSON: pid, inventory, topology, faults, namespaces, latency);
4. answers one JSON object per line, one connection at a time: ``{"cmd": "status"}``,
   ``{"cmd": "inject", "fault": NAME}``, ``{"cmd": "clear", "fault": NAME}``, ``{"cmd": "down"}``;
   every reply is one JSON line with ``ok`` and either the lab's status or ``error``;
5. on ``down``, SIGTERM or SIGINT runs ``LabRuntime.down()``, removes its socket, ready and lock
   files and exits (the log stays for ``wcp-lab down`` to remove).

The lab's own files (``/run/wcp-lab/<prefix>/``, the state file ``<prefix>.json``) belong to
:mod:`lab.runtime` and :mod:`lab.netns`; this module's files sit beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .netns import STATE_DIR
from .topology import check_prefix, load_topology

if TYPE_CHECKING:
    from .runtime import LabRuntime

MAX_LINE = 64 * 1024
CLIENT_TIMEOUT = 5.0  # a connected client must send its line within this many seconds
LOCK_TIMEOUT = 2.0  # how long a starting supervisor tries to take a lock that a status probe holds briefly


class SupervisorError(RuntimeError):
    """The supervisor could not be reached or did not answer in time (the message says which)."""


# ---------------------------------------------------------------------------------------------- files


def lock_path(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.lock"


def ready_path(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.ready"


def socket_path(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.sock"


def log_path(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.log"


def run_files(prefix: str) -> list[Path]:
    """Everything under /run/wcp-lab that belongs to lab ``prefix`` (its directory and ``<prefix>.*``).

    A prefix is letters and digits only, so ``<prefix>.*`` never matches another lab's files.
    """
    check_prefix(prefix)
    try:
        found = [p for p in STATE_DIR.iterdir() if p.name == prefix or p.name.startswith(f"{prefix}.")]
    except FileNotFoundError:
        return []
    return sorted(found)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    tmp.replace(path)


def read_ready(prefix: str) -> dict[str, Any] | None:
    """The ready file of lab ``prefix`` (``None`` when absent or unreadable)."""
    try:
        data = json.loads(ready_path(prefix).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def holder(prefix: str) -> int | None:
    """The pid of the process holding lab ``prefix``'s lock, 0 if it holds it but has not written its pid
    yet, ``None`` when nobody holds it (the lab is not up)."""
    try:
        fd = os.open(lock_path(prefix), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def take_lock(prefix: str, *, timeout: float = LOCK_TIMEOUT) -> int | None:
    """Take lab ``prefix``'s lock for this process and write our pid in it; ``None`` if another holds it.

    The returned descriptor must stay open as long as the lab is ours (closing it, or exiting, releases it).
    """
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(prefix), os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.02)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def release_lock(prefix: str, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        lock_path(prefix).unlink()
    os.close(fd)


# ---------------------------------------------------------------------------------------------- client


def request(prefix: str, command: dict[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
    """Send one command to lab ``prefix``'s supervisor and return its reply (bounded by ``timeout``)."""
    path = socket_path(prefix)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps(command).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) > MAX_LINE * 16:
                    raise SupervisorError(f"the supervisor of lab {prefix!r} sent an oversized reply")
        except TimeoutError:
            raise SupervisorError(
                f"the supervisor of lab {prefix!r} did not answer {command.get('cmd')!r} within {timeout} s") from None
        except OSError as exc:
            raise SupervisorError(f"cannot reach the supervisor of lab {prefix!r} at {path}: {exc}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise SupervisorError(f"the supervisor of lab {prefix!r} closed the connection without a reply") from None
    if not isinstance(reply, dict):
        raise SupervisorError(f"the supervisor of lab {prefix!r} sent {reply!r}, not an object")
    return reply


# ---------------------------------------------------------------------------------------------- server


def describe(runtime: LabRuntime, topology_path: Path, started: float, *, socket: bool) -> dict[str, Any]:
    """What ``wcp-lab status`` shows of a running lab (also the content of its ready file)."""
    net = runtime.net
    return {
        "prefix": runtime.prefix, "pid": os.getpid(), "topology": str(topology_path),
        "topology_name": runtime.topology.name, "faults": sorted(runtime.faults),
        "inventory": str(runtime.inventory_path), "namespaces": net.namespaces if net is not None else [],
        "jumpbox": runtime.jumpbox, "control_planes": sorted(runtime.topology.control_planes),
        "socket": str(socket_path(runtime.prefix)) if socket else None, "log": str(log_path(runtime.prefix)),
        "started": started, "latency": runtime.latency_status(), "sim_latency_s": runtime.sim_latency_s,
        "bgp": runtime.bgp_status(),
    }


def write_ready(prefix: str, status: dict[str, Any]) -> None:
    _write_json(ready_path(prefix), status)


class _Stop(BaseException):  # noqa: N818 - a control-flow signal, like KeyboardInterrupt
    """SIGTERM/SIGINT arrived while the supervisor was waiting (or bringing the lab up)."""


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} supervisor[{os.getpid()}]: {message}", flush=True)


class Supervisor:
    """Brings lab ``prefix`` up from ``topology`` with ``faults``, serves its socket, brings it down."""

    def __init__(self, prefix: str, topology: Path, faults: Sequence[str], *, latency_s: float = 0.0,
                 sim_latency_s: float = 0.0) -> None:
        self.prefix = check_prefix(prefix)
        self.latency_s = latency_s
        self.sim_latency_s = sim_latency_s
        self.topology_path = topology.resolve()
        self.initial_faults = list(faults)
        self.stop_requested = False
        self._interruptible = False
        self.started = time.time()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        _log(f"signal {signal.Signals(signum).name}")
        if self._interruptible:
            self._interruptible = False  # a second signal must not interrupt the teardown
            raise _Stop

    def run(self) -> int:
        fd = take_lock(self.prefix)
        if fd is None:
            _log(f"lab {self.prefix!r} is already up (pid {holder(self.prefix)}); not starting another")
            return 3
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        try:
            return self._run()
        finally:
            for path in (socket_path(self.prefix), ready_path(self.prefix)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            release_lock(self.prefix, fd)

    def _run(self) -> int:
        from .runtime import LabRuntime  # here, so `--help` and the client need none of the lab's imports

        topology = load_topology(self.topology_path)
        self.runtime = LabRuntime(topology, self.prefix, set(self.initial_faults), latency_s=self.latency_s,
                                  sim_latency_s=self.sim_latency_s)
        started = time.perf_counter()
        self._interruptible = True
        try:
            if self.stop_requested:
                raise _Stop
            self.runtime.up()  # tears down what it built and re-raises on any failure, _Stop included
            self._interruptible = False
        except _Stop:
            self.runtime.down()  # up() already did if the signal came inside it; a second down is a no-op
            _log("stopped while coming up; the lab is down")
            return 0
        except Exception:  # noqa: BLE001 - the log is what `wcp-lab up` shows the user
            self._interruptible = False
            _log("the lab did not come up:\n" + traceback.format_exc())
            return 1
        _log(f"lab {self.prefix!r} up in {time.perf_counter() - started:.2f} s from {self.topology_path} "
             f"(faults: {', '.join(sorted(self.runtime.faults)) or 'none'}; "
             f"latency: {self.runtime.latency_status()['mechanism']} {self.latency_s * 1000:g} ms)")
        try:
            server = self._listen()
        except BaseException:
            self._down()
            raise
        try:
            self._write_ready()
            self._serve(server)
        finally:
            server.close()
            self._down()
        return 0

    def _listen(self) -> socket.socket:
        path = socket_path(self.prefix)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            server.bind(str(path))
        finally:
            os.umask(old)
        server.listen(8)
        return server

    def status(self) -> dict[str, Any]:
        return describe(self.runtime, self.topology_path, self.started, socket=True)

    def _write_ready(self) -> None:
        write_ready(self.prefix, self.status())

    def _serve(self, server: socket.socket) -> None:
        while True:
            conn: socket.socket | None = None
            try:
                self._interruptible = True
                if self.stop_requested:
                    raise _Stop
                conn, _ = server.accept()
                self._interruptible = False
            except _Stop:
                _log("going down (signal)")
                return
            with conn:
                if self._handle(conn):
                    return

    def _handle(self, conn: socket.socket) -> bool:
        """Answer one request; True when it was ``down`` (answered after the lab is down)."""
        conn.settimeout(CLIENT_TIMEOUT)
        try:
            data = b""
            while not data.endswith(b"\n") and len(data) <= MAX_LINE:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            command = json.loads(data)
            if not isinstance(command, dict):
                raise ValueError("a request is a JSON object")
        except (OSError, ValueError) as exc:
            self._reply(conn, {"ok": False, "error": f"bad request: {exc}"})
            return False
        cmd = command.get("cmd")
        if cmd == "down":
            _log("going down (asked)")
            problems = self._down()
            self._reply(conn, {"ok": not problems, "problems": problems})
            return True
        if cmd == "status":
            self._reply(conn, {"ok": True, **self.status()})
            return False
        if cmd in {"inject", "clear"}:
            name = str(command.get("fault", ""))
            try:
                (self.runtime.inject if cmd == "inject" else self.runtime.clear)(name)
            except Exception as exc:  # noqa: BLE001 - the lab stays up; the caller sees why
                _log(f"{cmd} {name}: failed: {exc}")
                self._reply(conn, {"ok": False, "error": str(exc), **self.status()})
                return False
            _log(f"{cmd} {name}: active faults now {', '.join(sorted(self.runtime.faults)) or 'none'}")
            self._write_ready()
            self._reply(conn, {"ok": True, **self.status()})
            return False
        self._reply(conn, {"ok": False, "error": f"unknown command {cmd!r} (status, inject, clear, down)"})
        return False

    @staticmethod
    def _reply(conn: socket.socket, reply: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply).encode() + b"\n")

    def _down(self) -> list[str]:
        if getattr(self, "_downed", False):
            return []
        self._downed = True
        started = time.perf_counter()
        problems = self.runtime.down()
        _log(f"lab {self.prefix!r} down in {time.perf_counter() - started:.2f} s"
             + (": " + "; ".join(problems) if problems else ""))
        return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.supervisor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--topology", required=True, type=Path)
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to the jumpbox's round trips")
    parser.add_argument("--sim-latency", type=float, default=0.0, help="seconds each simulator request takes")
    args = parser.parse_args(argv)
    return Supervisor(args.prefix, args.topology, args.fault, latency_s=args.latency,
                      sim_latency_s=args.sim_latency).run()


if __name__ == "__main__":
    sys.exit(main())
