"""Figures for many sites in one invocation, printed as a table (no assertions): 1, 3 and 10 lab sites
side by side in one run of this script, each set run as a user runs it from the host namespace
(``wcp-acceptance run --inventory s1.yaml``; ``wcp-acceptance run s1.yaml ... --jobs N``; each lab
inventory's ``runner.netns`` takes its site into its lab's jumpbox), and the largest set once more
with ``--spawn`` (each site a fresh process) to show what forking the sites saves.

    .venv/bin/python bench/multisite_bench.py [--sites 1,3,10] [--jobs N] [--rounds R] [--no-spawn-row]

The goal: 10 sites take at most 3 x one site's wall. The floor it is measured against is one
site's wall, and the CPU that cannot go away: the CPU seconds one site costs (the suite's processes,
from ``wait4``, and the lab's servers answering it, from /proc) times the number of sites, spread
over the machine's cores. Machine-wide busy time (/proc/stat) is printed too, and what other
processes used meanwhile, so a noisy machine shows. Needs root; touches nothing in the host namespace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from wcp_lab.runtime import ROOT, LabRuntime
from wcp_lab.topology import DEFAULT_TOPOLOGY, load_topology

GOAL = 3.0
TICK = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


@dataclass
class Figures:
    sites: int
    jobs: int
    how: str  # "run --inventory", "forked" or "spawned"
    wall: float
    suite_cpu: float  # the runner and every suite process it waited for (user + system)
    lab_cpu: float  # the labs' servers (simulators, sshd and its sessions, dnsmasq) meanwhile
    busy: float  # the whole machine's busy CPU seconds meanwhile
    exit_code: int
    verdicts: Counter[str]

    @property
    def others(self) -> float:
        return max(0.0, self.busy - self.suite_cpu - self.lab_cpu)


def machine_busy() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / TICK


def netns_inodes(labs: Sequence[LabRuntime]) -> set[int]:
    inodes = set()
    for lab in labs:
        for ns in lab.topology.namespaces(lab.prefix).values():
            with contextlib.suppress(OSError):
                inodes.add(os.stat(f"/run/netns/{ns}").st_ino)
    return inodes


def lab_cpu(inodes: set[int]) -> float:
    """CPU seconds of every process living in the labs' namespaces, with its reaped children (sshd sessions)."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.stat(proc / "ns" / "net").st_ino not in inodes:
                continue
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def site_inventory(lab: LabRuntime, name: str) -> Path:
    """The lab's inventory under a site name of its own (every seed lab calls itself lab-seed)."""
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["name"] = name
    path = lab.inventory_path.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def verdicts(reports: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for summary in reports.glob("*/latest/summary.json"):
        found[str(json.loads(summary.read_text()).get("verdict"))] += 1
    return found


def measure(inventories: Sequence[Path], jobs: int, labs: Sequence[LabRuntime], timeout: float, *,
            spawn: bool = False) -> Figures:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
    inodes = netns_inodes(labs)
    with tempfile.TemporaryDirectory(prefix="wcp-multisite-") as tmp:
        reports = Path(tmp) / "reports"
        if len(inventories) == 1:
            args = ["--inventory", str(inventories[0])]
        else:
            args = [*map(str, inventories), "--jobs", str(jobs), *(["--spawn"] if spawn else [])]
        argv = [sys.executable, "-m", "wcp_acceptance", "run", *args, "--report-dir", str(reports), "-q"]
        lab_before, busy_before = lab_cpu(inodes), machine_busy()
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=subprocess.DEVNULL,  # noqa: S603
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.01)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        busy = machine_busy() - busy_before
        lab = lab_cpu(inodes) - lab_before
        how = "run --inventory" if len(inventories) == 1 else ("spawned" if spawn else "forked")
        return Figures(len(inventories), jobs if len(inventories) > 1 else 1, how, wall,
                       usage.ru_utime + usage.ru_stime, lab, busy, proc.returncode, verdicts(reports))


