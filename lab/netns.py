"""Build the lab's network from a topology, entirely inside network namespaces, and tear it down.

Every node gets ``ip netns add <prefix>-<node>``; bridges (``br0``) live inside their own
namespace; every veth pair is created directly between two lab namespaces (``ip link add A netns
X type veth peer name B netns Y``), so no interface, address, route, rule or nftables object ever
appears in the host namespace. The commands are batched (one ``ip -batch`` for all namespaces and
veths, one ``ip -n NS -batch`` and one ``sysctl`` per namespace, run concurrently, one ``nft -f``
for the edge), which keeps a seed build well under a second.

Lifecycle:

- The lab's state file ``/run/wcp-lab/<prefix>.json`` (its namespace names) is written, and the
  namespaces are registered for teardown, *before* anything is created; each lab namespace's
  ``lo`` also carries the alias ``wcp-lab <prefix>``. :func:`teardown_prefix` uses both to find
  the orphans of a crashed run without touching anyone else's namespaces that merely share the
  prefix.
- :class:`Registry` holds undo actions in creation order; :meth:`Lab.teardown` runs them in
  reverse, each once, carrying on past failures. Other parts of the lab (services, faults)
  ``lab.registry.push(...)`` their own undo actions so that one teardown removes everything.
- A failure or Ctrl-C during :func:`build` tears down what was built and re-raises. During a
  teardown, SIGINT is held back (in the main thread) and re-delivered once it is complete.
- Deleting a namespace takes its veths, bridges, routes, rules and nftables with it; processes
  still running inside are terminated first (SIGTERM, then SIGKILL), and ``/etc/netns/<ns>`` is
  removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from .nft import NftError, apply_ruleset, edge_ruleset
from .topology import Topology, UplinkRoutes, check_prefix, netns_name

IP = "/usr/sbin/ip"
SYSCTL = "/usr/sbin/sysctl"
NETNS_RUN = Path("/run/netns")
NETNS_ETC = Path("/etc/netns")
STATE_DIR = Path("/run/wcp-lab")
MARK = "wcp-lab"


class LabError(RuntimeError):
    """A lab command failed or did not finish in time (the message names the command and its stderr)."""


# --------------------------------------------------------------------------------------------- commands


def run(argv: Sequence[str], *, input: str | None = None, timeout: float = 10.0,  # noqa: A002
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` bounded by ``timeout``; with ``check`` a non-zero exit raises :class:`LabError`."""
    try:
        done = subprocess.run(  # noqa: S603 -- fixed binaries, lab-generated arguments
            list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv)}: did not finish within {timeout} s") from None
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


