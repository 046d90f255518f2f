"""The Prometheus textfile of a run (node_exporter's textfile collector)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_textfile(report_root: Path, summary: Mapping[str, Any]) -> Path | None:
    """Write this site's metrics beside the other sites' (one file per site); None until implemented."""
    return None
