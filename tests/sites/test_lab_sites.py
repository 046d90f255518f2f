"""Several lab sites in one ``wcp-acceptance run a.yaml b.yaml --jobs 2``, from the host namespace (each
inventory's ``runner.netns`` takes its run into its lab's jumpbox): each site its own report and metrics
file, one index across them, and the exit code of the worst site."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.runtime import LabRuntime, open_lab
from tests.sites.exposition import parse
from tests.sites.lab_sites import site_inventory
from tests.sites.test_sites_index import Page
from tests.support.inventories import write

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Sites:
    healthy: LabRuntime
    broken: LabRuntime  # seed-shared-dns: management and workload DNS share one IP
    a: Path
    b: Path


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    with open_lab(prefix="sitea") as healthy, open_lab(prefix="siteb") as broken:
        broken.inject("seed-shared-dns")
        yield Sites(healthy, broken, site_inventory(healthy, "site-a"), site_inventory(broken, "site-b"))


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "wcp_acceptance", "run", *args]


def run_cli(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
    return subprocess.run(cli(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def summary_of(reports: Path, site: str) -> dict[str, object]:
    return json.loads((reports / site / "latest" / "summary.json").read_text())


def test_each_site_its_own_report_one_index_and_the_worst_exit_code(sites: Sites, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run_cli(tmp_path, str(sites.a), str(sites.b), "--jobs", "2", "--report-dir", str(reports))
    lines = done.stdout.splitlines()
    assert done.returncode == 1, f"{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
    a, b = summary_of(reports, "site-a"), summary_of(reports, "site-b")
    assert a["verdict"] == "HEALTHY"
    assert b["verdict"] == "UNHEALTHY"
    failed = b["totals"]["failed"]  # type: ignore[index]
    assert failed >= 27  # the seed's fault: DNS from both interfaces, RT-001, what reads the workload DNS
    # each site's own line, then the invocation's (the healthy site finishes first: DNS timeouts slow the other)
    a_run, b_run = ((reports / s / "latest").resolve() for s in ("site-a", "site-b"))
    assert lines[0].startswith(f"wcp-acceptance site-a: HEALTHY exit=0 {a['totals']['passed']} passed, 0 failed")  # type: ignore[index]
    assert lines[0].endswith(f"report={a_run}")
    passed = b["totals"]["passed"]  # type: ignore[index]
    assert lines[1].startswith(f"wcp-acceptance site-b: UNHEALTHY exit=1 {passed} passed, {failed} failed")
    assert lines[-1] == f"wcp-acceptance 2 sites: exit=1 1 HEALTHY, 1 UNHEALTHY index={reports / 'index.html'}"
    for run in (a_run, b_run):
        assert {"report.html", "junit.xml", "summary.json", "output.log"} <= {p.name for p in run.iterdir()}

    page = Page((reports / "index.html").read_text())
    rows = {row[0]: row for row in page.rows[1:]}
    assert sorted(rows) == ["site-a", "site-b"]
    assert rows["site-b"][1] == "UNHEALTHY"
    assert rows["site-a"][1] == "HEALTHY"
    assert "WCP-DNS-001 (9)" in rows["site-b"][9]
    assert f"site-b/{b_run.name}/report.html" in page.links
    assert all((reports / link).is_file() for link in page.links)

    outcome = {site: parse((reports / f"wcp_acceptance_{site}.prom").read_text())["wcp_acceptance_check_outcome"]
               for site in ("site-a", "site-b")}
    assert outcome["site-b"].value(site="site-b", check_id="WCP-DNS-001", outcome="failed") == 1
    assert outcome["site-b"].value(site="site-b", check_id="WCP-VIP-001", outcome="passed") == 1
    assert {labels["check_id"] for labels, v in outcome["site-a"].samples if labels["outcome"] == "passed" and v} \
        == {t["check_id"] for t in a["tests"]}  # type: ignore[union-attr]

    texts = [p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()] + [done.stdout, done.stderr]
    for lab in (sites.healthy, sites.broken):
        for secret in (lab.nsx_password, lab.vc_password, lab.kube_token):
            assert not any(secret in text for text in texts), "a lab secret reached an artifact or the output"


def test_a_bad_inventory_makes_it_4_and_the_other_site_still_runs_spawned(sites: Sites, tmp_path: Path) -> None:
    bad = write(tmp_path, "name: site-c\nsupervisor: {}\n", "site-c.yaml")
    reports = tmp_path / "reports"
    done = run_cli(tmp_path, str(sites.a), str(bad), "--check", "WCP-VIP-001", "--spawn", "--report-dir", str(reports))
    assert done.returncode == 4, f"{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
    assert f"site-c: {bad}: " in done.stdout  # the inventory's problems, one line each, named by the site
    assert f"wcp-acceptance site-c: NOT RUN exit=4 (no report; {bad})" in done.stdout
    assert "wcp-acceptance site-a: HEALTHY (partial) exit=0 2 passed" in done.stdout
    assert summary_of(reports, "site-a")["verdict"] == "HEALTHY"
    assert not (reports / "site-c").exists()


def test_sigterm_reaches_the_running_site_and_the_next_is_not_started(sites: Sites, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WCP_")}
    runner = subprocess.Popen(cli(str(sites.b), str(sites.a), "--jobs", "1", "--report-dir", str(reports)),
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list((reports / "site-b").glob("2*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # into the tests (seed-shared-dns makes site-b's DNS checks wait on timeouts)
        runner.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()
        runner.wait(10)
    assert runner.returncode == 2, f"{out[-4000:]}\n{err[-3000:]}"
    assert time.monotonic() - sent < 25  # within the default grace (20 s) and the time to write the index
    assert "wcp-acceptance site-a: NOT RUN exit=2 (interrupted before it started)" in out
    assert not (reports / "site-a").exists()
    b_line = next(line for line in out.splitlines() if line.startswith("wcp-acceptance site-b:"))
    assert "exit=2" in b_line, b_line
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and str(reports).encode() in
                 _cmdline(p)]
    assert leftovers == [], "a site's suite outlived the runner"


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_the_suite_enters_the_sites_namespace_only_from_outside_it(sites: Sites) -> None:
    probe = ("import json, sys\nfrom wcp_acceptance.cli.site_netns import read_site, wrap\n"
             "print(json.dumps(wrap(read_site(sys.argv[1]), ['suite'])))")
    jumpbox = sites.healthy.ns(sites.healthy.jumpbox)
    outside = subprocess.run([sys.executable, "-c", probe, str(sites.a)], capture_output=True, text=True,
                             timeout=60, check=True)
    inside = subprocess.run(["ip", "netns", "exec", jumpbox, sys.executable, "-c", probe, str(sites.a)],
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(outside.stdout)[1:] == ["netns", "exec", jumpbox, "suite"]
    assert json.loads(inside.stdout) == ["suite"]
