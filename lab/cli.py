"""``wcp-lab``: bring the lab up and down, look at it, break it on purpose, run the suite in it.

::

    wcp-lab up [--topology FILE] [--prefix P] [--fault NAME]... [--latency 20ms] [--sim-latency 5ms]
                                                                  start a lab that outlives the command
    wcp-lab down [--prefix P]                                     take it down, and any orphan of a crashed run
    wcp-lab status [--prefix P] [--json]                          up or not, supervisor, faults, latency, namespaces
    wcp-lab faults                                                every named fault and the checks that catch it
    wcp-lab inject NAME / wcp-lab clear NAME [--prefix P]         toggle a fault in the running lab
    wcp-lab exec [--node NODE] [--prefix P] -- CMD...             run CMD in a node (default: the jumpbox)
    wcp-lab inventory [--prefix P]                                the inventory the suite uses for the lab
    wcp-lab demo [--topology FILE] [--prefix P] [--fault NAME]... [--report-dir DIR]
                                                                  up, run the suite from the jumpbox, down

A lab started by ``up`` is held by a detached supervisor (:mod:`lab.supervisor`); the other
commands talk to it over its socket. ``--latency`` adds a WAN round trip between the jumpbox
(where the suite runs) and the site (:mod:`lab.latency`); ``--sim-latency`` makes every API
simulator request take that long. Exit status: 0 done, 1 failed or no such lab, 2 bad usage;
``exec`` passes CMD's status through; ``demo`` exits with the suite's status (130 on Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from wcp_acceptance.paths import default_report_root

from . import supervisor as sup
from .faults import FAULTS, Fault
from .latency import LatencyError, format_latency, parse_latency
from .netns import NETNS_ETC, lab_namespaces, list_netns, read_state, teardown_prefix
from .topology import DEFAULT_TOPOLOGY, TOPOLOGIES_DIR, Topology, TopologyError, check_prefix, load_topology

ROOT = Path(__file__).resolve().parents[1]
IP = "/usr/sbin/ip"
UNSHARE = "/usr/bin/unshare"
DEFAULT_PREFIX = "wcp"
UP_TIMEOUT = 60.0
DOWN_TIMEOUT = 30.0
LOG_TAIL = 40


class CliError(Exception):
    """A user-facing failure: printed as ``wcp-lab: <message>``, exit ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------- helpers


def _prefix(value: str) -> str:
    try:
        return check_prefix(value)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None


def _topology(value: str | None) -> tuple[Path, Topology]:
    """The topology file (a path, or the name of a shipped one such as ``alt``), validated."""
    path = Path(value) if value else DEFAULT_TOPOLOGY
    if value and not path.exists() and (TOPOLOGIES_DIR / f"{value}.yaml").exists():
        path = TOPOLOGIES_DIR / f"{value}.yaml"
    try:
        return path.resolve(), load_topology(path)
    except TopologyError as exc:
        raise CliError("the topology cannot be used:\n" + "\n".join(f"  {p}" for p in exc.problems), 2) from None
    except OSError as exc:
        raise CliError(f"cannot read topology {path}: {exc}", 2) from None


def _latency(value: str) -> float:
    """argparse type of ``--latency`` / ``--sim-latency``: ``20ms``, ``0.02s`` or ``0``, as seconds."""
    try:
        return parse_latency(value)
    except LatencyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bgp_line(info: dict[str, Any]) -> str:
    bgp = info.get("bgp") or {}
    if bgp.get("problem"):
        return f"PROBLEM: {bgp['problem']}"
    sides = [f"{side} {(bgp.get(side) or {}).get('state', '?')}" for side in ("edge", "router")]
    learnt = ", ".join(bgp.get("learnt") or []) or "nothing"
    return f"{', '.join(sides)}; router learnt {learnt}"


def _latency_line(info: dict[str, Any]) -> str:
    latency = info.get("latency") or {}
    seconds = float(latency.get("seconds") or 0)
    if latency.get("mechanism", "none") == "none":
        text = "none"
    else:
        text = f"{format_latency(seconds)} on {latency.get('netns')}:{latency.get('interface')} " \
               f"({latency.get('mechanism')}, {latency.get('direction')})"
        line = latency.get("delay_line")
        if isinstance(line, dict):
            text += f", delay line pid {line.get('pid')} " + ("running" if line.get("running") else "NOT RUNNING")
    sim = float(info.get("sim_latency_s") or 0)
    return text + (f"; simulators {format_latency(sim)} per request" if sim else "")


