"""The locks pin every dependency pyproject.toml names, hashed, so a fresh machine gets the tested versions.

``requirements.lock`` is what the product needs (the container image installs it);
``requirements-dev.lock`` adds the ``dev`` extra (``make setup`` and CI install it). Both come from
``make lock``; these tests fail as soon as pyproject.toml and a lock disagree, so a lock cannot lag silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = canonicalize_name("wcp-acceptance")
VIA_PYPROJECT = f"{PROJECT} (pyproject.toml)"


@dataclass
class Pin:
    name: str
    version: Version
    line: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(path: Path) -> dict[str, Pin]:
    """Parse a pip requirements file as uv/pip-tools write it: pin, ``--hash`` lines, ``# via`` notes."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        text = raw.strip().removesuffix("\\").strip()
        if not text:
            continue
        if text.startswith("--hash="):
            assert current is not None, f"{path.name}: hash before any pin: {raw!r}"
            current.hashes.append(text.removeprefix("--hash="))
        elif text.startswith("#"):
            note = text.lstrip("#").strip()
            if note.startswith("via"):
                in_via = True
                rest = note.removeprefix("via").strip()
                if rest and current is not None:
                    current.via.append(rest)
            elif in_via and current is not None and note:
                current.via.append(note)
        elif raw[:1].isspace():
            pytest.fail(f"{path.name}: unexpected continuation line {raw!r}")
        else:
            in_via = False
            req = Requirement(text)
            specs = list(req.specifier)
            assert len(specs) == 1, f"{path.name}: {text!r} is not one exact pin"
            assert specs[0].operator == "==", f"{path.name}: {text!r} is not pinned with =="
            current = Pin(canonicalize_name(req.name), Version(specs[0].version), text)
            pins[current.name] = current
    return pins


def pyproject_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = list(project.get("dependencies", []))
    for extra in extras:
        names += project.get("optional-dependencies", {})[extra]
    reqs = [Requirement(name) for name in names]
    # Only what applies on the machines the project runs on (Linux, the pinned Python); a
    # self-reference such as "wcp-acceptance[x]" is the project, which installs from the work tree.
    return [r for r in reqs if canonicalize_name(r.name) != PROJECT and (r.marker is None or r.marker.evaluate())]


LOCKS = {"requirements.lock": (), "requirements-dev.lock": ("dev",)}
CASES = [(lock, req) for lock, extras in LOCKS.items() for req in pyproject_requirements(extras)]


@pytest.mark.parametrize(("lock", "requirement"), CASES, ids=[f"{lock} pins {req}" for lock, req in CASES])
def test_every_dependency_pyproject_names_is_pinned(lock: str, requirement: Requirement) -> None:
    pins = read_lock(ROOT / lock)
    pin = pins.get(canonicalize_name(requirement.name))
    assert pin is not None, f"{lock} does not pin {requirement.name} (pyproject.toml asks for {requirement}); make lock"
    assert requirement.specifier.contains(pin.version, prereleases=True), (
        f"{lock} pins {pin.line} but pyproject.toml asks for {requirement}; run make lock"
    )


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_was_resolved_from_exactly_what_pyproject_names(lock: str) -> None:
    """Nothing pyproject.toml dropped (or the dev extra, for the product's lock) lingers as a direct pin."""
    direct = {name for name, pin in read_lock(ROOT / lock).items() if VIA_PYPROJECT in pin.via}
    named = {canonicalize_name(r.name) for r in pyproject_requirements(LOCKS[lock])}
    assert direct == named, (
        f"{lock}: missing: {sorted(named - direct)}; unexpected: {sorted(direct - named)}; run make lock"
    )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_carries_hashes(lock: str) -> None:
    """Hashes put pip in --require-hashes mode: a pin cannot be replaced by another file of that version."""
    pins = read_lock(ROOT / lock)
    assert pins, f"{lock} pins nothing"
    unhashed = sorted(name for name, pin in pins.items() if not pin.hashes)
    assert unhashed == [], f"{lock}: no --hash for {unhashed}"
    assert all(h.startswith("sha256:") for pin in pins.values() for h in pin.hashes)


def test_setup_installs_the_versions_the_image_installs() -> None:
    """The dev lock is resolved under the product's lock as a constraint: the same runtime versions."""
    runtime = read_lock(ROOT / "requirements.lock")
    dev = read_lock(ROOT / "requirements-dev.lock")
    differ = {
        name: (str(pin.version), str(dev[name].version) if name in dev else None)
        for name, pin in runtime.items()
        if name not in dev or dev[name].version != pin.version
    }
    assert differ == {}, f"requirements.lock vs requirements-dev.lock (name: (runtime, dev)): {differ}"
