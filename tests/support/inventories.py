"""Inventories for the project's tests: the example, mutated, written to a temp dir."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventory.example.yaml"
EXAMPLE_ENV = {"WCP_CP_PASSWORD": "cp-secret", "WCP_NSX_PASSWORD": "nsx-secret", "WCP_VC_PASSWORD": "vc-secret"}


def example_data() -> dict[str, Any]:
    """The example inventory as data, with its relative file paths made absolute."""
    data = yaml.safe_load(EXAMPLE.read_text())
    examples = ROOT / "examples"

    def absolute(value: str) -> str:
        return str(examples / Path(value).name)

    for vm in data["supervisor"]["control_plane"]:
        vm["ssh"]["known_hosts"] = absolute(vm["ssh"]["known_hosts"])
    for section in ("api_vip", "nsx", "vcenter"):
        data[section]["ca_file"] = absolute(data[section]["ca_file"])
    data["kubernetes"]["kubeconfig"] = absolute(data["kubernetes"]["kubeconfig"])
    return copy.deepcopy(data)


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path
