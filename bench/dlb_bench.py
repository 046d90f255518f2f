"""DLB at scale, printed as a table: the suite's two DLB checks side by side with the script admins write today.

    .venv/bin/python bench/dlb_bench.py [--services 300,3000,10000] [--ports 2] [--latency 0.020] [--quick]

For each size the bench generates ``SupervisorModel.scaled(services, ports)`` (the seed's Services,
28 ports, plus N generated ClusterIP Services of ``--ports`` TCP ports each, so 10,000 x 2 gives
20,028 Service ports, as many DLB virtual servers and pools), drops one generated port's virtual
server (so 20,027 are served and both sides must report that one), and serves it from
three simulator processes (NSX, vCenter, Kubernetes; ``lab.sim`` apps, each in its own process on
its own 127.0.0.x address) that answer every request after the stated latency (default 20 ms, a
realistic NSX manager; ``--latency``). Then, in one invocation:

(a) the suite as a user runs it: ``python -m wcp_acceptance run --inventory site.yaml --check
    WCP-DLB-001 --check WCP-DLB-002``, on an inventory naming the simulators. Its control-plane VMs
    are 127.0.0.x addresses whose SSH port is a listener that only counts connections: the DLB
    selection must make none, and the table says how many it made;
(b) the baseline, ``bench/dlb_baseline.py``: ``kubectl get services -A -o json`` and one NSX search
    per Service port.

Per row: Services, Service ports and virtual servers served, requests by type from the simulators'
own request logs (Kubernetes Service list pages, NSX virtual-server list pages, everything else:
logins, discovery, searches), wall time, peak RSS (``os.wait4``'s ``ru_maxrss`` of the child: the
largest process of its tree, kubectl included for the baseline), whether it found the dropped
port, and baseline/suite ratios. The goals: the suite >= 50 x faster than the baseline at 10,000
Services, and the suite's peak RSS <= 150 MB at 20,000 virtual servers. Figures are wall time on a
shared machine: rough. Only 127.0.0.0/8 is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from wcp_lab.kubeconfig import write_kubeconfig
from wcp_lab.model import SupervisorModel
from wcp_lab.sim.kube import KubeApiSim
from wcp_lab.sim.serve import SimState, apply_state, build_app
from wcp_lab.sim.server import SimServer
from wcp_lab.tls import LabCA

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "dlb_baseline.py"
CHECKS = ("WCP-DLB-001", "WCP-DLB-002")
HOSTS = {"nsx": "127.0.0.11", "vcenter": "127.0.0.12", "kube": "127.0.0.13"}
VIP = "127.0.1.2"  # the API VIP must sit in the ingress network; the DLB checks never contact it
VM_HOSTS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")
NSX_USER, VC_USER = "audit", "readonly@vsphere.local"
GOAL_RATIO = 50.0
GOAL_RSS_MB = 150.0
GOAL_RSS_VS = 20_000
KUBE_SERVICE_LIST = re.compile(r"^/api/v1/(namespaces/[^/]+/)?services/?$")
NSX_VS_LIST = "/policy/api/v1/infra/lb-virtual-servers"


# ---- a simulator in its own process, with a request counter the bench reads over a pipe ------------
def serve_child(kind: str, host: str, state_file: Path, ca_dir: Path) -> int:
    """Serve ``kind`` on ``host`` (a free port), print ``ready PORT``, then answer ``counts``/``clear`` on stdin."""
    state = SimState.load(state_file)
    handler, app = build_app(kind, state)
    apply_state(kind, app, state, initial=True)
    server = SimServer(handler, app, LabCA.load(ca_dir).server_context(host), host=host, port=0).start()
    print(f"ready {server.port}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "counts":
            records = app.list_requests() if isinstance(app, KubeApiSim) else app.requests_to("/", None)
            counts = {"service_pages": 0, "vs_pages": 0, "other": 0}
            for record in records:
                if kind == "kube" and record.method == "GET" and KUBE_SERVICE_LIST.match(record.path):
                    counts["service_pages"] += 1
                elif kind == "nsx" and record.method == "GET" and record.path.rstrip("/") == NSX_VS_LIST:
                    counts["vs_pages"] += 1
                else:
                    counts["other"] += 1
            print(json.dumps(counts), flush=True)
        elif command == "clear":
            if isinstance(app, KubeApiSim):
                with app._lock:  # the Kubernetes simulator has no public log reset apart from reset()
                    app.requests.clear()
            else:
                app.clear_log()
            print("{}", flush=True)
    server.stop()
    return 0


@dataclass
class Child:
    kind: str
    proc: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"https://{HOSTS[self.kind]}:{self.port}"

    def ask(self, command: str) -> dict[str, int]:
        if self.proc.stdin is None or self.proc.stdout is None:
            raise RuntimeError(f"{self.kind} simulator has no pipes")
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer: dict[str, int] = json.loads(self.proc.stdout.readline())
        return answer

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_child(kind: str, state_file: Path, ca_dir: Path, timeout: float = 120.0) -> Child:
    proc = subprocess.Popen([sys.executable, __file__, "--serve-child", kind, str(state_file), str(ca_dir)],  # noqa: S603
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if proc.stdout is None:
        raise RuntimeError(f"{kind} simulator has no stdout")
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("ready "):
        proc.kill()
        raise RuntimeError(f"{kind} simulator did not start ({line!r})")
    return Child(kind, proc, int(line.split()[1]))


# ---- SSH ports that count connections ------------------------------------------------------------
class ConnectionCounter:
    """A listener on each VM address: accepts, counts and closes. The DLB checks must leave it at 0."""

    def __init__(self, hosts: Sequence[str]) -> None:
        self.sockets = []
        for host in hosts:
            sock = socket.socket()
            sock.bind((host, 0))
            sock.listen(16)
            sock.settimeout(0.2)
            self.sockets.append(sock)
        self.port = 0
        self.count = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, args=(s,), daemon=True) for s in self.sockets]
        for thread in self._threads:
            thread.start()

    def ports(self) -> list[int]:
        return [int(s.getsockname()[1]) for s in self.sockets]

    def _accept(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            self.count += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        for sock in self.sockets:
            sock.close()


# ---- one size ------------------------------------------------------------------------------------
@dataclass
class Run:
    who: str
    wall: float
    rss_mb: float
    exit_code: int
    found: bool
    counts: dict[str, int]
    ssh: int = 0
    note: str = ""


@dataclass
class Row:
    services: int
    ports: int
    virtual_servers: int
    runs: list[Run] = field(default_factory=list)


def timed_child(argv: Sequence[str], out: IO[str], err: IO[str] | None, timeout: float,
                env: dict[str, str] | None = None) -> tuple[int, float, float]:
    """Run ``argv``; (exit status, wall seconds, peak RSS MB from wait4's ru_maxrss)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, start_new_session=True)  # noqa: S603
    timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return proc.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024


def write_inventory(workdir: Path, kubeconfig: Path, ca_file: Path, children: dict[str, Child],
                    ssh_ports: list[int], model: SupervisorModel) -> Path:
    key = workdir / "id_ed25519"  # a key nothing trusts: the VMs are counters, not sshd
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
    key.chmod(0o600)
    vms = [{
        "name": f"cp-{i + 1}", "management_address": host,
        "ssh": {"user": "root", "port": ssh_ports[i], "key_file": str(key), "insecure_skip_host_key_check": True},
        "interfaces": {
            "eth0": {"network": "management", "address": f"{host}/24", "gateway": "127.0.0.254",
                     "dns_servers": ["127.0.0.31"]},
            "eth1": {"network": "workload", "address": f"127.0.64.{2 + i}/28", "gateway": "127.0.64.1",
                     "dns_servers": ["127.0.0.32"]},
        },
    } for i, host in enumerate(VM_HOSTS)]
    names = [{"name": "vc.lab.local", "address": HOSTS["vcenter"]}]
    data = {
        "name": "dlb-bench",
        "supervisor": {"name": model.supervisor_name, "control_plane": vms},
        "dns": {"port": 5353,  # loopback servers nothing answers on: the DLB checks ask no DNS
                "management": {"servers": ["127.0.0.31"], "names": names},
                "workload": {"servers": ["127.0.0.32"], "names": names}},
        "networks": {"management": "127.0.0.0/24", "namespace": "127.0.64.0/20", "service": model.service_cidr,
                     "ingress": "127.0.1.0/24", "egress": "127.0.2.0/24", "egress_ip": "127.0.2.1"},
        "api_vip": {"address": VIP, "ports": [443, 6443], "ca_file": str(ca_file)},
        "kubernetes": {"kubeconfig": str(kubeconfig), "context": "lab"},
        "nsx": {"managers": [children["nsx"].url], "ca_file": str(ca_file), "username": NSX_USER,
                "password": {"file": "nsx-password"}, "auth": "session", "cluster": "discover"},
        "vcenter": {"url": children["vcenter"].url, "ca_file": str(ca_file), "username": VC_USER,
                    "password": {"file": "vc-password"}},
        "observer": {"address": "127.0.0.1", "port": 40123, "mode": "socket"},
        "timeouts": {"connect": 2, "command": 5, "dns": 1, "api": 30, "egress": 1},
    }
    path = workdir / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def warm_up(children: dict[str, Child], ca_file: Path, nsx_password: str, token: str, probe_ip: str) -> None:
    """Build the simulators' lazily serialised objects and search index before anything is timed."""
    nsx = requests.Session()
    nsx.trust_env = False  # REQUESTS_CA_BUNDLE from the environment would override verify
    nsx.auth, nsx.verify = (NSX_USER, nsx_password), str(ca_file)
    nsx.get(children["nsx"].url + NSX_VS_LIST, params={"page_size": 1}, timeout=300).raise_for_status()
    nsx.get(children["nsx"].url + "/policy/api/v1/search/query", timeout=300,
            params={"query": f"resource_type:LBVirtualServer AND ip_address:{probe_ip}"}).raise_for_status()
    kube = requests.Session()
    kube.trust_env, kube.verify = False, str(ca_file)
    kube.get(children["kube"].url + "/api/v1/services", params={"limit": 1},
             headers={"Authorization": f"Bearer {token}"}, timeout=300).raise_for_status()
    for child in children.values():
        child.ask("clear")


def collect(children: dict[str, Child]) -> dict[str, int]:
    counts = {"service_pages": 0, "vs_pages": 0, "other": 0}
    for child in children.values():
        for key, value in child.ask("counts").items():
            counts[key] += value
        child.ask("clear")
    return counts


def suite_found(report_dir: Path, missing: str) -> tuple[bool, str]:
    """Did WCP-DLB-001 fail naming the dropped port, and WCP-DLB-002 pass? (from summary.json, which also
    says what the run asked of the site: its own count of SSH connections goes into the note)"""
    found = sorted(report_dir.rglob("summary.json"))
    if not found:
        return False, "no summary.json"
    summary = json.loads(found[-1].read_text())
    tests = summary.get("tests", [])
    asked = summary.get("asked") or {}
    outcomes = {str(t.get("check_id")): str(t.get("outcome")) for t in tests}
    named = any(t.get("check_id") == CHECKS[0] and missing in json.dumps(t) for t in tests)
    note = " ".join(f"{c}={outcomes.get(c, 'absent')}" for c in CHECKS)
    if asked:
        note += f" (summary.json: ssh_connections={asked.get('ssh_connections', 0)})"
    return outcomes.get(CHECKS[0]) == "failed" and outcomes.get(CHECKS[1]) == "passed" and named, note


def bench_size(services: int, ports: int, latency: float, workdir: Path, timeout: float) -> Row:
    workdir.mkdir(parents=True)
    model = SupervisorModel.scaled(services, ports)
    dropped_svc = model.services[-(services // 2) - 1]  # a generated Service in the middle
    dropped = model.drop_dlb_virtual_server(dropped_svc.namespace, dropped_svc.name, dropped_svc.ports[-1].port,
                                            "TCP")
    missing = f"{dropped.namespace}/{dropped.service}"
    ca = LabCA()
    ca_dir = workdir / "ca"
    ca_file = ca.save(ca_dir)
    nsx_password, vc_password = "bench-" + secrets.token_hex(8), "bench-" + secrets.token_hex(8)
    token = "bench-" + secrets.token_hex(16)
    (workdir / "nsx-password").write_text(nsx_password + "\n")
    (workdir / "vc-password").write_text(vc_password + "\n")
    state_file = workdir / "state.json"
    row = Row(services, sum(len(s.ports) for s in model.services if s.has_cluster_ip),
              sum(1 for vs in model.virtual_servers if vs.created_for == "DLB"))

    # the NSX manager's address is in NCP's ncp.ini (a ConfigMap the suite discovers the cluster from):
    # start NSX first, then the Kubernetes simulator with the model that names it
    SimState(model, NSX_USER, nsx_password, VC_USER, vc_password, token, latency_s=latency).save(state_file)
    children = {"nsx": start_child("nsx", state_file, ca_dir)}
    counter = ConnectionCounter(VM_HOSTS)
    try:
        model.nsx_manager = f"{HOSTS['nsx']}:{children['nsx'].port}"
        SimState(model, NSX_USER, nsx_password, VC_USER, vc_password, token, latency_s=latency).save(state_file)
        for kind in ("vcenter", "kube"):
            children[kind] = start_child(kind, state_file, ca_dir)
        kubeconfig = write_kubeconfig(workdir / "kubeconfig", children["kube"].url, ca_file, token, context="lab")
        inventory = write_inventory(workdir, kubeconfig, ca_file, children, counter.ports(), model)
        warm_up(children, ca_file, nsx_password, token, dropped.ip_address)

        report_dir = workdir / "reports"
        argv = [sys.executable, "-m", "wcp_acceptance", "run", "--inventory", str(inventory), "--report-dir",
                str(report_dir), *(a for c in CHECKS for a in ("--check", c)), "-q"]
        with open(workdir / "suite.out", "w") as out:
            code, wall, rss = timed_child(argv, out, subprocess.STDOUT, timeout)  # type: ignore[arg-type]
        found, note = suite_found(report_dir, missing)
        row.runs.append(Run("suite", wall, rss, code, found, collect(children), counter.count, note))

        counter.count = 0
        argv = [sys.executable, str(BASELINE), "--kubeconfig", str(kubeconfig), "--context", "lab",
                "--nsx", children["nsx"].url, "--nsx-user", NSX_USER, "--nsx-password-file",
                str(workdir / "nsx-password"), "--ca-file", str(ca_file), "--json"]
        with open(workdir / "baseline.out", "w") as out:
            code, wall, rss = timed_child(argv, out, None, timeout * 20)
        try:
            result = json.loads((workdir / "baseline.out").read_text().strip().splitlines()[-1])
        except (ValueError, IndexError):
            result = {"missing": []}
        named = [m for m in result.get("missing", []) if m.startswith(missing + " ")]
        row.runs.append(Run("baseline", wall, rss, code, len(result["missing"]) == 1 and bool(named),
                            collect(children), counter.count, f"missing={len(result['missing'])}"))
    finally:
        counter.close()
        for child in children.values():
            child.stop()
    return row


# ---- the table ------------------------------------------------------------------------------------
def print_table(rows: Sequence[Row], latency: float) -> None:
    head = (f"{'Services':>8} {'ports':>6} {'VS':>6} {'who':<8} {'svc pages':>9} {'VS pages':>8} {'other':>6} "
            f"{'wall s':>8} {'RSS MB':>7} {'ssh':>3} {'found':>5} {'x wall':>7} {'x RSS':>6}  verdicts")
    print(f"\nDLB checks vs the admin's script, simulators at {latency * 1000:g} ms a request")
    print(head)
    print("-" * len(head))
    for row in rows:
        suite = next((r for r in row.runs if r.who == "suite"), None)
        for run in row.runs:
            ratio = rss_ratio = ""
            if run.who == "baseline" and suite is not None and suite.wall > 0 and suite.rss_mb > 0:
                ratio, rss_ratio = f"{run.wall / suite.wall:.1f}", f"{run.rss_mb / suite.rss_mb:.2f}"
            print(f"{row.services:>8,} {row.ports:>6,} {row.virtual_servers:>6,} {run.who:<8} "
                  f"{run.counts['service_pages']:>9} {run.counts['vs_pages']:>8} {run.counts['other']:>6} "
                  f"{run.wall:>8.2f} {run.rss_mb:>7.1f} {run.ssh:>3} {'yes' if run.found else 'NO':>5} "
                  f"{ratio:>7} {rss_ratio:>6}  exit={run.exit_code} {run.note}")
    print()
    big = next((r for r in rows if r.services >= 10_000), None)
    if big is None:
        print(f"goal: suite >= {GOAL_RATIO:g} x the baseline at 10,000 Services: not measured (no 10,000 row)")
    else:
        suite, base = (next(r for r in big.runs if r.who == w) for w in ("suite", "baseline"))
        speedup = base.wall / suite.wall
        print(f"goal: suite >= {GOAL_RATIO:g} x the baseline at {big.services:,} Services: {speedup:.1f} x  "
              f"{'PASS' if speedup >= GOAL_RATIO else 'MISS'}")
    at_vs = next((r for r in rows if r.virtual_servers >= GOAL_RSS_VS), None)
    if at_vs is None:
        print(f"goal: suite RSS <= {GOAL_RSS_MB:g} MB at {GOAL_RSS_VS:,} virtual servers: not measured")
    else:
        rss = next(r for r in at_vs.runs if r.who == "suite").rss_mb
        print(f"goal: suite RSS <= {GOAL_RSS_MB:g} MB at {at_vs.virtual_servers:,} virtual servers: {rss:.1f} MB  "
              f"{'PASS' if rss <= GOAL_RSS_MB else 'MISS'}")
    agree = all(run.found for row in rows for run in row.runs)
    print(f"both find the one missing virtual server in every row: {'yes' if agree else 'NO'}; "
          f"SSH connections by the suite: {sum(r.ssh for row in rows for r in row.runs if r.who == 'suite')}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", default="300,3000,10000", help="comma-separated sizes")
    parser.add_argument("--ports", type=int, default=2, help="ports per generated Service")
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per request (default 0.020)")
    parser.add_argument("--quick", action="store_true", help="300 and 3,000 Services only")
    parser.add_argument("--timeout", type=float, default=600.0, help="bound on one suite run (seconds)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    sizes = [300, 3000] if args.quick else [int(s) for s in args.services.split(",") if s]
    rows = []
    workroot = Path(tempfile.mkdtemp(prefix="wcp-dlb-bench-"))
    try:
        for size in sizes:
            print(f"dlb_bench: {size:,} Services x {args.ports} ports ...", file=sys.stderr, flush=True)
            rows.append(bench_size(size, args.ports, args.latency, workroot / f"s{size}", args.timeout))
    finally:
        if args.keep:
            print(f"dlb_bench: work directory kept: {workroot}", file=sys.stderr)
        else:
            import shutil
            shutil.rmtree(workroot, ignore_errors=True)
    print_table(rows, args.latency)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-child":
        kind = sys.argv[2]
        sys.exit(serve_child(kind, HOSTS[kind], Path(sys.argv[3]), Path(sys.argv[4])))
    sys.exit(main())
