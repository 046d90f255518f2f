"""The read-only command runner for the control-plane VMs.

Only the commands in :data:`ALLOWED` ever leave this machine. The allow-list is a table of argv
patterns: each position is either a literal or a validated argument (IPv4 address, DNS name,
port, ...). A command that matches no row raises :class:`ForbiddenCommand` *before* anything is
sent; the SSH transport checks the same table again for every command line it executes, so a
``testinfra`` module that tries to run something else is refused as well.

Arguments are validated, then the argv is quoted with :func:`shlex.join`; the check on the
transport side insists on that canonical quoting, so nothing can be smuggled past the table in
shell syntax.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import shlex
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from wcp_acceptance.finding import ObservationError
from wcp_acceptance.vm_scripts import DNS_QUERY_SCRIPT, EGRESS_SEND_SCRIPT, MANAGER_TLS_SCRIPT

MAX_SHOWN = 160  # characters of a refused command line quoted in the error


class ForbiddenCommand(Exception):
    """A command that is not an allow-listed read-only command; nothing was sent."""

    def __init__(self, argv: Sequence[object], reason: str = "not an allow-listed read-only command") -> None:
        try:
            shown = shlex.join(str(a) for a in argv)
        except TypeError:
            shown = repr(argv)
        if len(shown) > MAX_SHOWN:
            shown = shown[:MAX_SHOWN] + "..."
        super().__init__(f"refusing to run {shown!r}: {reason}")
        self.argv = tuple(argv)


class CommandTimeout(ObservationError):
    """A command did not finish within the command timeout; its channel was closed."""

    def __init__(self, target: str, command: str, timeout: float) -> None:
        shown = command if len(command) <= MAX_SHOWN else command[:MAX_SHOWN] + "..."
        super().__init__(target, f"command {shown!r} did not finish within {timeout:g} s (command timeout)")
        self.command = command
        self.timeout = timeout


# -- argument validators --------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One position of an allow-listed argv: ``name`` is shown in listings, ``check`` validates."""

    name: str
    check: Callable[[str], bool]

    def __str__(self) -> str:
        return self.name


def _is_ipv4(token: str) -> bool:
    try:
        ipaddress.IPv4Address(token)
    except ValueError:
        return False
    return True


_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DNS_NAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_HEX_RE = re.compile(r"(?:[0-9a-f]{2}){12,512}")  # a DNS query: 12-byte header .. 512 bytes
_SECONDS_RE = re.compile(r"\d{1,3}(?:\.\d{1,3})?")
_NONCE_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _is_dns_name(token: str) -> bool:
    return len(token) <= 254 and _DNS_NAME_RE.fullmatch(token) is not None


def _int_in(low: int, high: int) -> Callable[[str], bool]:
    def check(token: str) -> bool:
        return token.isascii() and token.isdigit() and len(token) <= 10 and low <= int(token) <= high

    return check


def _is_seconds(token: str) -> bool:
    return _SECONDS_RE.fullmatch(token) is not None and 0 < float(token) <= 600


def lit(value: str, name: str | None = None) -> Arg:
    return Arg(name or value, lambda token: token == value)


def one_of(*values: str) -> Arg:
    return Arg("|".join(values), lambda token: token in values)


def prefixed(prefix: str, arg: Arg) -> Arg:
    return Arg(f"{prefix}{arg.name}", lambda token: token.startswith(prefix) and arg.check(token[len(prefix) :]))


IPV4 = Arg("<IPv4>", _is_ipv4)
DNS_NAME = Arg("<dns-name>", _is_dns_name)
PORT = Arg("<port>", _int_in(1, 65535))
TABLE = Arg("all|main|local|<table id>", lambda t: t in ("all", "main", "local") or _int_in(0, 2**32 - 1)(t))
HEX = Arg("<hex query>", lambda t: _HEX_RE.fullmatch(t) is not None)
SECONDS = Arg("<seconds>", _is_seconds)
NONCE = Arg("<nonce>", lambda t: _NONCE_RE.fullmatch(t) is not None)
DIG_SECONDS = Arg("<1-60>", _int_in(1, 60))
_RP_FILTER_RE = re.compile(r"/proc/sys/net/ipv4/conf/([A-Za-z0-9][A-Za-z0-9._-]{0,14})/rp_filter")
RP_FILTER_MAX = 8  # files in one cat: all and up to seven interfaces


def _is_rp_filter_file(token: str) -> bool:
    found = _RP_FILTER_RE.fullmatch(token)
    return found is not None and ".." not in found.group(1)