def _known_faults() -> str:
    return ", ".join(sorted(FAULTS))


def _faults(names: Sequence[str]) -> list[str]:
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        raise CliError(f"unknown fault(s): {', '.join(unknown)}; known faults: {_known_faults()}", 2)
    return list(dict.fromkeys(names))


def _leftovers(prefix: str) -> list[str]:
    """What a lab ``prefix`` that is not up left behind (namespaces, state, run files, /etc/netns dirs)."""
    found = [f"namespace {name}" for name in lab_namespaces(prefix)]
    found += [str(path) for path in sup.run_files(prefix)]
    existing = set(list_netns())
    with contextlib.suppress(FileNotFoundError):
        found += [str(d) for d in sorted(NETNS_ETC.glob(f"{prefix}-*")) if d.name not in existing]
    return found


def _refuse_if_present(prefix: str) -> None:
    pid = sup.holder(prefix)
    if pid is not None:
        raise CliError(f"lab {prefix!r} is already up (supervisor pid {pid or '?'}); "
                       f"take it down with `wcp-lab down --prefix {prefix}`")
    left = [item for item in _leftovers(prefix) if not item.endswith((".log", ".lock"))]  # harmless when unheld
    if left:
        raise CliError(f"lab {prefix!r} is not up but a crashed run left {', '.join(left)}; "
                       f"remove it with `wcp-lab down --prefix {prefix}`")


def _log_tail(path: Path, lines: int = LOG_TAIL) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _proc_state(pid: int) -> str | None:
    """The state letter of ``pid`` (``Z`` for a zombie), ``None`` when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _wait_released(prefix: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while sup.holder(prefix) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _wait_exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _proc_state(pid) not in (None, "Z"):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it (as a user would type it)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C in the block (so the lab is torn down either way)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _require_up(prefix: str) -> dict[str, Any]:
    """The running lab's status (from its supervisor, else its ready file); CliError when it is not up."""
    pid = sup.holder(prefix)
    if pid is None:
        raise CliError(f"lab {prefix!r} is not up (start it with `wcp-lab up --prefix {prefix}`)")
    if sup.socket_path(prefix).exists():
        with contextlib.suppress(sup.SupervisorError):
            reply = sup.request(prefix, {"cmd": "status"}, timeout=5.0)
            if reply.get("ok"):
                return reply
    ready = sup.read_ready(prefix)
    if ready is None:
        raise CliError(f"lab {prefix!r} is coming up (pid {pid or '?'}) and not ready yet")
    return ready


# ---------------------------------------------------------------------------------------------- commands


def cmd_faults(args: argparse.Namespace) -> int:
    width = max(len(name) for name in FAULTS)
    for name, fault in FAULTS.items():
        _say(f"{name:<{width}}  {fault.breaks}  -> {_checks(fault)}")
    return 0


def _checks(fault: Fault) -> str:
    parts = []
    for check in fault.checks:
        outcomes = sorted({e.outcome for e in fault.expect if e.check == check})
        parts.append(check if outcomes == ["failed"] else f"{check} ({'/'.join(outcomes)})")
    return ", ".join(parts)


def cmd_up(args: argparse.Namespace) -> int:
    prefix = _prefix(args.prefix)
    faults = _faults(args.fault)
    topology_path, topology = _topology(args.topology)
    _refuse_if_present(prefix)
    sup.STATE_DIR.mkdir(parents=True, exist_ok=True)
    log = sup.log_path(prefix)
    argv = [sys.executable, "-m", f"{__package__}.supervisor", "--prefix", prefix, "--topology", str(topology_path)]
    argv += [item for name in faults for item in ("--fault", name)]
    argv += ["--latency", repr(args.latency), "--sim-latency", repr(args.sim_latency)]
    started = time.perf_counter()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
            argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True, cwd=ROOT)
    finally:
        os.close(fd)
    try:
        with _sigterm_as_interrupt():
            ready = _wait_ready(process, prefix, args.timeout)
    except KeyboardInterrupt:
        _abort_up(process, prefix)
        raise CliError(f"interrupted: lab {prefix!r} was not started", 130) from None
    if ready is None:
        if process.poll() is None:
            _abort_up(process, prefix)
            why = f"did not come up within {args.timeout} s"
        else:
            why = f"did not come up (supervisor exited with status {process.returncode})"
            teardown_prefix(prefix)
        raise CliError(f"lab {prefix!r} {why}; the supervisor's log ({log}) ends:\n{_log_tail(log)}")
    elapsed = time.perf_counter() - started
    _say(f"lab {prefix!r} up in {elapsed:.1f} s: topology {topology.name} ({_display(topology_path)}), "
         f"{len(ready.get('namespaces', []))} namespaces, faults: {', '.join(ready.get('faults', [])) or 'none'}, "
         f"supervisor pid {ready.get('pid')}")
    _say(f"latency: {_latency_line(ready)}")
    _say(f"inventory: {ready.get('inventory')}")
    return 0