def report(rows: list[Figures], up_s: float, nlabs: int) -> float | None:
    """Print one round's table and figures; the ratio 10 sites / one site (None without both)."""
    one = next((r for r in rows if r.sites == 1), rows[0])
    print(f"\nmulti-site benchmark: {nlabs} labs up in {up_s:.1f} s; {CPUS} CPUs; "
          f"load average before: {Path('/proc/loadavg').read_text().split()[0]}")
    head = (f"{'sites':>5} {'jobs':>4} {'how':<15} {'wall s':>7} {'x one':>6} {'suite CPU s':>11} {'per site':>8} "
            f"{'lab CPU s':>9} {'machine busy':>12} {'others CPU s':>12}  exit  verdicts")
    print(head)
    print("-" * len(head))
    for r in rows:
        busy = f"{r.busy:.1f} ({100 * r.busy / (r.wall * CPUS):.0f}%)"
        print(f"{r.sites:>5} {r.jobs:>4} {r.how:<15} {r.wall:>7.2f} {r.wall / one.wall:>6.2f} {r.suite_cpu:>11.1f} "
              f"{r.suite_cpu / r.sites:>8.2f} {r.lab_cpu:>9.1f} {busy:>12} {r.others:>12.1f}  {r.exit_code:>4}  "
              + ", ".join(f"{n} {v}" for v, n in sorted(r.verdicts.items())))
    per_site = (one.suite_cpu + one.lab_cpu) / one.sites
    print(f"\nfloor: one site's wall {one.wall:.2f} s (run --inventory); it costs {per_site:.2f} CPU s "
          f"({one.suite_cpu:.2f} suite + {one.lab_cpu:.2f} lab servers)")
    for r in rows:
        if r.sites == 1:
            continue
        cost = (r.suite_cpu + r.lab_cpu) / r.sites
        cpu_floor = r.sites * cost / CPUS
        bound = max(one.wall, cpu_floor)
        print(f"{r.sites} sites {r.how}: wall {r.wall:.2f} s = {r.wall / one.wall:.2f} x one site; a site costs "
              f"{cost:.2f} CPU s ({r.suite_cpu / r.sites:.2f} suite + {r.lab_cpu / r.sites:.2f} lab), so the CPU "
              f"floor is {r.sites} x {cost:.2f} / {CPUS} cores = {cpu_floor:.2f} s ({cpu_floor / one.wall:.2f} x one "
              f"site); wall / max(CPU floor, one site's wall) = {r.wall / bound:.2f}")
    ten = next((r for r in rows if r.sites == 10 and r.how == "forked"), None)
    if ten is not None:
        ratio = ten.wall / one.wall
        verdict = "met" if ratio <= GOAL else f"missed by {ratio - GOAL:.2f} ({100 * (ratio / GOAL - 1):.0f}% over)"
        print(f"\ngoal: 10 sites <= {GOAL:.1f} x one site's wall: ratio {ratio:.2f}, {verdict}")
        return ratio
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", default="1,3,10", help="comma-separated site counts (default 1,3,10)")
    parser.add_argument("--jobs", type=int, default=0, help="--jobs for the multi-site runs (default: all at once)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each count (default 1)")
    parser.add_argument("--topology", default=str(DEFAULT_TOPOLOGY))
    parser.add_argument("--prefix", default="mbs", help="lab prefix; labs are <prefix>0 .. <prefix>N-1")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--no-spawn-row", action="store_true", help="skip the largest set run with --spawn")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.sites.split(",")]
    topology = load_topology(args.topology)
    with contextlib.ExitStack() as stack:
        started = time.perf_counter()
        labs = [stack.enter_context(LabRuntime(topology, f"{args.prefix}{i}", set())) for i in range(max(counts))]
        up_s = time.perf_counter() - started
        inventories = [site_inventory(lab, f"site-{i + 1:02d}") for i, lab in enumerate(labs)]
        rows: list[Figures] = []
        ratios: list[float] = []
        for _ in range(args.rounds):
            round_rows = []
            for n in counts:
                print(f"  {n} site(s) ...", file=sys.stderr, flush=True)
                round_rows.append(measure(inventories[:n], args.jobs or n, labs[:n], args.timeout))
            if not args.no_spawn_row and max(counts) > 1:
                n = max(counts)
                print(f"  {n} sites, --spawn ...", file=sys.stderr, flush=True)
                round_rows.append(measure(inventories[:n], args.jobs or n, labs[:n], args.timeout, spawn=True))
            ratio = report(round_rows, up_s, len(labs))
            if ratio is not None:
                ratios.append(ratio)
            rows += round_rows
        if len(ratios) > 1:
            print(f"\nratio 10 sites / one site over {len(ratios)} rounds: "
                  f"{', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f}, goal <= {GOAL})")
    return 0 if all(r.exit_code == 0 for r in rows) else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    raise SystemExit(main())
