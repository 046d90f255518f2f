"""Run one API simulator as a process: ``python -m lab.sim.serve --kind nsx|vcenter|kube ...``.

    python -m lab.sim.serve --kind kube --listen 192.168.10.45:443 --listen 192.168.10.45:6443 \\
        --state STATE_JSON --ca-dir DIR --cert-names 172.16.1.2,192.168.10.45 [--ready-file FILE]

The lab starts it inside a node's network namespace (``ip netns exec``). Its state (the
:class:`~lab.model.SupervisorModel`, the credentials, injected HTTP faults and delays, optional
certificate names and days left, the stated latency) comes from a JSON file (:class:`SimState`), so no secret is
ever in argv. Its
certificate is issued by the lab CA saved in ``--ca-dir`` (:meth:`lab.tls.LabCA.save`).

Signals: SIGHUP re-reads the state file (model, faults, delays, latency, certificate names and days
left, a certificate re-issued when either changed; sessions and credentials are kept), SIGTERM/SIGINT
stop it at once (exit status 0). After start-up and after every reload it writes the ready file
(JSON ``{"pid", "generation", "error"}``, replaced atomically) and prints one line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import FrameType
from typing import Any

from ..model import SupervisorModel
from ..tls import LabCA
from .kube import KubeApiHandler, KubeApiSim
from .nsx import NsxPolicyHandler, NsxPolicySim
from .server import SimServer, check_latency
from .vcenter import VcenterHandler, VcenterSim
from .wcp import WcpLogin

KINDS = ("nsx", "vcenter", "kube")
VIA_INTERMEDIATE = frozenset({"kube"})  # the API VIP's certificate comes from the lab's intermediate CA
ALL_REQUESTS = 1 << 62  # "times: null" for the Kubernetes simulator, whose faults count down


@dataclass
class FaultSpec:
    """Answer ``status`` to requests whose path starts with ``prefix`` (``times`` None: every one)."""

    status: int
    prefix: str = "/"
    times: int | None = None
    retry_after: float | None = None
    method: str | None = None
    message: str | None = None


@dataclass
class DelaySpec:
    seconds: float
    prefix: str = "/"


@dataclass
class SimState:
    """Everything the three simulators serve; one file for the whole lab, faults per kind.

    ``latency_s`` is a realistic API's latency, stated on purpose: every simulator (NSX, vCenter,
    Kubernetes) waits that long before answering each request, so wall times measured against the
    lab resemble a real site's instead of loopback's. It is one figure for all three, bounded to
    0..``MAX_LATENCY_S`` (5 s), and separate from ``delays``, which are injected faults.
    """

    model: SupervisorModel
    nsx_username: str
    nsx_password: str
    vcenter_username: str
    vcenter_password: str
    kube_token: str
    faults: dict[str, list[FaultSpec]] = field(default_factory=dict)
    delays: dict[str, list[DelaySpec]] = field(default_factory=dict)
    cert_names: dict[str, list[str]] = field(default_factory=dict)  # kind -> names, overrides --cert-names
    cert_days: dict[str, float] = field(default_factory=dict)  # kind -> days left on a certificate issued for it
    # kind -> days left on a new intermediate CA its certificate is issued from (default: the lab's own)
    cert_intermediate_days: dict[str, float] = field(default_factory=dict)
    latency_s: float = 0.0
    # kubectl vsphere login (lab.sim.wcp): the lab's SSO user and the key its session tokens are signed with
    login_username: str = ""
    login_password: str = ""
    login_key: str = ""

    def __post_init__(self) -> None:
        try:
            self.latency_s = check_latency(self.latency_s)
        except ValueError as exc:
            raise ValueError(f"latency_s: {exc}") from None

    def __repr__(self) -> str:
        return f"<SimState cluster={self.model.ncp_cluster} faults={ {k: len(v) for k, v in self.faults.items()} }>"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimState:
        for key in data.get("faults", {}):
            if key not in KINDS:
                raise ValueError(f"faults for unknown simulator kind {key!r}")
        return cls(
            model=SupervisorModel.from_dict(data["model"]),
            nsx_username=str(data["nsx_username"]),
            nsx_password=str(data["nsx_password"]),
            vcenter_username=str(data["vcenter_username"]),
            vcenter_password=str(data["vcenter_password"]),
            kube_token=str(data["kube_token"]),
            faults={k: [FaultSpec(**f) for f in v] for k, v in data.get("faults", {}).items()},
            delays={k: [DelaySpec(**d) for d in v] for k, v in data.get("delays", {}).items()},
            cert_names={k: [str(n) for n in v] for k, v in data.get("cert_names", {}).items()},
            cert_days={str(k): float(v) for k, v in data.get("cert_days", {}).items()},
            cert_intermediate_days={str(k): float(v) for k, v in data.get("cert_intermediate_days", {}).items()},
            latency_s=data.get("latency_s", 0.0),
            login_username=str(data.get("login_username", "")),
            login_password=str(data.get("login_password", "")),
            login_key=str(data.get("login_key", "")),
        )

    def save(self, path: Path) -> Path:
        """Write atomically (a reader sees the old or the new file, never half), mode 0600."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path) -> SimState:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