def _run_all(jobs: Sequence[tuple[list[str], str | None]], timeout: float) -> None:
    """Run several commands concurrently (each with its stdin text); raise on the first failure."""
    deadline = time.monotonic() + timeout
    started: list[tuple[list[str], subprocess.Popen[str]]] = []
    try:
        for argv, text in jobs:
            process = subprocess.Popen(  # noqa: S603 -- fixed binaries, lab-generated arguments
                argv, stdin=subprocess.PIPE if text is not None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            started.append((argv, process))
            if text is not None and process.stdin is not None:
                process.stdin.write(text)
                process.stdin.close()
        failures = []
        for argv, process in started:
            try:
                process.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                failures.append(f"{' '.join(argv)}: did not finish within {timeout} s")
                continue
            if process.returncode != 0:
                err = process.stderr.read() if process.stderr is not None else ""
                failures.append(f"{' '.join(argv)}: exit {process.returncode}: {err.strip()}")
        if failures:
            raise LabError("\n".join(failures))
    finally:
        for _, process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()


def exec_in(prefix: str, node: str, argv: Sequence[str], timeout: float = 10.0, *, check: bool = False,
            input: str | None = None) -> subprocess.CompletedProcess[str]:  # noqa: A002
    """Run ``argv`` inside ``<prefix>-<node>`` (``ip netns exec``), bounded by ``timeout``; text output."""
    return run([IP, "netns", "exec", netns_name(prefix, node), *argv], input=input, timeout=timeout, check=check)


def popen_in(prefix: str, node: str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """Start ``argv`` inside ``<prefix>-<node>``; the caller owns (and must reap) the process."""
    return subprocess.Popen([IP, "netns", "exec", netns_name(prefix, node), *argv], **popen_kwargs)  # noqa: S603


# --------------------------------------------------------------------------------------------- namespaces


def list_netns() -> list[str]:
    """Every named network namespace (``ip netns list``, names only)."""
    try:
        return sorted(p.name for p in NETNS_RUN.iterdir())
    except FileNotFoundError:
        return []


def _ns_key(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def netns_pids(namespaces: Sequence[str]) -> dict[str, list[int]]:
    """The processes inside each namespace (what ``ip netns pids`` reports, for all at once)."""
    keys = {key: name for name in namespaces if (key := _ns_key(NETNS_RUN / name)) is not None}
    found: dict[str, list[int]] = {name: [] for name in namespaces}
    if not keys:
        return found
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            key = _ns_key(f"/proc/{entry.name}/ns/net")
            if key in keys:
                found[keys[key]].append(int(entry.name))
    return found


def _kill_inside(namespaces: Sequence[str], grace: float) -> list[int]:
    """SIGTERM everything running inside ``namespaces``; SIGKILL what is still there after ``grace``."""
    pids = [pid for group in netns_pids(namespaces).values() for pid in group if pid != os.getpid()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    remaining = pids
    while remaining and time.monotonic() < deadline:
        time.sleep(0.01)
        remaining = [pid for group in netns_pids(namespaces).values() for pid in group if pid in pids]
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def delete_namespaces(namespaces: Sequence[str], *, timeout: float = 10.0) -> None:
    """Kill what runs inside, delete the namespaces (those that exist) and their ``/etc/netns`` dirs."""
    existing = set(list_netns())
    present = [name for name in namespaces if name in existing]
    if present:
        _kill_inside(present, grace=min(1.0, timeout / 4))
        batch = "".join(f"netns delete {name}\n" for name in present)
        run([IP, "-force", "-batch", "-"], input=batch, timeout=timeout, check=False)
    for name in namespaces:
        directory = NETNS_ETC / name
        if directory.is_dir() and not directory.is_symlink():
            shutil.rmtree(directory, ignore_errors=True)
    left = sorted(set(namespaces) & set(list_netns()))
    if left:
        raise LabError(f"network namespaces still present after delete: {', '.join(left)}")


def _marked(name: str, prefix: str, timeout: float) -> bool:
    done = run([IP, "-n", name, "-j", "link", "show", "lo"], timeout=timeout, check=False)
    if done.returncode != 0:
        return False
    with contextlib.suppress(ValueError, IndexError, KeyError, TypeError):
        return bool(json.loads(done.stdout)[0].get("ifalias") == f"{MARK} {prefix}")
    return False


def state_path(prefix: str) -> Path:
    return STATE_DIR / f"{prefix}.json"


def read_state(prefix: str) -> dict[str, Any] | None:
    """The state file of lab ``prefix`` (``None`` when there is none or it is unreadable)."""
    try:
        data = json.loads(state_path(prefix).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def lab_namespaces(prefix: str, *, timeout: float = 10.0) -> list[str]:
    """The namespaces of lab ``prefix`` that exist: named in its state file, or ``<prefix>-*`` marked as the lab's."""
    check_prefix(prefix)
    state = read_state(prefix) or {}
    named = set(state.get("namespaces", []))
    out = []
    for name in list_netns():
        if name in named or (name.startswith(f"{prefix}-") and _marked(name, prefix, timeout)):
            out.append(name)
    return out


def teardown_prefix(prefix: str, *, timeout: float = 10.0) -> list[str]:
    """Remove every leftover of lab ``prefix`` (a crashed run's too); return the namespaces removed.

    Kills the processes still running in its namespaces, deletes the namespaces and their
    ``/etc/netns`` directories (and any ``/etc/netns/<prefix>-*`` whose namespace no longer
    exists), removes the state file. A namespace that merely starts with ``<prefix>-`` but is
    neither in the state file nor marked as the lab's is left alone.
    """
    with _interrupts_deferred():
        found = lab_namespaces(prefix, timeout=timeout)
        state = read_state(prefix) or {}
        delete_namespaces(sorted(set(found) | set(state.get("namespaces", []))), timeout=timeout)
        existing = set(list_netns())
        with contextlib.suppress(FileNotFoundError):
            for directory in NETNS_ETC.glob(f"{prefix}-*"):
                # an /etc/netns dir whose namespace is gone belongs to no one (a crash between the two)
                if directory.name not in existing and directory.is_dir() and not directory.is_symlink():
                    shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            state_path(prefix).unlink()
        return found


def list_labs() -> list[str]:
    """The prefixes of the labs that have a state file (built, or crashed without teardown)."""
    try:
        return sorted(p.stem for p in STATE_DIR.glob("*.json"))
    except OSError:
        return []


# --------------------------------------------------------------------------------------------- lifecycle


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT back while the block runs (main thread only); deliver it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


@dataclass
class _Entry:
    what: str
    undo: Callable[[], None]


class Registry:
    """Undo actions in creation order; :meth:`unwind` runs them newest first, each exactly once."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()

    def push(self, what: str, undo: Callable[[], None]) -> None:
        """Register ``undo`` for ``what`` (register *before* creating, and make ``undo`` tolerate absence)."""
        with self._lock:
            self._entries.append(_Entry(what, undo))

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[str]:
        return [entry.what for entry in self._entries]

    def unwind(self) -> list[str]:
        """Undo everything, newest first; return one line per undo that failed (all are attempted)."""
        errors = []
        while True:
            with self._lock:
                if not self._entries:
                    break
                entry = self._entries.pop()
            try:
                entry.undo()
            except Exception as exc:  # noqa: BLE001 - keep unwinding, report every failure
                errors.append(f"{entry.what}: {exc}")
        return errors


@dataclass
class Lab:
    """A built lab: its topology, prefix, registry of undo actions and build timings."""

    topology: Topology
    prefix: str
    registry: Registry = field(default_factory=Registry)
    timings: dict[str, float] = field(default_factory=dict)

    def ns(self, node: str) -> str:
        if node not in self.topology.nodes:
            raise KeyError(f"no node {node!r} in topology {self.topology.name!r}")
        return netns_name(self.prefix, node)

    @property
    def namespaces(self) -> list[str]:
        return [self.ns(node) for node in self.topology.nodes]

    def exec(self, node: str, argv: Sequence[str], *, timeout: float = 10.0, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess[str]:  # noqa: A002
        """Run ``argv`` in ``node``'s namespace (see :func:`exec_in`); ``check`` raises on a non-zero exit."""
        self.ns(node)
        return exec_in(self.prefix, node, argv, timeout, check=check, input=input)

    def popen(self, node: str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        self.ns(node)
        return popen_in(self.prefix, node, argv, **popen_kwargs)

    def ip_batch(self, node: str, lines: Sequence[str], *, timeout: float = 10.0) -> None:
        """Apply ``ip`` commands (one per line, without ``ip``) inside ``node``'s namespace."""
        run([IP, "-n", self.ns(node), "-batch", "-"], input="".join(f"{line}\n" for line in lines), timeout=timeout)

    def apply_edge_ruleset(self, text: str, *, timeout: float = 10.0) -> None:
        """Replace the edge's nftables table (see :mod:`lab.nft`); a refused ruleset raises :class:`LabError`."""
        try:
            apply_ruleset(self.prefix, self.topology.edge[0], text, timeout=timeout)
        except NftError as exc:
            raise LabError(str(exc)) from exc

    def teardown(self) -> list[str]:
        """Undo everything registered, newest first; SIGINT waits until it is done. Returns failures."""
        started = time.monotonic()
        with _interrupts_deferred():
            errors = self.registry.unwind()
        self.timings["teardown"] = time.monotonic() - started
        return errors

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        errors = self.teardown()
        if errors and exc is None:
            raise LabError("teardown failed:\n" + "\n".join(errors))


def _node_batch(topology: Topology, prefix: str, node: str, uplink_routes: UplinkRoutes = "static") -> str:
    plan = topology.plan(node, uplink_routes=uplink_routes)
    lines = [f"link set lo alias '{MARK} {prefix}'", "link set lo up"]
    if plan.bridge:
        ports = [link.b_if for link in topology.links() if link.b_node == node]
        lines += [f"link add {plan.bridge} type bridge", f"link set {plan.bridge} up"]
        lines += [f"link set {port} master {plan.bridge}" for port in ports]
        lines += [f"link set {port} up" for port in ports]
    for ifname, addresses in plan.addresses.items():
        lines += [f"addr add {address.with_prefixlen} dev {ifname}" for address in addresses]
    own = sorted({link.a_if for link in topology.links() if link.a_node == node}
                 | {link.b_if for link in topology.links() if link.b_node == node and not link.bridge_port})
    lines += [f"link set {ifname} up" for ifname in own]
    lines += ["route add " + " ".join(route.ip_args()) for route in plan.routes]
    lines += ["rule add " + " ".join(rule.ip_args()) for rule in plan.rules]
    return "".join(f"{line}\n" for line in lines)


def build(topology: Topology, prefix: str = "wcp", *, timeout: float = 10.0,
          on_step: Callable[[str], None] | None = None, uplink_routes: UplinkRoutes = "static") -> Lab:
    """Build ``topology``'s network in namespaces ``<prefix>-<node>``; tear down and re-raise on any failure.

    ``on_step(name)`` is called before each step (``state``, ``namespaces``, ``sysctl``,
    ``configure``, ``nat``), e.g. to report progress. Raises :class:`LabError` if a namespace of
    this lab already exists (run :func:`teardown_prefix` first). ``uplink_routes="bgp"`` leaves the
    router's routes to the edge to BGP (:mod:`lab.bird`, started by :class:`lab.runtime.LabRuntime`).
    """
    check_prefix(prefix)
    lab = Lab(topology, prefix)
    names = lab.namespaces
    clash = sorted(set(names) & set(list_netns()))
    if clash:
        raise LabError(f"lab {prefix!r} already exists ({', '.join(clash)}): tear it down first")
    step = on_step or (lambda _name: None)
    started = time.monotonic()
    mark = started
    try:
        step("state")
        path = state_path(prefix)
        lab.registry.push(f"state file {path}", lambda: path.unlink(missing_ok=True))
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"prefix": prefix, "topology": topology.name, "namespaces": names,
                                   "pid": os.getpid(), "created": time.time()}))
        tmp.replace(path)

        step("namespaces")
        lab.registry.push(f"namespaces {', '.join(names)}", lambda: delete_namespaces(names, timeout=timeout))
        batch = [f"netns add {name}" for name in names]
        batch += [f"link add {link.a_if} netns {netns_name(prefix, link.a_node)} type veth "
                  f"peer name {link.b_if} netns {netns_name(prefix, link.b_node)}" for link in topology.links()]
        run([IP, "-batch", "-"], input="".join(f"{line}\n" for line in batch), timeout=timeout)
        lab.timings["namespaces"], mark = time.monotonic() - mark, time.monotonic()

        step("sysctl")
        jobs: list[tuple[list[str], str | None]] = []
        for node in topology.nodes:
            settings = [f"{key}={value}" for key, value in topology.plan(node).sysctls.items()]
            jobs.append(([IP, "netns", "exec", netns_name(prefix, node), SYSCTL, "-q", "-w", *settings], None))
        _run_all(jobs, timeout)
        lab.timings["sysctl"], mark = time.monotonic() - mark, time.monotonic()

        step("configure")
        _run_all([([IP, "-n", netns_name(prefix, node), "-batch", "-"], _node_batch(topology, prefix, node,
                                                                               uplink_routes))
                  for node in topology.nodes], timeout)
        lab.timings["configure"], mark = time.monotonic() - mark, time.monotonic()

        step("nat")
        lab.apply_edge_ruleset(edge_ruleset(topology), timeout=timeout)
        lab.timings["nat"] = time.monotonic() - mark
        lab.timings["build"] = time.monotonic() - started
    except BaseException:
        lab.teardown()
        raise
    return lab
