"""systemd itself accepts the units: ``systemd-analyze verify`` and ``security``, offline.

Each run loads the units from a temporary root (see ``systemd_units``), so it works where PID 1 is not
systemd, as in CI and containers. A unit systemd would warn about (an unknown or misspelt key, a bad
value, a program that is not there) fails: the output must be empty, not only the exit code 0.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.systemd_units import SERVICE, SITE, TIMER, UNIT_DIR, analyze, offline_root, read_unit

INSTANCES = [f"wcp-acceptance@{SITE}.service", f"wcp-acceptance@{SITE}.timer"]
SYSUSERS = UNIT_DIR / "wcp-acceptance.sysusers"
EXPOSURE_THRESHOLD = 20  # tenths: systemd-analyze security's "OK" band is below 2.0 of 10


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return offline_root(tmp_path_factory.mktemp("root"), [SERVICE, TIMER])


def test_the_service_and_timer_pass_systemd_analyze_verify(root: Path) -> None:
    done = analyze("verify", f"--root={root}", "--man=no", *INSTANCES)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"systemd-analyze verify exited {done.returncode}:\n{output}"
    assert output == "", f"systemd-analyze verify warned:\n{output}"


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        pytest.param(
            "TimeoutStopSec=30s", "TimeoutStopSecs=30s", "Unknown key 'TimeoutStopSecs'", id="TimeoutStopSecs="
        ),
        pytest.param("Type=oneshot", "Type=one-shot", "Failed to parse service type", id="Type=one-shot"),
        pytest.param("SuccessExitStatus=1", "SuccessExitStatus=one", "Failed to parse", id="SuccessExitStatus=one"),
    ],
)
def test_verify_in_this_root_reports_a_broken_setting(tmp_path: Path, old: str, new: str, reported: str) -> None:
    """The check above is not vacuous: the same offline root makes systemd print what is wrong."""
    text = SERVICE.read_text(encoding="utf-8")
    assert text.count(f"\n{old}\n") == 1
    broken = tmp_path / SERVICE.name
    broken.write_text(text.replace(f"\n{old}\n", f"\n{new}\n"), encoding="utf-8")
    root = offline_root(tmp_path / "root", [broken, TIMER])
    done = analyze("verify", f"--root={root}", "--man=no", *INSTANCES)
    assert reported in done.stdout + done.stderr


def test_verify_in_this_root_reports_a_program_that_is_not_installed(tmp_path: Path) -> None:
    root = offline_root(tmp_path / "root", [SERVICE, TIMER], stub_programs=False)
    done = analyze("verify", f"--root={root}", "--man=no", *INSTANCES)
    assert done.returncode != 0
    assert "/opt/wcp-acceptance/bin/wcp-acceptance is not executable" in done.stdout + done.stderr


def test_the_service_sandbox_rates_ok_in_systemd_analyze_security(root: Path) -> None:
    done = analyze(
        "security", "--offline=yes", f"--root={root}", f"--threshold={EXPOSURE_THRESHOLD}", "--no-pager", INSTANCES[0]
    )
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert level, f"systemd-analyze security printed no exposure level:\n{done.stdout}{done.stderr}"
    assert done.returncode == 0, (
        f"exposure {level.group(1)} is above {EXPOSURE_THRESHOLD / 10}; unprotected:\n"
        + "\n".join(line for line in done.stdout.splitlines() if line.startswith("✗"))
    )


def test_systemd_sysusers_creates_the_user_and_group_the_service_runs_as(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    done = subprocess.run(  # noqa: S603 - fixed program, our own arguments
        ["/usr/bin/systemd-sysusers", f"--root={tmp_path}", str(SYSUSERS)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    service = read_unit(SERVICE)
    users = {line.split(":")[0]: line.split(":") for line in (tmp_path / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0] for line in (tmp_path / "etc/group").read_text().splitlines()}
    runs_as = service.value("Service", "User")
    user = users.get(runs_as)
    assert user is not None, f"{SYSUSERS.name} creates {sorted(users)}, the service runs as {runs_as}"
    assert service.value("Service", "Group") in groups
    assert user[6] == "/usr/sbin/nologin", "a system user for runs needs no login shell"
