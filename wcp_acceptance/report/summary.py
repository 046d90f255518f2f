"""summary.json: the machine-readable record of a run, for nightly trends and before/after diffs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

SCHEMA_VERSION = 1
Outcome = Literal["passed", "failed", "error", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")


@dataclass
class TestRecord:
    check_id: str
    nodeid: str
    title: str
    target: str
    outcome: Outcome = "passed"
    duration_s: float = 0.0
    expected: str | None = None
    observed: str | None = None
    cause: str | None = None
    evidence: list[str] = field(default_factory=list)
    skip_reason: str | None = None

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["duration_s"] = round(self.duration_s, 3)
        if self.outcome == "passed":
            for key in ("expected", "observed", "cause", "evidence", "skip_reason"):
                data.pop(key)
        elif self.outcome == "skipped":
            for key in ("expected", "observed", "cause", "evidence"):
                data.pop(key)
        else:
            data.pop("skip_reason")
        return data


def totals(records: list[TestRecord]) -> dict[str, int]:
    counts = Counter(r.outcome for r in records)
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES} | {"total": len(records)}


def write_summary(path: Path, *, inventory: str, started: datetime, finished: datetime, exit_code: int,
                  records: list[TestRecord], extra: dict[str, object] | None = None) -> Path:
    data: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "inventory": inventory,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "exit_code": exit_code,
        "read_only": True,
        "totals": totals(records),
        "tests": [r.as_json() for r in records],
    }
    if extra:
        data.update(extra)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def cron_line(inventory: str, records: list[TestRecord], exit_code: int, report: Path | None) -> str:
    """One line fit for cron mail and log greps."""
    t = totals(records)
    counts = ", ".join(f"{t[o]} {o}" for o in OUTCOMES)
    where = f" report={report}" if report else ""
    if not records:
        verdict = "NO CHECKS RAN"
    else:
        verdict = "HEALTHY" if exit_code == 0 else "UNHEALTHY" if exit_code == 1 else "INCOMPLETE"
    return f"wcp-acceptance {inventory}: {verdict} exit={exit_code} {counts}{where}"
