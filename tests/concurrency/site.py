"""A loopback site for the concurrency tests: real sshd play the VMs, a real dnsmasq is their DNS.

``vm_specs`` turns (name, ssh address, ssh port, key, known_hosts) into the inventory's
control-plane entries; :func:`silent_listener` is a VM that accepts TCP and never says a word
(packets arrive, no SSH banner comes back), so connecting to it costs the whole connect timeout.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.inventories import example_data
from wcp_acceptance.inventory import Inventory
from wcp_acceptance.inventory.load import parse_inventory

NAMES = {"vcenter.corp.local": "192.168.10.20", "nsx.corp.local": "192.168.10.28"}


@dataclass(frozen=True)
class VmSpec:
    name: str
    address: str  # the SSH (management) address; eth1 is the same host part in 127.1.x
    port: int
    key_file: Path
    known_hosts: Path


def inventory_for(vms: Sequence[VmSpec], dns_address: str, dns_port: int, *, connect: float = 1.0) -> Inventory:
    """The example inventory with these VMs, this DNS server for both roles and short timeouts."""
    data: dict[str, Any] = example_data()
    data["supervisor"]["control_plane"] = [
        {
            "name": vm.name,
            "management_address": vm.address,
            "ssh": {"user": "root", "port": vm.port, "key_file": str(vm.key_file),
                    "known_hosts": str(vm.known_hosts)},
            "interfaces": {
                "eth0": {"network": "management", "address": f"{vm.address}/16"},
                "eth1": {"network": "workload", "address": f"127.1.{vm.address.split('.', 2)[2]}/16"},
            },
        }
        for vm in vms
    ]
    data["networks"]["management"] = "127.0.0.0/16"
    data["networks"]["namespace"] = "127.1.0.0/16"
    data["dns"] = {
        "port": dns_port,
        "management": {"servers": [dns_address], "names": [{"name": n, "address": a} for n, a in NAMES.items()]},
        "workload": {"servers": [dns_address], "names": [{"name": "vcenter.corp.local", "address": NAMES[
            "vcenter.corp.local"]}]},
    }
    data["timeouts"] = {"connect": connect, "command": 10, "dns": 1, "api": 5, "egress": 1}
    return parse_inventory(data, "concurrency-site.yaml", Path.cwd())


@contextlib.contextmanager
def silent_listener(address: str) -> Iterator[int]:
    """A port on ``address`` whose kernel completes the TCP handshake and then nothing ever answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])
