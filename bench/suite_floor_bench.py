"""The suite on the healthy lab against its floor, at 0 and at a WAN round trip; and what silent VMs cost.

    .venv/bin/python bench/suite_floor_bench.py [--rounds 3] [--latency 20ms] [--no-silent]

Two labs are up side by side, one with no added latency and one with ``--latency`` between the
jumpbox (where the suite runs) and the site (``wcp-lab up --latency``). Each round runs, in turn on
both labs, the suite as a user runs it (``wcp-acceptance run`` from the jumpbox: its wall time) and
a start-up run that selects no check (interpreter, plugin, collection and the report, nothing
observed). Medians over the rounds are printed, with what the suite asked (summary.json
``asked``: API requests, SSH connections and commands).

The floor at 0 ms is what cannot go away: the start-up run, the import of the libraries the suite
loads only when a check needs them (the Kubernetes client, paramiko, testinfra, scapy: CPU, timed
apart), plus one VM's share of the work (the VMs are observed concurrently): one SSH connection
and its commands, each a process start on the VM, costed by ``bench/vm_command_cost.py`` with the
suite's own SSH transport. Goal: the healthy
run takes at most 1.3 x that floor.

At the WAN latency, the network part is the healthy wall time minus the 0 ms one, and in round
trips that divided by the added round-trip time. Goal: at most 40 round trips (what the suite asks
is hundreds of requests and commands: the rest overlap).

Silent VMs (lab faults ``cp-vm-silent``, ``cp-vms-silent``: packets to sshd dropped, so the connect
timeout runs out): the extra wall time over the healthy run, for 1 and 3 silent VMs, against one
connect timeout. Goal: 3 silent VMs cost at most 1.2 x one connect timeout in total.

Needs root (it builds network namespaces); it touches nothing in the host namespace.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from wcp_lab.inventory import LAB_TIMEOUTS
from wcp_lab.latency import parse_latency
from wcp_lab.runtime import ROOT, LabRuntime
from wcp_lab.topology import DEFAULT_TOPOLOGY, load_topology

FLOOR_GOAL = 1.3
RTT_GOAL = 40
SILENT_GOAL = 1.2
NO_CHECK = ["--", "-k", "no_check_has_this_name"]  # selects nothing: start-up, collection and the report only


def suite_run(lab: LabRuntime, extra: list[str], timeout: float) -> tuple[float, dict[str, object]]:
    """One suite run from the lab's jumpbox: its wall time and its summary.json."""
    with tempfile.TemporaryDirectory(prefix="wcp-bench-") as reports:
        started = time.perf_counter()
        done = lab.run_suite(["--report-dir", reports, "-q", *extra], timeout=timeout)
        wall = time.perf_counter() - started
        found = sorted(Path(reports).glob("*/latest/summary.json"))
        if not found:
            sys.exit(f"no summary.json from the suite (exit {done.returncode}):\n{done.stdout[-2000:]}"
                     f"{done.stderr[-2000:]}")
        summary: dict[str, object] = json.loads(found[0].read_text())
    return wall, summary


def vm_cost(lab: LabRuntime) -> dict[str, float]:
    argv = ["ip", "netns", "exec", lab.ns(lab.jumpbox), sys.executable, str(ROOT / "bench" / "vm_command_cost.py"),
            "--inventory", str(lab.inventory_path)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)  # noqa: S603
    cost: dict[str, float] = json.loads(done.stdout)
    return cost


LAZY_IMPORTS = "import kubernetes.client, paramiko, testinfra, scapy.layers.inet, scapy.layers.l2, scapy.sendrecv"