def _wait_ready(process: subprocess.Popen[bytes], prefix: str, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = sup.read_ready(prefix)
        if ready is not None and ready.get("pid") == process.pid:
            return ready
        if process.poll() is not None:
            return None
        time.sleep(0.02)
    return None


def _abort_up(process: subprocess.Popen[bytes], prefix: str) -> None:
    """Stop a supervisor that is still coming up (it tears down what it built), then remove what is left."""
    process.terminate()
    try:
        process.wait(timeout=DOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    teardown_prefix(prefix)


def cmd_down(args: argparse.Namespace) -> int:
    prefix = _prefix(args.prefix)
    notes: list[str] = []
    pid = sup.holder(prefix)
    if pid is not None:
        _stop_supervisor(prefix, pid, args.timeout, notes)
        if pid and not _wait_exited(pid, 5.0):  # it released the lab; let it finish leaving
            notes.append(f"supervisor pid {pid} released the lab but had not exited after 5 s")
    removed = teardown_prefix(prefix, timeout=10.0)
    if removed and pid is None:
        notes.append(f"removed {len(removed)} orphaned namespace(s) of a crashed run")
    for path in sup.run_files(prefix):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    left = _leftovers(prefix)
    if sup.holder(prefix) is not None:
        left.append(f"lock of {sup.lock_path(prefix)} (still held)")
    for note in notes:
        _say(note)
    if left:
        raise CliError(f"lab {prefix!r} is not fully down; left: {', '.join(left)}")
    _say(f"lab {prefix!r} is down" if pid is not None or removed else f"lab {prefix!r} was not up; nothing left")
    return 0


def _stop_supervisor(prefix: str, pid: int, timeout: float, notes: list[str]) -> None:
    """Ask the supervisor to go down; SIGTERM it if it does not answer, SIGKILL if it does not leave."""
    try:
        reply = sup.request(prefix, {"cmd": "down"}, timeout=timeout)
        for problem in reply.get("problems") or []:
            notes.append(f"teardown: {problem}")
        if _wait_released(prefix, 5.0):
            return
    except sup.SupervisorError as exc:
        notes.append(f"{exc}; sending SIGTERM to pid {pid or '?'}")
    for signum, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        pid = pid or sup.holder(prefix) or 0
        if pid > 0 and _proc_state(pid) not in (None, "Z"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        if _wait_released(prefix, wait):
            return
        notes.append(f"supervisor pid {pid} did not leave within {wait} s of {signal.Signals(signum).name}")


def cmd_status(args: argparse.Namespace) -> int:
    prefix = _prefix(args.prefix)
    pid = sup.holder(prefix)
    if pid is None:
        left = _leftovers(prefix)
        state = read_state(prefix)
        if args.json:
            _say(json.dumps({"prefix": prefix, "up": False, "leftovers": left}))
        else:
            _say(f"lab {prefix!r}: not up")
            if left:
                topology = f" (topology {state.get('topology')})" if state else ""
                _say(f"  leftovers of a crashed run{topology}: {', '.join(left)}")
                _say(f"  remove them with `wcp-lab down --prefix {prefix}`")
        return 1
    info = _require_up(prefix)
    if args.json:
        _say(json.dumps({"up": True, **{k: v for k, v in info.items() if k != "ok"}}))
        return 0
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("started", 0))))
    held_by = "supervisor" if info.get("socket") else "wcp-lab demo"
    _say(f"lab {prefix!r}: up")
    _say(f"  {held_by}: pid {info.get('pid')}, since {since}, log {info.get('log')}")
    _say(f"  topology:   {info.get('topology_name')} ({info.get('topology')})")
    _say(f"  faults:     {', '.join(info.get('faults', [])) or 'none'}")
    _say(f"  latency:    {_latency_line(info)}")
    _say(f"  bgp:        {_bgp_line(info)}")
    problem = (info.get("latency") or {}).get("problem")
    if problem:
        _say(f"  PROBLEM:    {problem}")
    _say(f"  inventory:  {info.get('inventory')}")
    _say(f"  namespaces: {' '.join(info.get('namespaces', []))}")
    return 0