# ---- one simulator --------------------------------------------------------------------------------
def build_app(kind: str, state: SimState) -> tuple[type[BaseHTTPRequestHandler], Any]:
    if kind == "nsx":
        return NsxPolicyHandler, NsxPolicySim(state.model, state.nsx_username, state.nsx_password)
    if kind == "vcenter":
        return VcenterHandler, VcenterSim(state.model, state.vcenter_username, state.vcenter_password)
    if kind == "kube":
        return KubeApiHandler, KubeApiSim(state.model, state.kube_token)
    raise ValueError(f"unknown simulator kind {kind!r} (one of {', '.join(KINDS)})")


def apply_state(kind: str, app: Any, state: SimState, *, initial: bool) -> None:
    """Serve ``state``'s model, its stated latency and exactly its faults and delays for ``kind``."""
    app.latency_s = state.latency_s
    if isinstance(app, KubeApiSim):
        if not initial:
            app.reset(state.model)
        app.wcp = WcpLogin(state.login_username, state.login_password, state.login_key) \
            if state.login_username and state.login_key else None
        app.clear_faults()
        for fault in state.faults.get(kind, []):
            app.fail_next(fault.times if fault.times is not None else ALL_REQUESTS, fault.status,
                          message=fault.message, path_prefix=fault.prefix)
        for delay in state.delays.get(kind, [])[-1:]:  # the Kubernetes simulator holds one delay
            app.set_delay(delay.seconds, path_prefix=delay.prefix)
        return
    if not initial:
        sessions = app.sessions.copy()  # a real manager keeps its sessions across a configuration change
        app.reset(state.model)
        app.sessions.update(sessions)
    app.clear_faults()
    for fault in state.faults.get(kind, []):
        app.fail(fault.prefix, fault.status, fault.times, retry_after=fault.retry_after, method=fault.method,
                 message=fault.message)
    for delay in state.delays.get(kind, []):
        app.delay(delay.seconds, delay.prefix)


def server_tls(ca: LabCA, kind: str, names: Sequence[str], days: float | None,
               intermediate_days: float | None) -> ssl.SSLContext:
    """The certificate ``kind`` serves: from the lab's intermediate CA (sent in the handshake) for the API VIP,
    from the root for the others."""
    via = ca.intermediate(intermediate_days) if kind in VIA_INTERMEDIATE else None
    return ca.server_context(*names, days_left=days, via=via)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not ADDRESS:PORT")
    return host.strip("[]"), int(port)


def _write_ready(path: Path | None, generation: int, error: str | None) -> None:
    if path is None:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "generation": generation, "error": error}))
    os.replace(tmp, path)


def _stop_all(servers: Sequence[SimServer]) -> None:
    threads = [threading.Thread(target=s.stop, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.sim.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--listen", required=True, action="append", type=parse_listen, metavar="ADDR:PORT")
    parser.add_argument("--state", required=True, type=Path, metavar="STATE_JSON")
    parser.add_argument("--ca-dir", required=True, type=Path)
    parser.add_argument("--cert-names", required=True, help="comma-separated DNS names / IP addresses")
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args(argv)

    ca = LabCA.load(args.ca_dir)
    state = SimState.load(args.state)
    default_names = [n for n in args.cert_names.split(",") if n]
    names = state.cert_names.get(args.kind) or default_names
    days = state.cert_days.get(args.kind)
    inter_days = state.cert_intermediate_days.get(args.kind)
    handler, app = build_app(args.kind, state)
    apply_state(args.kind, app, state, initial=True)

    wake = threading.Event()
    pending: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        pending.append(signum)
        wake.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)

    servers: list[SimServer] = []
    try:
        tls = server_tls(ca, args.kind, names, days, inter_days)  # one certificate for every port
        for host, port in args.listen:
            servers.append(SimServer(handler, app, tls, host=host, port=port).start())
        generation = 0
        _write_ready(args.ready_file, generation, None)
        print(f"ready kind={args.kind} pid={os.getpid()} listen="
              f"{','.join(f'{s.host}:{s.port}' for s in servers)} names={','.join(names)}", flush=True)
        while True:
            wake.wait(0.5)
            wake.clear()
            while pending:
                received = pending.pop(0)
                if received != signal.SIGHUP:
                    print(f"stopping on signal {received}", flush=True)
                    # nothing to save: leave at once instead of waiting out each accept loop's poll
                    # interval (the kernel closes the sockets; handler threads are daemons)
                    sys.stderr.flush()
                    os._exit(0)
                generation += 1
                error = None
                try:
                    state = SimState.load(args.state)
                    new_names = state.cert_names.get(args.kind) or default_names
                    new_days = state.cert_days.get(args.kind)
                    new_inter = state.cert_intermediate_days.get(args.kind)
                    if (new_names, new_days, new_inter) != (names, days, inter_days):
                        names, days, inter_days = new_names, new_days, new_inter
                        tls = server_tls(ca, args.kind, names, days, inter_days)  # one certificate for every port
                        for server in servers:
                            server.set_tls(tls)
                    apply_state(args.kind, app, state, initial=False)
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                _write_ready(args.ready_file, generation, error)
                print(f"reloaded generation={generation} names={','.join(names)}"
                      + (f" days_left={days:g}" if days is not None else "")
                      + (f" error={error}" if error else ""), flush=True)
    finally:
        if isinstance(app, KubeApiSim):
            app.clear_faults()  # release held requests
        _stop_all(servers)


if __name__ == "__main__":
    sys.exit(main())
