"""Two real sshd VMs and a dnsmasq on loopback, shared by the concurrency tests of one module."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.sshd import Sshd
from tests.concurrency.site import NAMES, VmSpec
from tests.support.dnsmasq import Dnsmasq, run_dnsmasq
from tests.support.inventories import EXAMPLE_ENV

DNS_ADDRESS = "127.0.31.10"


@pytest.fixture(autouse=True)
def _example_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def live_vms() -> Iterator[list[tuple[Sshd, VmSpec]]]:
    with contextlib.ExitStack() as stack:
        servers = []
        for i in range(2):
            address = f"127.0.31.{45 + i}"
            sshd = stack.enter_context(Sshd(address))
            servers.append((sshd, VmSpec(f"cp-{i + 1}", address, sshd.port, sshd.client_key, sshd.known_hosts)))
        yield servers


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    workdir: Path = tmp_path_factory.mktemp("dns")
    with run_dnsmasq(workdir, NAMES, addresses=(DNS_ADDRESS,)) as server:
        yield server
