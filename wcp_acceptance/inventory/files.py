"""Files an inventory names (itself, secrets, CAs, keys, kubeconfigs): regular files of bounded size only.

A FIFO, a device (``/dev/zero``), a directory or a file larger than its cap is refused after one
non-blocking ``open`` and ``fstat``, before a byte is read, so no inventory can block the suite or fill
its memory. Every refusal is a :class:`FileProblem` whose message reads after the file's name.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
INVENTORY_MAX_BYTES = 512 * KIB  # a site with hundreds of names and exclusions is under 64 KiB
SECRET_MAX_BYTES = 64 * KIB
FILE_MAX_BYTES = 4 * MIB  # CA bundles, known_hosts, private keys, kubeconfigs

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
}


class FileProblem(Exception):
    """Why a named file cannot be used (``does not exist``, ``is a FIFO, not a regular file``, ...)."""


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "does not exist"
    if exc.errno in {errno.EACCES, errno.EPERM}:
        return "is not readable"
    if exc.errno == errno.ENAMETOOLONG:
        return f"cannot be opened: the path is too long ({len(str(exc.filename or ''))} characters)"
    return f"cannot be opened: {exc.strerror or exc}"


def _size_text(size: int) -> str:
    return f"{size:,} bytes"


def _open_regular(path: Path, cap: int) -> tuple[int, int]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise FileProblem(_reason(exc)) from None
    except ValueError:  # an embedded NUL byte
        raise FileProblem("is not a usable path (it contains a NUL byte)") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise FileProblem(f"is {kind}, not a regular file")
        if info.st_size > cap:
            raise FileProblem(f"is {_size_text(info.st_size)}, more than the {_size_text(cap)} allowed")
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def check_regular(path: Path, cap: int = FILE_MAX_BYTES) -> None:
    """Raise :class:`FileProblem` unless ``path`` is a readable regular file of at most ``cap`` bytes."""
    fd, _ = _open_regular(path, cap)
    os.close(fd)


def read_bounded(path: Path, cap: int = FILE_MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes (never more than ``cap`` are read)."""
    fd, _ = _open_regular(path, cap)
    try:
        chunks: list[bytes] = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 256 * KIB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileProblem(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > cap:  # it grew after fstat
        raise FileProblem(f"is more than the {_size_text(cap)} allowed")
    return data


def read_text(path: Path, cap: int = FILE_MAX_BYTES) -> str:
    try:
        return read_bounded(path, cap).decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem("is not UTF-8 text") from None
