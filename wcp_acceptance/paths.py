"""Where the packaged suite lives and where reports go by default (no pytest here)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def live_dir() -> Path:
    """The directory of the packaged checks (``tests_live/`` of a checkout, or the installed copy)."""
    spec = importlib.util.find_spec("wcp_acceptance.tests_live")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a broken install
        raise RuntimeError("the packaged suite wcp_acceptance.tests_live is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def checkout_root() -> Path | None:
    """The source checkout the suite runs from, if it does (an editable install), else None."""
    root = live_dir().parent
    return root if (root / "pyproject.toml").is_file() and (root / "conftest.py").is_file() else None


def default_report_root() -> Path:
    checkout = checkout_root()
    if checkout is not None:
        return checkout / "reports"
    if os.geteuid() == 0:
        return Path("/var/lib/wcp-acceptance/reports")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "wcp-acceptance" / "reports"