def cmd_toggle(args: argparse.Namespace) -> int:
    prefix = _prefix(args.prefix)
    _faults([args.name])
    _require_up(prefix)
    try:
        reply = sup.request(prefix, {"cmd": args.command, "fault": args.name}, timeout=args.timeout)
    except sup.SupervisorError as exc:
        raise CliError(str(exc)) from None
    if not reply.get("ok"):
        raise CliError(f"{args.command} {args.name}: {reply.get('error')}")
    verb = "injected" if args.command == "inject" else "cleared"
    _say(f"{args.name}: {verb}; active faults: {', '.join(reply.get('faults', [])) or 'none'}")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    prefix = _prefix(args.prefix)
    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CliError("exec needs a command: wcp-lab exec [--node NODE] -- CMD...", 2)
    info = _require_up(prefix)
    node = args.node or str(info.get("jumpbox"))
    namespace = f"{prefix}-{node}"
    if namespace not in info.get("namespaces", []):
        nodes = sorted(name.removeprefix(f"{prefix}-") for name in info.get("namespaces", []))
        raise CliError(f"lab {prefix!r} has no node {node!r}; nodes: {', '.join(nodes)}", 2)
    sys.stdout.flush()
    sys.stderr.flush()
    # The node's own hostname (a UTS namespace of the command's own), as the VM's sshd has it.
    argv = [IP, "netns", "exec", namespace, UNSHARE, "--uts", "/bin/sh", "-c", 'hostname "$0" && exec "$@"',
            node, *command]
    os.execv(IP, argv)  # noqa: S606 -- fixed binary; stdio, signals and exit status pass straight through


def cmd_inventory(args: argparse.Namespace) -> int:
    prefix = _prefix(args.prefix)
    info = _require_up(prefix)
    path = Path(str(info.get("inventory")))
    if not path.is_file():
        raise CliError(f"lab {prefix!r} is up but its inventory {path} does not exist")
    _say(str(path))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    prefix = _prefix(args.prefix)
    faults = _faults(args.fault)
    topology_path, topology = _topology(args.topology)
    report_dir = Path(args.report_dir).resolve() if args.report_dir else default_report_root()
    _refuse_if_present(prefix)
    lock = sup.take_lock(prefix, timeout=0.5)
    if lock is None:
        raise CliError(f"lab {prefix!r} is already up; take it down with `wcp-lab down --prefix {prefix}`")
    try:
        with _sigterm_as_interrupt():
            return _demo(prefix, faults, topology_path, topology, report_dir, args.timeout,
                         latency_s=args.latency, sim_latency_s=args.sim_latency)
    finally:
        with contextlib.suppress(FileNotFoundError):
            sup.ready_path(prefix).unlink()
        sup.release_lock(prefix, lock)


def _demo(prefix: str, faults: list[str], topology_path: Path, topology: Topology, report_dir: Path,
          timeout: float, *, latency_s: float = 0.0, sim_latency_s: float = 0.0) -> int:
    from .runtime import LabRuntime  # the whole lab: only the demo needs it in this process

    _say(f"wcp-lab demo: lab {prefix!r} from {_display(topology_path)}, faults: {', '.join(faults) or 'none'}")
    runtime = LabRuntime(topology, prefix, set(faults), latency_s=latency_s, sim_latency_s=sim_latency_s)
    started = time.perf_counter()
    interrupted = False
    code = 3
    inventory_name = f"lab-{topology.name}"
    try:
        with runtime as lab:
            _say(f"lab up in {time.perf_counter() - started:.1f} s; inventory {lab.inventory_path}")
            described = sup.describe(lab, topology_path, time.time(), socket=False)
            _say(f"latency: {_latency_line(described)}")
            sup.write_ready(prefix, described)
            inventory_name = _inventory_name(lab.inventory_path, inventory_name)
            argv = lab.suite_argv(["--report-dir", str(report_dir)])
            _say(f"running the suite from {lab.ns(lab.jumpbox)}: {' '.join(argv[4:])}")
            env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
            suite = subprocess.Popen(argv, cwd=ROOT, env=env)  # noqa: S603 -- the suite, as a user runs it
            try:
                code = suite.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _say(f"wcp-lab demo: the suite did not finish within {timeout} s; stopping it")
                _stop_child(suite)
                code = 124
            except KeyboardInterrupt:
                interrupted = True
                _stop_child(suite)
            stopping = time.perf_counter()
            _say("tearing the lab down")
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:  # noqa: BLE001 - up() tore down what it built; say why in one message
        raise CliError(f"lab {prefix!r} failed: {exc}") from None
    else:
        _say(f"lab down in {time.perf_counter() - stopping:.2f} s")
    latest = report_dir / inventory_name / "latest"
    if latest.exists():
        _say(f"report: {_display(latest)} -> {_display(latest.resolve())}")
        _say(f"html:   {_display(latest.resolve() / 'report.html')}")
    else:
        _say(f"no report under {_display(report_dir / inventory_name)}")
    if interrupted:
        _say(f"wcp-lab demo: interrupted; lab {prefix!r} is down")
        return 130
    return code


