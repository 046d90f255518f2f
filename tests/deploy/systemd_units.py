"""The systemd units under deploy/systemd, read as systemd reads them, and systemd-analyze run offline.

PID 1 of the test machine need not be systemd: ``systemd-analyze verify --root`` loads units from a
directory tree instead of asking a manager. The tree gets the machine's own unit directory (for
``sysinit.target``, ``network-online.target``, ``timers.target``), our units, and a stub for every
program an ``Exec*=`` line names, because verify refuses a command that is not executable in the root.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT_DIR = ROOT / "deploy" / "systemd"
SERVICE = UNIT_DIR / "wcp-acceptance@.service"
TIMER = UNIT_DIR / "wcp-acceptance@.timer"
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"  # Debian's systemd package (.ci/system-deps installs it)
HOST_UNITS = Path("/usr/lib/systemd/system")
SITE = "site-a"
EXEC_PREFIXES = "-+@:!"


@dataclass(frozen=True)
class Unit:
    path: Path
    sections: dict[str, list[tuple[str, str]]]

    def values(self, section: str, key: str) -> list[str]:
        """Every assignment of ``key`` in order, as systemd accumulates list settings."""
        return [value for k, value in self.sections.get(section, []) if k == key]

    def value(self, section: str, key: str) -> str:
        found = self.values(section, key)
        assert len(found) == 1, f"{self.path.name}: [{section}] {key}= is set {len(found)} times: {found}"
        return found[0]

    def words(self, section: str, key: str) -> list[str]:
        return [word for value in self.values(section, key) for word in value.split()]

    def programs(self) -> list[str]:
        """The program of every Exec*= line, prefixes such as '-+' stripped."""
        found = []
        for section in self.sections.values():
            for key, value in section:
                if key.startswith("Exec") and value:
                    found.append(shlex.split(value)[0].lstrip(EXEC_PREFIXES))
        return found


def read_unit(path: Path) -> Unit:
    """Sections of (key, value) pairs; comments, blank lines and backslash continuations as systemd.unit(5)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if match := re.fullmatch(r"\[(.+)\]", line):
            current = sections.setdefault(match.group(1), [])
            continue
        assert current is not None, f"{path.name}: setting before any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {line!r}"
        current.append((key.strip(), value.strip()))
    return Unit(path, sections)


def expand(value: str, site: str = SITE) -> str:
    return value.replace("%i", site)


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run(  # noqa: S603 - fixed program, our own arguments
        [SYSTEMD_ANALYZE, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def seconds(timespan: str) -> float:
    """A systemd time span ('45min', '30s', 'infinity') in seconds, as systemd itself parses it."""
    done = analyze("timespan", timespan)
    assert done.returncode == 0, f"systemd-analyze timespan {timespan!r}: {done.stderr.strip()}"
    if "infinity" in done.stdout:
        return float("inf")
    match = re.search(r"μs:\s*(\d+)", done.stdout)
    assert match, f"systemd-analyze timespan {timespan!r} printed {done.stdout!r}"
    return int(match.group(1)) / 1e6


def offline_root(root: Path, units: list[Path], stub_programs: bool = True) -> Path:
    """A file system root in which ``systemd-analyze verify --root`` can load ``units``."""
    system = root / "usr/lib/systemd/system"
    shutil.copytree(HOST_UNITS, system, symlinks=True)
    local = root / "etc/systemd/system"
    local.mkdir(parents=True)
    for unit in units:
        shutil.copy2(unit, local / unit.name)
        if not stub_programs:
            continue
        for program in read_unit(unit).programs():
            stub = root / program.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
            stub.chmod(0o755)
    return root
