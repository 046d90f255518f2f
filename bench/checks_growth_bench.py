"""What the checks beyond the card cost a healthy run: the card's 13 check ids against the whole catalogue.

    .venv/bin/python bench/checks_growth_bench.py [--rounds 5]

One healthy lab; each round runs, in turn, the suite as a user runs it (``wcp-acceptance run`` from
the jumpbox: its wall time) with only the card's check ids selected (``--check`` each; the run then
observes only what those checks need) and with every check of the catalogue. Medians over the
rounds are printed side by side with the targets, API requests and SSH commands each asked.

Observe once, judge many: the checks beyond the card reuse what the card's checks already observe
(the VMs' routing, the DNS queries' wave, the Service list, the Tier-1 list) and start what is new
in the same early wave. Goal: the whole catalogue takes at most 2 x the card's checks' wall time.

Needs root (it builds network namespaces); it touches nothing in the host namespace.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
from collections import defaultdict

from suite_floor_bench import suite_run
from wcp_lab.runtime import LabRuntime
from wcp_lab.topology import DEFAULT_TOPOLOGY, load_topology

from wcp_acceptance.catalogue import IDS

GOAL = 2.0
CARD = ("WCP-DNS-001", "WCP-DNS-002", "WCP-DNS-003", "WCP-RT-001", "WCP-EGR-001", "WCP-EGR-002", "WCP-DLB-001",
        "WCP-DLB-002", "WCP-VIP-001", "WCP-VIP-002", "WCP-VIP-003", "WCP-NCP-001", "WCP-NCP-002")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--suite-timeout", type=float, default=600.0)
    args = parser.parse_args()
    missing = set(CARD) - IDS
    if missing:
        sys.exit(f"the card's check ids are no longer in the catalogue: {', '.join(sorted(missing))}")
    runs = {"card's 13 checks": [arg for check in CARD for arg in ("--check", check)],
            f"all {len(IDS)} checks": []}
    lab = LabRuntime(load_topology(DEFAULT_TOPOLOGY), f"bg{secrets.token_hex(2)}", set())
    walls: dict[str, list[float]] = defaultdict(list)
    shape: dict[str, tuple[int, int, int]] = {}
    try:
        lab.up()
        for _ in range(args.rounds):
            for label, extra in runs.items():
                wall, summary = suite_run(lab, extra, args.suite_timeout)
                if summary.get("verdict") != "HEALTHY":
                    sys.exit(f"the healthy lab was {summary.get('verdict')} with the {label}")
                walls[label].append(wall)
                asked = dict(summary.get("asked") or {})  # type: ignore[call-overload]
                requests = sum(int(v) for k, v in asked.items() if k.endswith("_requests"))
                totals = summary.get("totals") or {}
                shape[label] = (int(totals.get("total", 0)), requests,  # type: ignore[union-attr]
                                int(asked.get("ssh_commands", 0) or 0))
    finally:
        lab.down()
    print(f"healthy lab, {args.rounds} rounds side by side, medians of the wall time of wcp-acceptance run")
    print(f"{'':22}{'wall':>8}{'min':>8}{'max':>8}{'targets':>9}{'API req':>9}{'SSH cmds':>10}")
    for label in runs:
        w = walls[label]
        targets, requests, commands = shape[label]
        print(f"{label:22}{statistics.median(w):>7.2f}s{min(w):>7.2f}s{max(w):>7.2f}s{targets:>9}{requests:>9}"
              f"{commands:>10}")
    card, full = (statistics.median(walls[label]) for label in runs)
    ratio = full / card
    print(f"all checks / card's checks: {ratio:.2f} x (goal <= {GOAL}): {'PASS' if ratio <= GOAL else 'MISS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
