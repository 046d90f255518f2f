"""The image's entrypoint, run as a command with a stub ``wcp-acceptance`` first on PATH.

It must hand the arguments over unchanged, default to ``run --inventory "$WCP_INVENTORY"``, refuse to
guess when there is no inventory (exit 4, bad options), and ``exec``: the product's exit code is the
container's and SIGTERM reaches the product itself, which then finishes its report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "container" / "entrypoint.sh"
INVENTORY = "/etc/wcp-acceptance/inventory.yaml"

STUB = """#!/bin/sh
# stands in for the product: records how it was called, then behaves as told
printf '%s\\0' "$@" > "$STUB_DIR/argv"
echo $$ > "$STUB_DIR/pid"
trap 'echo report written > "$STUB_DIR/report"; exit 2' TERM
if [ -n "${STUB_WAIT:-}" ]; then
  : > "$STUB_DIR/ready"
  while :; do sleep 0.05; done
fi
exit "${STUB_EXIT:-0}"
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    stderr: str
    argv: list[str] | None


@pytest.fixture
def stub_dir(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "wcp-acceptance"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    return tmp_path


def environment(stub_dir: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": f"{stub_dir / 'bin'}:/usr/bin:/bin", "STUB_DIR": str(stub_dir), "LC_ALL": "C"}
    env.update(extra)
    return env


def recorded_argv(stub_dir: Path) -> list[str] | None:
    path = stub_dir / "argv"
    if not path.exists():
        return None
    return path.read_bytes().decode().split("\0")[:-1]


def run(stub_dir: Path, *args: str, **env: str) -> Run:
    done = subprocess.run(  # noqa: S603 - our own script
        [str(ENTRYPOINT), *args], env=environment(stub_dir, **env), capture_output=True, text=True, timeout=30
    )
    return Run(done.returncode, done.stderr, recorded_argv(stub_dir))


def test_the_entrypoint_is_an_executable_posix_shell_script() -> None:
    assert os.access(ENTRYPOINT, os.X_OK), f"{ENTRYPOINT} is not executable (git update-index --chmod=+x)"
    assert ENTRYPOINT.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    done = subprocess.run(["/bin/sh", "-n", str(ENTRYPOINT)], capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr


def test_no_arguments_run_the_inventory_wcp_inventory_names(stub_dir: Path) -> None:
    result = run(stub_dir, WCP_INVENTORY=INVENTORY)
    assert (result.returncode, result.argv) == (0, ["run", "--inventory", INVENTORY])


def test_an_inventory_path_with_spaces_stays_one_argument(stub_dir: Path) -> None:
    path = "/etc/wcp acceptance/site a.yaml"
    assert run(stub_dir, WCP_INVENTORY=path).argv == ["run", "--inventory", path]


@pytest.mark.parametrize("value", [None, ""], ids=["WCP_INVENTORY unset", "WCP_INVENTORY empty"])
def test_no_arguments_and_no_inventory_is_bad_options(stub_dir: Path, value: str | None) -> None:
    result = run(stub_dir) if value is None else run(stub_dir, WCP_INVENTORY=value)
    assert result.returncode == 4
    assert result.argv is None, "the product must not start without an inventory"
    assert "WCP_INVENTORY is not set" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--inventory", "/etc/wcp-acceptance/site-a.yaml", "--report-dir", "/reports"],
        ["run", "--inventory", INVENTORY, "--", "-m", "dns", "-k", "cp-1 and not eth1"],
        ["run", "a.yaml", "b.yaml", "--jobs", "2"],
        ["checks"],
        ["diff", "/reports/site-a/latest", "/reports/site-a/last-good"],
        ["run", "--inventory", "*.yaml", "--", "-k", "$HOME `id` 'quoted'"],
    ],
    ids=lambda args: " ".join(args),
)
def test_arguments_reach_the_product_unchanged(stub_dir: Path, args: list[str]) -> None:
    assert run(stub_dir, *args, WCP_INVENTORY=INVENTORY).argv == args


def test_leading_options_are_options_of_run(stub_dir: Path) -> None:
    """`podman run IMAGE --report-dir /x` runs the suite; the product reads the inventory from WCP_INVENTORY."""
    result = run(stub_dir, "--report-dir", "/x", "--", "-m", "vip", WCP_INVENTORY=INVENTORY)
    assert result.argv == ["run", "--report-dir", "/x", "--", "-m", "vip"]


@pytest.mark.parametrize("code", [0, 1, 2, 3, 4, 5])
def test_the_exit_code_is_the_products(stub_dir: Path, code: int) -> None:
    assert run(stub_dir, "run", WCP_INVENTORY=INVENTORY, STUB_EXIT=str(code)).returncode == code


def test_sigterm_reaches_the_product_which_finishes_its_report(stub_dir: Path) -> None:
    """exec: the product replaces the shell (same pid), so the container's SIGTERM is the product's."""
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [str(ENTRYPOINT)], env=environment(stub_dir, WCP_INVENTORY=INVENTORY, STUB_WAIT="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not (stub_dir / "ready").exists():
            assert proc.poll() is None, f"exited {proc.returncode} before the stub was ready"
            assert time.monotonic() < deadline, "the stub never started"
            time.sleep(0.02)
        assert int((stub_dir / "pid").read_text()) == proc.pid, "the entrypoint did not exec the product"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (stub_dir / "report").read_text() == "report written\n"
