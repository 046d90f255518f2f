"""Lab sites for many-sites runs: each lab's inventory under a site name of its own."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab.runtime import LabRuntime


def site_inventory(lab: LabRuntime, name: str) -> Path:
    """The lab's inventory as site ``name`` (beside the lab's own, so its relative paths still hold).

    Labs of one topology all call their site ``lab-<topology>``; sites in one report root need names
    of their own. Write it after injecting faults that change the inventory (e.g. seed-shared-dns)."""
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["name"] = name
    path = lab.inventory_path.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
