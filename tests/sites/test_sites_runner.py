"""Many sites in one invocation: the bound on concurrent sites, each site's line, the combined exit code,
signals forwarded and bounded, sites that cannot start. Sites here are stand-in processes that behave
as a site's suite run does (a run folder, its one-line summary last, its exit code)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wcp_acceptance.cli import site_launch, sites
from wcp_acceptance.cli.site_netns import SiteSpec

STAND_IN = r'''
import json, os, signal, sys, time
from pathlib import Path
root, label, code, sleep, mode = sys.argv[1:6]
log = Path(root, ".stand-in")
(log / f"{label}.started").write_text(f"{time.monotonic()}\n")
def stop(signum, frame):
    (log / f"{label}.got-{signal.Signals(signum).name}").write_text("")
    print(f"wcp-acceptance {label}: INCOMPLETE (interrupted by {signal.Signals(signum).name}) exit=2", flush=True)
    sys.exit(2)
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, signal.SIG_IGN if mode == "deaf" else stop)
print("collecting ...", flush=True)
time.sleep(float(sleep))
(log / f"{label}.ended").write_text(f"{time.monotonic()}\n")
if mode == "bad":
    print(f"ERROR: invalid inventory:\n{label}.yaml: nsx.password: environment variable WCP_NSX is not set")
    sys.exit(4)
run = Path(root, label, "20261125T020000Z")
run.mkdir(parents=True)
verdict = {"0": "HEALTHY", "1": "UNHEALTHY"}[code]
(run / "summary.json").write_text(json.dumps({"inventory": label, "verdict": verdict, "exit_code": int(code)}))
print(f"wcp-acceptance {label}: {verdict} exit={code} 9 passed, 0 failed, 0 could not observe, 0 skipped report={run}")
sys.exit(int(code))
'''


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / ".stand-in").mkdir()
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    return tmp_path


def stand_ins(root: Path, plan: dict[str, tuple[int, float, str]]) -> tuple[list[SiteSpec], site_launch.Launcher]:
    """Sites named as ``plan``'s keys; each a stand-in with (exit code, seconds, mode), spawned."""
    specs = [SiteSpec(root / f"{label}.yaml", label, None) for label in plan]

    def command(site: SiteSpec) -> list[str]:
        code, seconds, mode = plan[site.label]
        return [sys.executable, str(root / "stand_in.py"), str(root), site.label, str(code), str(seconds), mode]

    return specs, site_launch.spawner(command)


def stamps(root: Path, label: str) -> tuple[float, float]:
    log = root / ".stand-in"
    return float((log / f"{label}.started").read_text()), float((log / f"{label}.ended").read_text())


@pytest.mark.parametrize(("codes", "interrupted", "expected"), [
    ([0, 0, 0], False, 0),
    ([0, 1, 0], False, 1),
    ([1, 5], False, 5),
    ([1, 3], False, 3),
    ([0, 255], False, 3),  # e.g. ip netns exec failing
    ([-9, 0], False, 3),  # a site killed by a signal the runner did not send
    ([1, 3, 4], False, 4),
    ([0, 4, 2], False, 2),
    ([0, 0], True, 2),
    ([], False, 5),
])
def test_the_worst_site_decides_the_exit_code(codes: list[int], interrupted: bool, expected: int) -> None:
    assert sites.combined_exit(codes, interrupted=interrupted) == expected