RP_FILTER_FILE = Arg("/proc/sys/net/ipv4/conf/<iface>/rp_filter", _is_rp_filter_file)
PING_PAYLOAD = Arg("<0-9188>", _int_in(0, 9188))  # bytes of ICMP payload: a 9216-byte packet at most
PING_WAIT = Arg("<1-10>", _int_in(1, 10))


@dataclass(frozen=True)
class Rule:
    """One allow-listed command form: the argv must match ``pattern`` position by position."""

    name: str
    pattern: tuple[str | Arg, ...]

    def matches(self, argv: Sequence[str]) -> bool:
        if len(argv) != len(self.pattern):
            return False
        for token, spec in zip(argv, self.pattern, strict=True):
            if isinstance(spec, str):
                if token != spec:
                    return False
            elif not spec.check(token):
                return False
        return True

    def __str__(self) -> str:
        return " ".join(str(p) for p in self.pattern)


DNS_SCRIPT = lit(DNS_QUERY_SCRIPT, "<dns query script>")
EGRESS_SCRIPT = lit(EGRESS_SEND_SCRIPT, "<egress sender script>")
TLS_SCRIPT = lit(MANAGER_TLS_SCRIPT, "<NSX manager TLS handshake script>")

ALLOWED: tuple[Rule, ...] = (
    Rule("ip rule", ("ip", "-j", "rule")),
    Rule("ip rule", ("ip", "-j", "rule", "show")),
    Rule("ip addr", ("ip", "-j", "addr")),
    Rule("ip addr", ("ip", "-j", "addr", "show")),
    Rule("ip route table", ("ip", "-j", "route", "show", "table", TABLE)),
    Rule("ip route get", ("ip", "-j", "route", "get", IPV4)),
    Rule("ip route get", ("ip", "-j", "route", "get", IPV4, "from", IPV4)),
    Rule("resolv.conf", ("cat", "/etc/resolv.conf")),
    Rule("resolvectl", ("resolvectl", one_of("status", "dns"))),
    Rule("getent", ("getent", "ahostsv4", DNS_NAME)),
    Rule("getent (bounded)", ("timeout", DIG_SECONDS, "getent", "ahostsv4", DNS_NAME)),
    Rule("hostname", ("hostname",)),
    Rule("command -v", ("command", "-v", one_of("python3", "dig"))),
    Rule("dns query (python3)", ("python3", "-c", DNS_SCRIPT, IPV4, IPV4, PORT, HEX, SECONDS)),
    Rule("egress datagram (python3)", ("python3", "-c", EGRESS_SCRIPT, IPV4, IPV4, PORT, NONCE, SECONDS)),
    # routing (return path), time, mtu
    *(Rule("rp_filter", ("cat", *[RP_FILTER_FILE] * n)) for n in range(1, RP_FILTER_MAX + 1)),
    Rule("clock", ("date", "+%s.%N")),
    Rule("ping, don't fragment", ("ping", "-n", "-M", "do", "-s", PING_PAYLOAD, "-c", "1", "-W", PING_WAIT,
                                  "-I", IPV4, IPV4)),
    Rule("NSX manager TLS handshake (python3)", ("python3", "-c", TLS_SCRIPT, IPV4, DNS_NAME, PORT, SECONDS)),
    Rule(
        "dns query (dig)",
        (
            "dig",
            "-b",
            IPV4,
            prefixed("@", IPV4),
            "-p",
            PORT,
            DNS_NAME,
            one_of("A", "PTR"),
            "+tries=1",
            prefixed("+time=", DIG_SECONDS),
            "+noall",
            "+answer",
            "+comments",
        ),
    ),
)


def check_argv(argv: Sequence[object]) -> Rule:
    """Return the allow-list row ``argv`` matches, or raise :class:`ForbiddenCommand`."""
    if isinstance(argv, str | bytes) or not argv:
        raise ForbiddenCommand([argv] if isinstance(argv, str | bytes) else [], "an argv must be a non-empty list")
    if not all(isinstance(a, str) for a in argv):
        raise ForbiddenCommand(argv, "every argument must be a string")
    tokens: list[str] = [str(a) for a in argv]
    for rule in ALLOWED:
        if rule.matches(tokens):
            return rule
    raise ForbiddenCommand(tokens)


def check_command_line(line: str) -> tuple[str, ...]:
    """The transport-side check: ``line`` must be the shlex.join of an allow-listed argv."""
    try:
        argv = tuple(shlex.split(line))
    except ValueError:
        raise ForbiddenCommand([line], "unbalanced shell quoting") from None
    check_argv(argv)
    if shlex.join(argv) != line:
        raise ForbiddenCommand(argv, "the command line is not in canonical shlex quoting")
    return argv


