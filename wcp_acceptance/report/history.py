"""A site's history: the run folders under ``<report root>/<site>/``, ``last-good`` and the site's index."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def record_run(run_path: Path, summary: Mapping[str, Any]) -> None:
    """After a run finished its summary: move ``last-good`` if it was a healthy full run, refresh the index."""
