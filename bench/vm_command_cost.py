"""What one SSH connection and one process start on a VM cost, with the suite's own SSH transport.

    ip netns exec <jumpbox> .venv/bin/python bench/vm_command_cost.py --inventory FILE [--vm cp-1] [--runs 20]

Prints one JSON object: ``connect_s`` (TCP, SSH handshake and key login, median over ``--runs``
connections) and ``command_s`` (one allow-listed, trivial command, ``hostname``, over the open
connection: sshd's session, the shell, the process and its exit status; median over ``--runs``).
``bench/suite_floor_bench.py`` multiplies them by what the suite asked (summary.json ``asked``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from wcp_acceptance.inventory.load import load_inventory
from wcp_acceptance.transport.ssh import connect_vm


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--vm", help="control-plane VM name (default: the first)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    inventory = load_inventory(args.inventory)
    vms = {vm.name: vm for vm in inventory.supervisor.control_plane}
    vm = vms[args.vm] if args.vm else next(iter(vms.values()))
    connects: list[float] = []
    commands: list[float] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        connection = connect_vm(vm, inventory.timeouts)
        connects.append(time.perf_counter() - started)
        try:
            runner = connection.runner(inventory.timeouts.command)
            for _ in range(3):
                started = time.perf_counter()
                result = runner.run(["hostname"])
                commands.append(time.perf_counter() - started)
                if not result.ok:
                    print(f"hostname failed on {vm.name}: {result.stderr}", file=sys.stderr)
                    return 1
        finally:
            connection.close()
    print(json.dumps({"vm": vm.name, "connect_s": statistics.median(connects),
                      "command_s": statistics.median(commands), "runs": args.runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