# -- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    """What one allow-listed command printed on a VM."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str
    elapsed_s: float

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def evidence(self) -> str:
        """One block for a report: the command, its status and its output."""
        parts = [f"$ {self.command if len(self.command) <= MAX_SHOWN else self.argv[0] + ' ...'}"]
        if self.stdout.strip():
            parts.append(self.stdout.rstrip())
        if self.stderr.strip():
            parts.append(f"[stderr] {self.stderr.rstrip()}")
        parts.append(f"[exit {self.exit_status}, {self.elapsed_s:.2f} s]")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<CommandResult {self.argv[0]} exit={self.exit_status} {self.elapsed_s:.2f}s>"


@runtime_checkable
class LineExecutor(Protocol):
    """Something that executes one (already checked) command line with a deadline."""

    def exec_line(self, line: str, timeout: float) -> tuple[int, bytes, bytes]: ...


def _decode(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


# Commands whose answer does not change during a run: asked once per runner (one runner per VM per run).
# A command that could not run (SSH down, timeout) is not remembered; the next caller asks again.
ONCE_PER_RUNNER: frozenset[tuple[str, ...]] = frozenset({
    ("command", "-v", "python3"),
    ("command", "-v", "dig"),
    ("cat", "/etc/resolv.conf"),
})


class ReadOnlyRunner:
    """Runs allow-listed commands on one VM, each bounded by ``command_timeout`` seconds.

    ``host`` is a :class:`wcp_acceptance.transport.ssh.VmConnection`, or a ``testinfra`` Host
    (its backend is used through ``exec_line`` when it has one, else through ``run`` on a
    watchdog thread that gives up at the deadline).
    """

    def __init__(self, host: Any, vm_name: str, command_timeout: float) -> None:
        if command_timeout <= 0:
            raise ValueError("command_timeout must be positive")
        self.host = host
        self.vm_name = vm_name
        self.command_timeout = command_timeout
        self._once: dict[tuple[str, ...], CommandResult] = {}
        self._once_lock = threading.Lock()
        self._sent = itertools.count()  # next() is atomic: concurrent probes on one VM count right
        self.commands = 0  # commands sent to the VM (a cached answer sends none)

    def __repr__(self) -> str:
        return f"<ReadOnlyRunner {self.vm_name} timeout={self.command_timeout:g}s>"

    def run(self, argv: Sequence[str]) -> CommandResult:
        """Run ``argv`` if it is allow-listed (else raise :class:`ForbiddenCommand`, nothing sent)."""
        check_argv(argv)
        tokens = tuple(argv)
        if tokens in ONCE_PER_RUNNER:
            with self._once_lock:  # concurrent callers wait for the first answer instead of asking again
                if tokens not in self._once:
                    self._once[tokens] = self._run_checked(tokens)
                return self._once[tokens]
        return self._run_checked(tokens)

    def _run_checked(self, tokens: tuple[str, ...]) -> CommandResult:
        line = shlex.join(tokens)
        started = time.monotonic()
        self.commands = next(self._sent) + 1
        status, out, err = self._execute(line)
        return CommandResult(tokens, status, _decode(out), _decode(err), time.monotonic() - started)

    def available(self, program: Literal["python3", "dig"]) -> bool:
        """Is ``program`` on the VM's PATH? (``command -v``, asked once per runner.)"""
        return self.run(["command", "-v", program]).ok

    def _execute(self, line: str) -> tuple[int, bytes | str, bytes | str]:
        executor = self.host if isinstance(self.host, LineExecutor) else getattr(self.host, "backend", None)
        if isinstance(executor, LineExecutor):
            return executor.exec_line(line, self.command_timeout)
        return self._run_on_watchdog(line)

    def _run_on_watchdog(self, line: str) -> tuple[int, bytes | str, bytes | str]:
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                result = self.host.run(line)
                outcome["result"] = (int(result.exit_status), result.stdout_bytes, result.stderr_bytes)
            except Exception as exc:  # reported below, as a could-not-observe
                outcome["error"] = exc

        worker = threading.Thread(target=work, name=f"cmd-{self.vm_name}", daemon=True)
        worker.start()
        worker.join(self.command_timeout)
        if worker.is_alive():
            raise CommandTimeout(self.vm_name, line, self.command_timeout)
        if "error" in outcome:
            error = outcome["error"]
            if isinstance(error, ObservationError | ForbiddenCommand):
                raise error
            raise ObservationError(self.vm_name, f"running {line.split(' ', 1)[0]} failed: {type(error).__name__}")
        status, out, err = outcome["result"]
        return status, out, err