def _inventory_name(path: Path, default: str) -> str:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return default
    return str(data.get("name", default)) if isinstance(data, dict) else default


def _stop_child(process: subprocess.Popen[bytes]) -> None:
    """Let an interrupted suite write its report (it got Ctrl-C too), then interrupt it, then kill it."""
    try:
        for signum, wait in ((None, 3.0), (signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):
            if signum is not None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


# ---------------------------------------------------------------------------------------------- parser


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="wcp-lab", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    subs = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--prefix", default=DEFAULT_PREFIX, help="lab prefix: namespaces are <prefix>-<node> "
                     f"(default {DEFAULT_PREFIX})")
    build = argparse.ArgumentParser(add_help=False)
    build.add_argument("--topology", metavar="FILE", help="topology file, or the name of a shipped one "
                       f"(default {_display(DEFAULT_TOPOLOGY)})")
    build.add_argument("--fault", action="append", default=[], metavar="NAME", help="start with this fault "
                       "(repeatable; see `wcp-lab faults`)")
    build.add_argument("--latency", type=_latency, default=0.0, metavar="DELAY",
                       help="WAN delay added to every round trip between the jumpbox and the site: "
                            "20ms, 0.02s or 0 (default 0; at most 1 s)")
    build.add_argument("--sim-latency", type=_latency, default=0.0, metavar="DELAY",
                       help="time every API simulator request takes: 20ms, 0.02s or 0 (default 0)")

    up = subs.add_parser("up", parents=[pre, build], help="start a lab that outlives this command")
    up.add_argument("--timeout", type=float, default=UP_TIMEOUT, help="seconds to wait for the lab to come up")
    up.set_defaults(func=cmd_up)
    down = subs.add_parser("down", parents=[pre], help="take the lab down and remove any orphan of a crashed run")
    down.add_argument("--timeout", type=float, default=DOWN_TIMEOUT, help="seconds to wait for the supervisor")
    down.set_defaults(func=cmd_down)
    status = subs.add_parser("status", parents=[pre], help="is the lab up, with which faults (exit 1 if not up)")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(func=cmd_status)
    subs.add_parser("faults", help="the named faults: what each breaks, which checks catch it"
                    ).set_defaults(func=cmd_faults)
    for verb, what in (("inject", "inject a fault into the running lab"), ("clear", "clear an injected fault")):
        toggle = subs.add_parser(verb, parents=[pre], help=what)
        toggle.add_argument("name", metavar="NAME")
        toggle.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the supervisor")
        toggle.set_defaults(func=cmd_toggle)
    run = subs.add_parser("exec", parents=[pre], help="run a command in a node's namespace (default: the jumpbox)")
    run.add_argument("--node", help="node name, e.g. cp-1 (default: the jumpbox)")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...")
    run.set_defaults(func=cmd_exec)
    subs.add_parser("inventory", parents=[pre], help="path of the lab's inventory (exit 1 if no lab)"
                    ).set_defaults(func=cmd_inventory)
    demo = subs.add_parser("demo", parents=[pre, build], help="up, run the suite from the jumpbox, down, "
                           "print where the report is; exits with the suite's status")
    demo.add_argument("--report-dir", metavar="DIR",
                      help="where the suite writes reports (default: the suite's own, see wcp-acceptance run --help)")
    demo.add_argument("--timeout", type=float, default=900.0, help="seconds the suite may run")
    demo.set_defaults(func=cmd_demo)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"wcp-lab: {exc}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        print("wcp-lab: interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
