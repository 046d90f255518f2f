"""Runs of the suite as schedulers start them, against the API simulators on loopback.

``hung_site`` is a site whose NSX manager accepts connections and never answers: with the
inventory's connect and API timeouts at 60 s, the DLB checks wait there deterministically, after
the VIP checks (which come first and pass) have finished -- a run caught mid-way, as a scheduler's
deadline catches one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.model import SupervisorModel
from lab.sim.stack import SimStack
from tests.run.suite_process import silent_tcp
from tests.support.dnsmasq import free_port

HANG_S = 60  # how long the hung NSX keeps a DLB check waiting (the tests signal long before)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimStack]:
    sims = SimStack(SupervisorModel.seed(), tmp_path_factory.mktemp("stack")).start()
    try:
        yield sims
    finally:
        sims.stop()


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    with silent_tcp() as port:
        yield port


@pytest.fixture
def write_inventory(stack: SimStack, tmp_path: Path) -> Callable[..., Path]:
    """The simulators' inventory with changes (a free observer port unless one is given)."""

    def write(filename: str = "inventory.yaml", **changes: Any) -> Path:
        data = stack.inventory_data()
        data["observer"]["port"] = free_port("127.0.0.1")
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key].update(value)
            else:
                data[key] = value
        return stack.write_inventory(data, name=f"{tmp_path.name}-{filename}")

    return write


@pytest.fixture
def hung_site(write_inventory: Callable[..., Path], silent_port: int) -> Path:
    return write_inventory("hung.yaml", nsx={"managers": [f"https://127.0.0.1:{silent_port}"]},
                           timeouts={"connect": HANG_S, "api": HANG_S})
