"""What the plugin's hook modules and the fixtures share: stash keys and the state of one suite run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from wcp_acceptance.inventory import Inventory
from wcp_acceptance.report.run import RunDir
from wcp_acceptance.report.summary import Selection, TestRecord


@dataclass
class SuiteRun:
    """The state of one suite run: inventory, report directory, selection and one record per test."""

    inventory: Inventory
    inventory_path: str
    run_dir: RunDir
    report_root: Path
    started: datetime
    selection: Selection = field(default_factory=Selection)
    records: dict[str, TestRecord] = field(default_factory=dict)
    exit_code: int | None = None
    interrupted_by: str | None = None
    baseline: dict[str, object] | None = None  # the summary this run is compared with ("since the last good run")
    baseline_label: str | None = None


INVENTORY = pytest.StashKey[Inventory]()
RUN = pytest.StashKey[SuiteRun]()