def lazy_import_cost(runs: int = 3) -> float:
    """CPU the suite spends importing the libraries it loads only when a check needs them (the start-up
    run loads none): the Kubernetes client, paramiko and testinfra, scapy. Median of ``runs``."""
    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)  # noqa: S603
        return time.perf_counter() - started
    base = "import wcp_acceptance.plugin"
    return statistics.median(once(f"{base}; {LAZY_IMPORTS}") - once(base)
                             for _ in range(runs))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", default="20ms", help="the WAN round trip added on the second lab")
    parser.add_argument("--no-silent", action="store_true", help="skip the silent-VM rows")
    parser.add_argument("--suite-timeout", type=float, default=600.0)
    args = parser.parse_args()
    rtt = parse_latency(args.latency)
    topology = load_topology(DEFAULT_TOPOLOGY)
    tag = secrets.token_hex(2)
    labs = {0.0: LabRuntime(topology, f"bf{tag}a", set()),
            rtt: LabRuntime(topology, f"bf{tag}b", set(), latency_s=rtt)}
    walls: dict[str, list[float]] = defaultdict(list)
    asked: dict[float, dict[str, object]] = {}
    try:
        for lab in labs.values():
            lab.up()
        cost = vm_cost(labs[0.0])
        imports = lazy_import_cost()
        for _ in range(args.rounds):
            for latency, lab in labs.items():
                wall, summary = suite_run(lab, NO_CHECK, args.suite_timeout)
                walls[f"start-up {latency}"].append(wall)
                wall, summary = suite_run(lab, [], args.suite_timeout)
                if summary.get("verdict") != "HEALTHY":
                    sys.exit(f"the healthy lab at {latency * 1000:g} ms was {summary.get('verdict')}")
                walls[f"healthy {latency}"].append(wall)
                asked[latency] = dict(summary.get("asked") or {})  # type: ignore[arg-type]
        silent: dict[str, list[float]] = defaultdict(list)
        if not args.no_silent:
            lab = labs[0.0]
            for _ in range(args.rounds):
                for fault in ("cp-vm-silent", "cp-vms-silent"):
                    lab.inject(fault)
                    try:
                        wall, _summary = suite_run(lab, [], args.suite_timeout)
                    finally:
                        lab.clear(fault)
                    silent[fault].append(wall)
                wall, _summary = suite_run(lab, [], args.suite_timeout)
                walls["healthy 0.0"].append(wall)
    finally:
        for lab in labs.values():
            lab.down()

    counts = asked[0.0]
    vms = max(1, int(counts.get("ssh_connections", 0) or 0))  # type: ignore[call-overload]
    commands = int(counts.get("ssh_commands", 0) or 0)  # type: ignore[call-overload]
    requests = sum(int(v) for k, v in counts.items() if k.endswith("_requests"))  # type: ignore[call-overload]
    start0, healthy0 = median(walls["start-up 0.0"]), median(walls["healthy 0.0"])
    startn, healthyn = median(walls[f"start-up {rtt}"]), median(walls[f"healthy {rtt}"])
    vm_share = cost["connect_s"] + commands / vms * cost["command_s"]
    floor = start0 + imports + vm_share
    network = healthyn - healthy0
    trips = network / rtt if rtt else float("nan")
    print(f"suite on the healthy lab, {args.rounds} rounds side by side, medians "
          f"(jumpbox round trip +{rtt * 1000:g} ms on the second lab)")
    per_api = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k.endswith("_requests"))
    print(f"  asked of the site: {requests} API requests ({per_api}), "
          f"{vms} SSH connections, {commands} SSH commands ({commands / vms:.0f} per VM)")
    print(f"  one SSH connection {cost['connect_s'] * 1000:.1f} ms, one command (a process start on the VM) "
          f"{cost['command_s'] * 1000:.1f} ms")
    print(f"{'':34}{'0 ms':>10}{f'{rtt * 1000:g} ms':>10}")
    print(f"{'start-up (no check selected)':34}{start0:>9.2f}s{startn:>9.2f}s")
    print(f"{'healthy suite':34}{healthy0:>9.2f}s{healthyn:>9.2f}s")
    print(f"{'floor: start-up + imports + 1 VM':34}{floor:>9.2f}s")
    print(f"  imports only a check needs (Kubernetes client, paramiko, testinfra, scapy): {imports:.2f} s")
    print(f"  one VM's share: connect + {commands / vms:.0f} commands = {vm_share:.2f} s")
    ratio = healthy0 / floor
    print(f"healthy / floor at 0 ms: {ratio:.2f} x (goal <= {FLOOR_GOAL}): {'PASS' if ratio <= FLOOR_GOAL else 'MISS'}")
    print(f"network part at {rtt * 1000:g} ms: {network:.2f} s = {trips:.1f} round trips "
          f"(of {requests + commands + vms} requests, commands and connections; goal <= {RTT_GOAL}): "
          f"{'PASS' if trips <= RTT_GOAL else 'MISS'}")
    if silent:
        connect = float(LAB_TIMEOUTS["connect"])
        print(f"silent VMs (connect timeout {connect:g} s), extra wall over the healthy run:")
        for fault, label in (("cp-vm-silent", "1 silent VM"), ("cp-vms-silent", "3 silent VMs")):
            extra = median(silent[fault]) - healthy0
            print(f"  {label:14}{median(silent[fault]):>7.2f}s  +{extra:.2f} s = {extra / connect:.2f} x one timeout")
        extra3 = median(silent["cp-vms-silent"]) - healthy0
        print(f"3 silent VMs: {extra3 / connect:.2f} x one connect timeout (goal <= {SILENT_GOAL}): "
              f"{'PASS' if extra3 <= SILENT_GOAL * connect else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
