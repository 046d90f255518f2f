"""What the systemd units promise an operator, read from the unit files (time spans parsed by systemd).

A nightly, randomised, catch-up timer; a one-shot run of the site's inventory with a deadline; SIGTERM and
enough time after it for the suite to finish its report; exit 1 (unhealthy) recorded as a finished run
while every other non-zero exit fails the unit; and a read-only system apart from the report directory.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import pytest

from tests.deploy.systemd_units import SERVICE, SITE, TIMER, Unit, analyze, expand, read_unit, seconds

SUITE_SIGTERM_BOUND_S = 10  # the suite finishes its report within about 10 s of SIGTERM
INVENTORY = f"/etc/wcp-acceptance/{SITE}.yaml"


@pytest.fixture(scope="module")
def service() -> Unit:
    return read_unit(SERVICE)


@pytest.fixture(scope="module")
def timer() -> Unit:
    return read_unit(TIMER)


def exec_start(service: Unit) -> list[str]:
    return [expand(word) for word in shlex.split(service.value("Service", "ExecStart"))]


def option(argv: list[str], name: str) -> str:
    assert argv.count(name) == 1, f"ExecStart {shlex.join(argv)} must give {name} once"
    return argv[argv.index(name) + 1]


def test_the_service_runs_the_site_inventory_once_per_start(service: Unit) -> None:
    assert service.value("Service", "Type") == "oneshot"
    argv = exec_start(service)
    assert PurePosixPath(argv[0]).name == "wcp-acceptance"
    assert PurePosixPath(argv[0]).is_absolute()
    assert argv[1] == "run"
    assert option(argv, "--inventory") == INVENTORY


def test_a_run_has_a_deadline(service: Unit) -> None:
    deadline = seconds(service.value("Service", "TimeoutStartSec"))
    assert 0 < deadline <= 2 * 3600, f"TimeoutStartSec is {deadline} s: a hung run must end before the next night"


def test_a_stopped_or_overdue_run_gets_sigterm_and_time_to_finish_its_report(service: Unit) -> None:
    assert service.value("Service", "KillSignal") == "SIGTERM"
    # mixed: SIGTERM to the run alone (it ends its own children), SIGKILL to what is left after TimeoutStopSec
    assert service.value("Service", "KillMode") == "mixed"
    grace = seconds(service.value("Service", "TimeoutStopSec"))
    assert SUITE_SIGTERM_BOUND_S < grace < float("inf"), (
        f"TimeoutStopSec is {grace} s; the suite needs {SUITE_SIGTERM_BOUND_S} s after SIGTERM to write its report"
    )


def test_unhealthy_is_a_finished_run_and_every_other_failure_fails_the_unit(service: Unit) -> None:
    extra = set(service.words("Service", "SuccessExitStatus"))
    assert extra == {"1"}, f"SuccessExitStatus is {sorted(extra)}: only exit 1 (unhealthy) joins 0"
    assert not service.values("Service", "RestartForceExitStatus")
    assert service.values("Service", "Restart") in ([], ["no"])


def test_the_filesystem_is_read_only_except_the_report_directory(service: Unit) -> None:
    assert service.value("Service", "ProtectSystem") == "strict"
    assert service.value("Service", "ProtectHome") == "yes"
    assert service.value("Service", "PrivateTmp") == "yes"
    report_dir = PurePosixPath(option(exec_start(service), "--report-dir"))
    writable = [PurePosixPath(expand(p.lstrip("-"))) for p in service.words("Service", "ReadWritePaths")]
    writable += [PurePosixPath("/var/lib", d) for d in service.words("Service", "StateDirectory")]
    assert any(report_dir.is_relative_to(w) for w in writable), f"{report_dir} is not under {writable}"
    assert not any(PurePosixPath(INVENTORY).is_relative_to(w) for w in writable), "the inventory must stay read-only"


def test_the_run_cannot_gain_privileges(service: Unit) -> None:
    assert service.value("Service", "NoNewPrivileges") == "yes"
    assert service.value("Service", "User") not in ("", "root", "0")
    assert service.value("Service", "CapabilityBoundingSet") == ""
    assert service.value("Service", "AmbientCapabilities") == ""


def test_secrets_come_from_files_never_from_the_unit(service: Unit) -> None:
    """{env: ...} secrets come from a root-only EnvironmentFile, not from Environment= in a readable unit."""
    assert [expand(v) for v in service.values("Service", "EnvironmentFile")] == [f"-/etc/wcp-acceptance/{SITE}.env"]
    assigned = {word.split("=", 1)[0] for word in service.words("Service", "Environment")}
    assert not {name for name in assigned if re.search(r"PASS|TOKEN|SECRET|KEY", name)}


def test_the_timer_runs_nightly(timer: Unit) -> None:
    done = analyze("calendar", "--iterations=2", timer.value("Timer", "OnCalendar"))
    assert done.returncode == 0, done.stderr
    elapses = re.findall(r"(?:Next elapse|Iter\. #2): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", done.stdout)
    assert len(elapses) == 2, f"systemd-analyze calendar printed:\n{done.stdout}"
    first, second = (datetime.strptime(e, "%Y-%m-%d %H:%M:%S") for e in elapses)  # noqa: DTZ007 - both UTC
    assert second - first == timedelta(days=1)
    assert 0 <= first.hour < 6, f"{first:%H:%M} UTC is not at night"


def test_the_timer_spreads_sites_and_catches_up_a_missed_night(timer: Unit) -> None:
    assert 0 < seconds(timer.value("Timer", "RandomizedDelaySec")) <= 3600
    assert timer.value("Timer", "Persistent") == "true"
    assert timer.values("Timer", "Unit") == [], "the timer must start the service of its own instance"
    assert timer.value("Install", "WantedBy") == "timers.target"
