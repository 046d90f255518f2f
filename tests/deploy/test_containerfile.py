"""The image definition installs exactly the locked versions and runs the entrypoint as a non-root user.

No registry but PyPI and Debian's is reachable where the project's tests run, so the image is not built
here (deploy/README.md says how it was checked); these tests read the Containerfile as a builder would.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_DIR = ROOT / "deploy" / "container"
CONTAINERFILE = CONTAINER_DIR / "Containerfile"
IGNOREFILE = CONTAINER_DIR / "Containerfile.dockerignore"


@dataclass(frozen=True)
class Instruction:
    stage: int
    name: str
    args: str


def instructions() -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments dropped; stage counts FROM lines."""
    found: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in CONTAINERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        name, _, args = line.partition(" ")
        if name.upper() == "FROM":
            stage += 1
        found.append(Instruction(stage, name.upper(), args.strip()))
    return found


@pytest.fixture(scope="module")
def final() -> list[Instruction]:
    steps = instructions()
    last = max(step.stage for step in steps)
    return [step for step in steps if step.stage == last]


def runs(steps: list[Instruction]) -> list[list[str]]:
    """Every shell command of every RUN, split on &&."""
    return [shlex.split(part) for step in steps if step.name == "RUN" for part in step.args.split("&&")]


def test_the_base_is_python_3_11_slim_as_the_lock_is_resolved_for() -> None:
    steps = instructions()
    arg = next(step for step in steps if step.name == "ARG" and step.args.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=(docker\.io/library/)?python:3\.11-slim(-\w+)?", arg.args), arg.args
    assert all(step.args.split()[0] == "${PYTHON_IMAGE}" for step in steps if step.name == "FROM")
    assert "--python-version 3.11" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_dependencies_come_from_the_hashed_lock_and_the_project_adds_none(final: list[Instruction]) -> None:
    commands = runs(final)
    installs = [cmd for cmd in commands if cmd[:1] and cmd[0].endswith("/pip") and "install" in cmd]
    assert len(installs) == 2, f"expected the lock, then the wheel: {installs}"
    lock, wheel = installs
    assert "--require-hashes" in lock
    assert lock[lock.index("-r") + 1] == "/tmp/requirements.lock"
    assert "--no-deps" in wheel, "the wheel must not resolve anything the lock does not pin"
    assert wheel[-1].endswith(".whl")
    copies = [step.args.split() for step in final if step.name == "COPY"]
    assert ["requirements.lock", "/tmp/requirements.lock"] in copies


def test_the_runtime_user_is_numeric_and_not_root(final: list[Instruction]) -> None:
    users = [step.args for step in final if step.name == "USER"]
    assert users, "no USER: the image would run as root"
    # numeric uid:gid, neither 0: Kubernetes' runAsNonRoot can only check a number
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), f"USER {users[-1]}"


def test_the_entrypoint_is_the_script_run_under_an_init(final: list[Instruction]) -> None:
    entry = [step.args for step in final if step.name == "ENTRYPOINT"]
    assert len(entry) == 1
    argv = json.loads(entry[0])  # exec form: no shell between the signal and the product
    copies = [step.args.split() for step in final if step.name == "COPY"]
    script = next(dest for *src, dest in copies if src == ["deploy/container/entrypoint.sh"])
    assert argv == ["/usr/bin/tini", "--", script]
    assert [step.args for step in final if step.name == "CMD"] == ["[]"], "the default is the entrypoint's"


def test_the_defaults_match_the_kubernetes_mounts(final: list[Instruction]) -> None:
    env = " ".join(step.args for step in final if step.name == "ENV")
    assert "WCP_INVENTORY=/etc/wcp-acceptance/inventory.yaml" in env.split()
    assert "WCP_REPORT_DIR=/reports" in env.split()


def test_every_copied_path_exists_and_local_state_stays_out_of_the_context() -> None:
    for step in instructions():
        if step.name == "COPY" and not step.args.startswith("--from="):
            *sources, _ = step.args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    ignored = {line.strip() for line in IGNOREFILE.read_text(encoding="utf-8").splitlines()}
    assert {".git", ".venv", "reports"} <= ignored
