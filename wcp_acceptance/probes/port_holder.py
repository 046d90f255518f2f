"""Who holds a UDP port on this machine: from /proc/net/udp(6) (the socket's inode) and /proc/*/fd.

Used when the egress observer cannot bind, so the message names the holder instead of
"[Errno 98] Address already in use": another wcp-acceptance run (pid, site), or another program
(pid and program name only: a command line can carry a secret, so only a run of this suite, whose
command line holds no secrets, is described by its inventory).
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import sys
from dataclasses import dataclass
from pathlib import Path

from wcp_acceptance.inventory.load import InventoryError, read_yaml

PROC = Path("/proc")
SUITE_MARKS = ("wcp_acceptance", "wcp-acceptance", "tests_live")


@dataclass(frozen=True)
class UdpSocket:
    address: str
    port: int
    uid: int
    inode: int
    line: str  # the /proc/net/udp line, for the evidence


@dataclass(frozen=True)
class Holder:
    socket: UdpSocket
    pid: int | None = None
    program: str | None = None
    suite_site: str | None = None  # the inventory's name when the holder is a run of this suite

    def describe(self) -> str:
        if self.pid is None:
            try:
                user = pwd.getpwuid(self.socket.uid).pw_name
            except KeyError:
                user = str(self.socket.uid)
            return f"a process of user {user} that this user cannot see (socket inode {self.socket.inode})"
        if self.suite_site is not None:
            return f"another wcp-acceptance run (pid {self.pid}, site {self.suite_site})"
        return f"pid {self.pid} ({self.program or 'unknown program'})"


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    # the kernel prints each 32-bit word of the address in host byte order
    words = b"".join(raw[i:i + 4][::-1] if sys.byteorder == "little" else raw[i:i + 4] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def udp_sockets(proc: Path = PROC) -> list[UdpSocket]:
    found: list[UdpSocket] = []
    for table in ("udp", "udp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            try:
                hex_address, hex_port = fields[1].split(":")
                found.append(UdpSocket(_address(hex_address), int(hex_port, 16), int(fields[7]), int(fields[9]),
                                       line.strip()))
            except ValueError:
                continue
    return found


def _conflicts(bound: str, wanted: str) -> bool:
    """Would binding ``wanted`` fail because of a socket bound to ``bound`` (same port)?"""
    b, w = ipaddress.ip_address(bound), ipaddress.ip_address(wanted)
    if isinstance(b, ipaddress.IPv6Address) and b.ipv4_mapped is not None:
        b = b.ipv4_mapped
    return b == w or b.is_unspecified or w.is_unspecified


def _pid_of(inode: int, proc: Path) -> int | None:
    target = f"socket:[{inode}]"
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    return int(entry.name)
        except OSError:  # gone meanwhile, or not ours to look at
            continue
    return None


def _cmdline(pid: int, proc: Path) -> list[str]:
    try:
        return [a for a in (proc / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    except OSError:
        return []


def _inventory_name(pid: int, argv: list[str], proc: Path) -> str | None:
    """The site of a suite run: the ``name`` of the inventory its command line gives (else the file name)."""
    given: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--inventory" and i + 1 < len(argv):
            given = argv[i + 1]
        elif arg.startswith("--inventory="):
            given = arg.split("=", 1)[1]
    if given is None:
        return "unknown (inventory from its environment)"
    path = Path(given)
    if not path.is_absolute():
        try:
            path = Path(os.readlink(proc / str(pid) / "cwd")) / path
        except OSError:
            return path.name
    try:  # the bounded reader: another process's inventory may be a FIFO or huge, and must not stall us
        data = read_yaml(path, "inventory")
    except InventoryError:
        return path.name
    name = data.get("name") if isinstance(data, dict) else None
    return str(name) if name else path.name


def holders(address: str, port: int, proc: Path = PROC) -> list[Holder]:
    """Who holds UDP ``port`` in a way that keeps ``address:port`` from being bound."""
    found: list[Holder] = []
    for sock in udp_sockets(proc):
        if sock.port != port or not _conflicts(sock.address, address):
            continue
        pid = _pid_of(sock.inode, proc)
        if pid is None:
            found.append(Holder(sock))
            continue
        argv = _cmdline(pid, proc)
        program = Path(argv[0]).name if argv else None
        is_suite = any(mark in arg for arg in argv for mark in SUITE_MARKS)
        found.append(Holder(sock, pid, program, _inventory_name(pid, argv, proc) if is_suite else None))
    return found
