"""The result line of a VM-side script (the DNS and egress senders print one JSON object last)."""

from __future__ import annotations

import json
from typing import Any

from wcp_acceptance.commands import CommandResult
from wcp_acceptance.finding import ObservationError


def script_record(result: CommandResult, target: str) -> dict[str, Any]:
    """The script's last line as a JSON object; an ObservationError that says why when there is none."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    try:
        record = json.loads(lines[-1]) if lines else None
    except ValueError:
        record = None
    if result.exit_status == 0 and isinstance(record, dict):
        return record
    if result.exit_status == 127:
        why = "python3 is not installed on the VM (exit 127)"
    else:
        stderr = result.stderr.strip().splitlines()
        why = (f"the python3 sender exited {result.exit_status} without a result line"
               + (f": {stderr[-1][:200]}" if stderr else ""))
    raise ObservationError(target, why, (result.evidence(),))
