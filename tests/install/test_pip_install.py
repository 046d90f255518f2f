"""The project installed with pip into a fresh virtualenv, as a user installs it: the wheel built from this
checkout, its dependencies from requirements.lock (pip's cache is warm from setting up .venv from the same
pins). Run from outside the checkout, with nothing of it on sys.path: the ``wcp-acceptance`` command lists
the checks and runs the packaged suite against a lab (from the host namespace: the lab inventory's
``runner.netns`` takes the run into the lab's jumpbox)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.runtime import LabRuntime, open_lab
from wcp_acceptance import catalogue

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = (".venv", ".git", "reports", "__pycache__", "*.egg-info", ".mypy_cache", ".ruff_cache", "build",
               "tests")
PROBE = r"""
import importlib, json, sys
found = {}
for name in ("fixtures", "lab", "tests_live", "wcp_acceptance", "wcp_acceptance.fixtures",
             "wcp_acceptance.tests_live", "wcp_lab"):
    try:
        module = importlib.import_module(name)
        found[name] = getattr(module, "__file__", None) or list(module.__path__)[0]
    except ModuleNotFoundError:
        found[name] = None
print(json.dumps({"modules": found, "path": sys.path}))
"""

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Venv:
    path: Path
    elsewhere: Path  # a working directory outside the checkout
    env: dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def run(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=self.elsewhere, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("install")
    source = base / "source"  # the build writes build/ and *.egg-info: never into the shared checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SHIPPED), symlinks=True)
    _pip("wheel", "--no-deps", "-q", "-w", str(base / "wheels"), f"{source}{os.sep}")
    (wheel,) = (base / "wheels").glob("wcp_acceptance-*.whl")
    path = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    target = ("--python", str(path / "bin" / "python"))
    _pip(*target, "install", "-q", "--no-compile", "--require-hashes", "-r", str(ROOT / "requirements.lock"))
    _pip(*target, "install", "-q", "--no-compile", "--no-deps", str(wheel))
    _pip(*target, "check")
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WCP_", "PYTEST_", "PYTHON", "VIRTUAL_ENV", "COV_"))}
    env["PATH"] = f"{path / 'bin'}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    return Venv(path, elsewhere, env)


@pytest.fixture(scope="module")
def lab() -> Iterator[LabRuntime]:
    with open_lab(prefix="pipin") as runtime:
        yield runtime


def test_the_installed_import_names_are_the_projects_own(venv: Venv) -> None:
    done = venv.run(venv.bin("python"), "-c", PROBE)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)
    modules = probe["modules"]
    assert [name for name in ("fixtures", "lab", "tests_live") if modules[name]] == [], modules
    site = str(venv.path)
    for name in ("wcp_acceptance", "wcp_acceptance.fixtures", "wcp_acceptance.tests_live", "wcp_lab"):
        assert modules[name], f"{name} does not import from the installed project"
        assert modules[name].startswith(site), f"{name} imported from {modules[name]}, not the fresh venv"
    assert [p for p in probe["path"] if p.startswith(str(ROOT))] == []


def test_checks_lists_the_catalogue(venv: Venv) -> None:
    done = venv.run(venv.bin("wcp-acceptance"), "checks", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert {c["id"] for c in json.loads(done.stdout)["checks"]} == catalogue.IDS


def test_run_against_a_lab_is_healthy_and_writes_its_report(venv: Venv, lab: LabRuntime) -> None:
    reports = venv.elsewhere / "reports"
    done = venv.run(venv.bin("wcp-acceptance"), "run", "--inventory", str(lab.inventory_path),
                    "--report-dir", str(reports))
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    installed = venv.path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert f"rootdir: {installed / 'wcp_acceptance'}" in done.stdout  # the packaged suite, not the checkout's
    assert lines[-1].startswith("wcp-acceptance lab-seed: HEALTHY exit=0 ")
    run = (reports / "lab-seed" / "latest").resolve()
    assert lines[-1].endswith(f" report={run}")
    assert {"junit.xml", "report.html", "summary.json"} <= {p.name for p in run.iterdir()}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "HEALTHY"
    assert summary["totals"]["passed"] == summary["totals"]["total"] > 40
    assert {t["check_id"] for t in summary["tests"]} == catalogue.IDS
    assert (reports / "index.html").is_file()
    assert (reports / "wcp_acceptance_lab-seed.prom").is_file()
