"""What the plugin's hook modules and the fixtures share: stash keys and the state of one suite run."""

from __future__ import annotations

from collections.abc import Callable
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
    asked: dict[str, int] = field(default_factory=dict)  # what the run asked of the site (summary.json "asked")

    def count_asked(self, counts: dict[str, int]) -> None:
        """Add a reader's or the VM pool's counts, when it is torn down (the end of the run)."""
        for key, value in counts.items():
            self.asked[key] = self.asked.get(key, 0) + int(value)


AskedCounter = Callable[[dict[str, int]], None]
"""What a reader or the VM pool calls at teardown with what it asked of the site (``SuiteRun.count_asked``)."""

INVENTORY = pytest.StashKey[Inventory]()
RUN = pytest.StashKey[SuiteRun]()
