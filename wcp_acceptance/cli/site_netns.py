"""A site's ``runner.netns``: run its suite inside that network namespace of the runner.

A runner that reaches several sites whose management ranges overlap keeps each site's routes in a
namespace of its own (VRF-like); the lab's inventory names its jumpbox. ``wcp-acceptance run`` wraps
the suite's command in ``ip netns exec NAME`` (:func:`wrap`) unless the process already is in that
namespace (the same nsfs inode behind ``/proc/self/ns/net`` and ``/run/netns/NAME``); a site forked
by the many-sites runner switches itself (:func:`enter`), the same way ``ip netns exec`` does.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wcp_acceptance.inventory import InventoryError, load_inventory
from wcp_acceptance.redact import register_secrets

NETNS_DIR = Path("/run/netns")  # where `ip netns add` pins named namespaces
ETC_NETNS = Path("/etc/netns")  # per-namespace files bind-mounted over /etc (resolv.conf, hosts)
SELF_NETNS = Path("/proc/self/ns/net")
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_BIND, MS_REC, MS_SLAVE = 1, 4096, 16384, 1 << 19
MNT_DETACH = 2


class NetnsProblem(Exception):
    """The site's namespace cannot be entered; the message is one line: file, field, reason."""


@dataclass(frozen=True)
class SiteSpec:
    """What the runner needs to know of a site before its suite runs (None when the inventory does not load:
    the suite itself then reports every problem and exits 4)."""

    path: Path
    name: str | None
    netns: str | None

    @property
    def label(self) -> str:
        # a file that does not load: its stem, escaped and cut, for it names files and starts output lines
        return self.name or self.path.stem.encode("unicode_escape").decode("ascii")[:64]


def read_site(path: str | Path) -> SiteSpec:
    site = Path(path)
    try:
        inventory = load_inventory(site)
    except InventoryError:
        return SiteSpec(site, None, None)
    register_secrets(inventory)  # the sites' output is redacted with them too
    return SiteSpec(site, inventory.name, inventory.runner.netns)


def _inode(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def inside(name: str) -> bool:
    """Whether this process already runs in the named namespace."""
    try:
        return _inode(SELF_NETNS) == _inode(NETNS_DIR / name)
    except OSError:
        return False


def check(site: SiteSpec) -> bool:
    """Whether the site's suite must switch namespace; NetnsProblem when it must and cannot."""
    name = site.netns
    if name is None or inside(name):
        return False
    where = f"{site.path}: runner.netns"
    if not (NETNS_DIR / name).exists():
        raise NetnsProblem(f"{where}: network namespace {name!r} does not exist on this runner (see `ip netns list`)")
    if os.geteuid() != 0:
        raise NetnsProblem(f"{where}: entering network namespace {name!r} needs root (ip netns exec)")
    return True


def wrap(site: SiteSpec, argv: Sequence[str]) -> list[str]:
    """``argv`` as it must run for ``site``: inside its namespace when the inventory names one."""
    if not check(site):
        return list(argv)
    name = str(site.netns)
    where = f"{site.path}: runner.netns"
    ip = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
    if ip is None:
        raise NetnsProblem(f"{where}: the ip command (iproute2) is not installed, so {name!r} cannot be entered")
    return [ip, "netns", "exec", name, *argv]


def _call(what: str, result: int) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def enter(name: str) -> None:
    """Move this process into the named namespace as ``ip netns exec`` does: its own mount namespace, a
    /sys that shows the namespace's interfaces, and the files of /etc/netns/NAME over those of /etc."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _call(f"setns {name}", libc.setns(fd, CLONE_NEWNET))
    finally:
        os.close(fd)
    _call("unshare mount namespace", libc.unshare(CLONE_NEWNS))
    _call("mount --make-rslave /", libc.mount(b"", b"/", b"none", MS_SLAVE | MS_REC, None))
    readonly = MS_RDONLY if os.statvfs("/sys").f_flag & os.ST_RDONLY else 0
    libc.umount2(b"/sys", MNT_DETACH)
    _call("mount /sys", libc.mount(name.encode(), b"/sys", b"sysfs", readonly, None))
    etc = ETC_NETNS / name
    for entry in sorted(os.listdir(etc)) if etc.is_dir() else []:
        try:  # as ip netns exec: a file that cannot be bound is reported, the others still are
            _call(f"bind {etc / entry} -> /etc/{entry}",
                  libc.mount(str(etc / entry).encode(), f"/etc/{entry}".encode(), b"none", MS_BIND, None))
        except OSError as exc:
            print(f"wcp-acceptance: {exc}", file=sys.stderr)  # noqa: T201
