"""summary.json: the machine-readable record of a run, for nightly trends and before/after diffs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from wcp_acceptance import __version__, catalogue
from wcp_acceptance.redact import redact_data
from wcp_acceptance.report.records import OUTCOMES, Outcome, Selection, TestRecord
from wcp_acceptance.report.verdict import cron_line, scope_of, totals, verdict_of

SCHEMA_VERSION = 2

__all__ = ["OUTCOMES", "SCHEMA_VERSION", "Outcome", "Selection", "TestRecord", "cron_line", "summary_data",
           "totals", "write_json", "write_summary"]


def summary_data(*, site: str, supervisor: str, started: datetime, finished: datetime | None, exit_code: int | None,
                 records: Iterable[TestRecord], selection: Selection, interrupted_by: str | None = None,
                 state: str = "finished", extra: dict[str, object] | None = None) -> dict[str, object]:
    listed = list(records)
    scope = scope_of(selection, listed, interrupted_by=interrupted_by)
    data: dict[str, object] = {
        "schema_version": SCHEMA_VERSION,
        "suite_version": __version__,
        "catalogue_version": catalogue.catalogue_version(),
        "inventory": site,
        "supervisor": supervisor,
        "state": state,
        "pid": os.getpid(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds") if finished else None,
        "exit_code": exit_code,
        "verdict": verdict_of(listed, interrupted_by=interrupted_by) if state == "finished" else "INCOMPLETE",
        "interrupted_by": interrupted_by,
        "scope": {"full": scope.full, "text": scope.text, **selection.as_json()},
        "read_only": True,
        "totals": totals(listed),
        "tests": [r.as_json() for r in listed],
    }
    if extra:
        data.update(extra)
    return data


def write_json(path: Path, data: dict[str, object]) -> Path:
    """Write atomically: a reader (or a kill) never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(redact_data(data), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def write_summary(path: Path, **kwargs: object) -> Path:
    return write_json(path, summary_data(**kwargs))  # type: ignore[arg-type]
