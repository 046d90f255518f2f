"""Figures for the lab, printed as a small table (no assertions): how long the lab takes to come up
and go down, how long the suite takes on the healthy lab, and how long a fault takes to inject and clear.

    .venv/bin/python bench/lab_bench.py [--runs N] [--topology FILE] [--fault NAME]... [--all-faults] [--no-cli]

Each of the N rounds brings a lab up (``LabRuntime.up``), runs the suite from its jumpbox as a user
would (a separate pytest process: its wall time), injects and clears each fault, and brings the
lab down (``LabRuntime.down``). Then N rounds of the commands a user types (``wcp-lab up`` /
``wcp-lab down``: interpreter start, detached supervisor, readiness) unless ``--no-cli``. Every
figure is ``time.perf_counter`` wall time; the table shows median, min and max over the rounds.
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
from collections.abc import Callable, Sequence
from pathlib import Path

from wcp_lab.faults import FAULTS
from wcp_lab.runtime import ROOT, LabRuntime
from wcp_lab.topology import DEFAULT_TOPOLOGY, load_topology

DEFAULT_FAULTS = ("seed-shared-dns",)


def timed(action: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


def summary_totals(report_dir: Path) -> dict[str, int]:
    """The totals of the newest summary.json under ``report_dir`` (``{}`` when none was written)."""
    found = sorted(report_dir.glob("*/latest/summary.json"))
    if not found:
        return {}
    totals = json.loads(found[0].read_text()).get("totals", {})
    return {k: int(v) for k, v in totals.items()} if isinstance(totals, dict) else {}


def lab_rounds(args: argparse.Namespace, faults: Sequence[str], figures: dict[str, list[float]],
               exits: list[int], totals: list[dict[str, int]]) -> None:
    topology = load_topology(args.topology)
    for index in range(args.runs):
        prefix = f"{args.prefix}{index}"
        runtime = LabRuntime(topology, prefix, set())
        figures["lab up (LabRuntime.up)"].append(timed(runtime.up))
        try:
            with tempfile.TemporaryDirectory(prefix="wcp-bench-") as reports:
                started = time.perf_counter()
                done = runtime.run_suite(["--report-dir", reports], timeout=args.suite_timeout)
                figures["suite on the healthy lab (wall)"].append(time.perf_counter() - started)
                exits.append(done.returncode)
                totals.append(summary_totals(Path(reports)))
            for name in faults:
                inject = timed(runtime.inject, name)
                clear = timed(runtime.clear, name)
                figures[f"inject {name}"].append(inject)
                figures[f"clear {name}"].append(clear)
                figures[f"inject+clear {name}"].append(inject + clear)
        finally:
            figures["lab down (LabRuntime.down)"].append(timed(runtime.down))
        print(f"  round {index + 1}/{args.runs} done", file=sys.stderr, flush=True)


def cli_rounds(args: argparse.Namespace, figures: dict[str, list[float]]) -> None:
    for index in range(args.runs):
        prefix = f"{args.prefix}c{index}"
        base = [sys.executable, "-m", "wcp_lab"]
        try:
            started = time.perf_counter()
            up = subprocess.run([*base, "up", "--prefix", prefix, "--topology", str(args.topology)],  # noqa: S603
                                cwd=ROOT, capture_output=True, text=True, timeout=90, check=False)
            figures["wcp-lab up (command, wall)"].append(time.perf_counter() - started)
            if up.returncode != 0:
                print(f"  wcp-lab up failed: {up.stderr.strip()}", file=sys.stderr)
        finally:
            started = time.perf_counter()
            subprocess.run([*base, "down", "--prefix", prefix], cwd=ROOT, capture_output=True,  # noqa: S603
                           timeout=90, check=False)
            figures["wcp-lab down (command, wall)"].append(time.perf_counter() - started)


def table(figures: dict[str, list[float]]) -> str:
    width = max(len(name) for name in figures)
    lines = [f"{'figure':<{width}}  {'runs':>4}  {'median':>8}  {'min':>8}  {'max':>8}"]
    for name, values in figures.items():
        lines.append(f"{name:<{width}}  {len(values):>4}  {statistics.median(values):>7.3f}s  "
                     f"{min(values):>7.3f}s  {max(values):>7.3f}s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds per figure (default 3)")
    parser.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY)
    parser.add_argument("--prefix", default=f"b{secrets.token_hex(2)}", help="lab prefix stem (default random)")
    parser.add_argument("--fault", action="append", default=[], help=f"fault to time (default {DEFAULT_FAULTS[0]})")
    parser.add_argument("--all-faults", action="store_true", help="time every fault of the catalogue")
    parser.add_argument("--no-cli", action="store_true", help="skip the wcp-lab up/down command rounds")
    parser.add_argument("--suite-timeout", type=float, default=300.0, help="seconds one suite run may take")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    faults = list(FAULTS) if args.all_faults else (args.fault or list(DEFAULT_FAULTS))
    unknown = [name for name in faults if name not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")

    figures: dict[str, list[float]] = defaultdict(list)
    exits: list[int] = []
    totals: list[dict[str, int]] = []
    print(f"lab bench: topology {args.topology}, {args.runs} round(s), prefix {args.prefix}*", file=sys.stderr)
    lab_rounds(args, faults, figures, exits, totals)
    if not args.no_cli:
        cli_rounds(args, figures)

    order = ["lab up (LabRuntime.up)", "lab down (LabRuntime.down)", "suite on the healthy lab (wall)"]
    ordered = {name: figures[name] for name in order if name in figures}
    ordered |= {name: values for name, values in figures.items() if name not in ordered}
    print(table(ordered))
    checks = sorted({t.get("total", 0) for t in totals})
    print(f"checks run per suite run: {', '.join(map(str, checks)) or 'unknown (no summary.json)'}")
    for index, t in enumerate(totals, 1):
        print(f"  run {index}: exit {exits[index - 1]}, {t.get('passed', 0)} passed, {t.get('failed', 0)} failed, "
              f"{t.get('error', 0)} error, {t.get('skipped', 0)} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