def test_at_most_jobs_sites_at_once_each_line_as_it_finishes(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs, launcher = stand_ins(root, {"a": (0, 3.0, ""), "b": (1, 0.3, ""), "c": (0, 0.3, ""), "d": (0, 0.3, "")})
    started = time.monotonic()
    code = sites.run_sites(specs, report_root=root, jobs=2, launcher=launcher)
    wall = time.monotonic() - started
    assert code == 1
    spans = {label: stamps(root, label) for label in "abcd"}
    most = max(sum(1 for s, e in spans.values() if s <= t < e) for t, _ in spans.values())
    assert most == 2, spans
    assert wall < 3.0 + 0.3 * 3, f"{wall:.2f} s: the sites did not overlap"
    lines = capsys.readouterr().out.splitlines()
    # b, c and d finish while a still runs: their lines come first, in the order they finished
    assert [line.split(":")[0] for line in lines] == ["wcp-acceptance b", "wcp-acceptance c", "wcp-acceptance d",
                                                      "wcp-acceptance a", "wcp-acceptance 4 sites"]
    assert lines[-1] == f"wcp-acceptance 4 sites: exit=1 3 HEALTHY, 1 UNHEALTHY index={root / 'index.html'}"
    assert (root / "index.html").is_file()
    for label in "abcd":  # each site's whole output is kept with its report
        assert "collecting ..." in (root / label / "20261125T020000Z" / "output.log").read_text()
    assert not list(root.glob(".*.log"))


def test_a_site_without_a_report_shows_why_and_the_others_still_run(root: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    specs, launcher = stand_ins(root, {"good": (0, 0.1, ""), "broken": (4, 0.1, "bad")})
    assert sites.run_sites(specs, report_root=root, jobs=1, launcher=launcher) == 4
    out = capsys.readouterr().out
    assert "broken: broken.yaml: nsx.password: environment variable WCP_NSX is not set" in out
    assert f"wcp-acceptance broken: NOT RUN exit=4 (no report; {root / 'broken.yaml'})" in out
    assert "wcp-acceptance good: HEALTHY exit=0" in out
    assert out.splitlines()[-1].startswith("wcp-acceptance 2 sites: exit=4 1 HEALTHY, 1 exit 4 index=")


def test_a_site_that_cannot_start_is_refused_alone(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs, launcher = stand_ins(root, {"a": (0, 0.1, ""), "vrf": (0, 0.1, "")})
    twin = SiteSpec(root / "a-again.yaml", "a", None)
    elsewhere = SiteSpec(root / "vrf.yaml", "vrf", "no-such-netns-wcpt")
    code = sites.run_sites([specs[0], twin, elsewhere], report_root=root, jobs=2, launcher=launcher)
    assert code == 4
    out = capsys.readouterr().out
    assert f"a: {twin.path}: name: 'a' is also the name of {specs[0].path}" in out
    assert (f"vrf: {elsewhere.path}: runner.netns: network namespace 'no-such-netns-wcpt' does not exist on this "
            "runner") in out
    assert "wcp-acceptance a: HEALTHY exit=0" in out
    assert not (root / ".stand-in" / "vrf.started").exists()


def signal_when_started(root: Path, label: str, signum: int) -> threading.Thread:
    def send() -> None:
        deadline = time.monotonic() + 20
        while not (root / ".stand-in" / f"{label}.started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_reaches_the_running_sites_and_stops_the_rest(root: Path, signum: int,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    specs, launcher = stand_ins(root, {"a": (0, 30, ""), "b": (0, 30, "")})
    before = {s: signal.getsignal(s) for s in sites.FORWARDED}
    signal_when_started(root, "a", signum)
    started = time.monotonic()
    code = sites.run_sites(specs, report_root=root, jobs=1, launcher=launcher)
    assert time.monotonic() - started < 10
    assert code == 2
    name = signal.Signals(signum).name
    assert (root / ".stand-in" / f"a.got-{name}").exists()
    assert not (root / ".stand-in" / "b.started").exists()
    out = capsys.readouterr().out
    assert f"wcp-acceptance a: INCOMPLETE (interrupted by {name}) exit=2" in out
    assert "wcp-acceptance b: NOT RUN exit=2 (interrupted before it started)" in out
    assert out.splitlines()[-1].startswith("wcp-acceptance 2 sites (interrupted): exit=2")
    assert {s: signal.getsignal(s) for s in sites.FORWARDED} == before  # the caller's handlers are back


def test_a_site_that_ignores_the_signal_is_killed_after_the_grace(root: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    specs, launcher = stand_ins(root, {"deaf": (0, 30, "deaf")})
    signal_when_started(root, "deaf", signal.SIGTERM)
    started = time.monotonic()
    assert sites.run_sites(specs, report_root=root, jobs=1, grace_s=1.0, launcher=launcher) == 2
    assert 1.0 <= time.monotonic() - started < 6
    assert "wcp-acceptance deaf: NOT RUN exit=-9 (killed by SIGKILL" in capsys.readouterr().out


def test_sites_get_sigterm_when_the_runner_itself_is_killed(root: Path) -> None:
    program = (
        "import sys\nfrom pathlib import Path\nfrom wcp_acceptance.cli import site_launch, sites\n"
        "from wcp_acceptance.cli.site_netns import SiteSpec\n"
        f"root = Path({str(root)!r})\n"
        "cmd = lambda s: [sys.executable, str(root / 'stand_in.py'), str(root), 'a', '0', '30', '']\n"
        "sites.run_sites([SiteSpec(root / 'a.yaml', 'a', None)], report_root=root,\n"
        "                launcher=site_launch.spawner(cmd))\n")
    runner = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (root / ".stand-in" / "a.started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        runner.kill()
        runner.wait(10)
        deadline = time.monotonic() + 10
        while not (root / ".stand-in" / "a.got-SIGTERM").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (root / ".stand-in" / "a.got-SIGTERM").exists(), "the site kept running after its runner died"
    finally:
        runner.kill()
        runner.wait(10)
