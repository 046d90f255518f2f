"""The report a change board reads, as headless Chromium renders it, with JavaScript on and off.

One lab serves the module: the suite runs from its jumpbox healthy, then with the seed's fault
(seed-shared-dns), into one report folder, as a site's nightly runs would. Each test reads the
rendered DOM of both reports in both JavaScript modes (one browser per mode). The screenshots of
the first screen are kept under reports/screenshots/ (CI keeps reports/ as artifacts).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lab.runtime import open_lab
from tests.lab.suite_runs import run_in_lab
from tests.support.browser import Browser, chromium
from tests.support.run_suite import ROOT
from wcp_acceptance import catalogue

SCREENSHOTS = ROOT / "reports" / "screenshots"
SITE, SUPERVISOR = "lab-seed", "supervisor-1"
UTC_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


@dataclass(frozen=True)
class Report:
    name: str
    folder: Path
    summary: dict[str, Any]

    @property
    def html(self) -> Path:
        return self.folder / "report.html"

    @property
    def bad(self) -> list[dict[str, Any]]:
        return [t for t in self.summary["tests"] if t["outcome"] in ("failed", "error")]

    def counts(self, check_id: str) -> Counter[str]:
        return Counter(t["outcome"] for t in self.summary["tests"] if t["check_id"] == check_id)


@dataclass(frozen=True)
class Reports:
    healthy: Report
    seed: Report

    def both(self) -> tuple[Report, Report]:
        return (self.healthy, self.seed)


def _latest(root: Path, name: str) -> Report:
    folder = (root / SITE / "latest").resolve()
    return Report(name, folder, json.loads((folder / "summary.json").read_text()))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    root = tmp_path_factory.mktemp("reports")
    with open_lab(prefix="hrep") as lab:
        healthy_run = run_in_lab(lab, root)
        assert healthy_run.exit_code == 0, healthy_run.stdout[-3000:]
        healthy = _latest(root, "healthy")
        lab.inject("seed-shared-dns")
        try:
            seed_run = run_in_lab(lab, root)
        finally:
            lab.clear("seed-shared-dns")
        assert seed_run.exit_code == 1, seed_run.stdout[-3000:]
    return Reports(healthy, _latest(root, "seed-shared-dns"))


@pytest.fixture(scope="module", params=["javascript on", "javascript off"])
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    with chromium(javascript=request.param == "javascript on") as page:
        yield page


def test_the_page_runs_its_scripts_only_with_javascript_on(browser: Browser, reports: Reports) -> None:
    for report in reports.both():
        browser.open(report.html)
        rows = browser.layout("#results-table tbody.results-table-row")
        expected = len(report.summary["tests"]) if browser.javascript else 0
        assert len(rows) == expected, (f"{report.name}: expected {expected} rows in pytest-html's table; "
                                       f"observed {len(rows)} (JavaScript {'on' if browser.javascript else 'off'})")
        notes = [n for n in browser.layout(".wcp-noscript") if n["shown"]]
        assert bool(notes) is not browser.javascript


def test_the_title_names_the_site_the_supervisor_and_the_verdict(browser: Browser, reports: Reports) -> None:
    for report, verdict in ((reports.healthy, "HEALTHY"), (reports.seed, "UNHEALTHY")):
        browser.open(report.html)
        heading = f"{SITE} ({SUPERVISOR}): {verdict}"
        assert browser.title.startswith(heading), f"{report.name}: title {browser.title!r}"
        assert browser.text("#title").startswith(heading)
        assert browser.text("#wcp-verdict") == verdict == report.summary["verdict"]
        assert browser.text("#wcp-site") == f"{SITE} Supervisor {SUPERVISOR}"
        assert browser.text("#wcp-scope") == f"full run: {len(report.summary['tests'])} targets selected"


def test_the_area_table_counts_every_check_as_summary_json_does(browser: Browser, reports: Reports) -> None:
    for report in reports.both():
        browser.open(report.html)
        rows = {r[0]: r for r in browser.table("#wcp-areas tbody") if r and r[0].startswith("WCP-")}
        assert set(rows) == catalogue.IDS
        for check in catalogue.CHECKS:
            count = report.counts(check.id)
            _, title, status, passed, failed, error, total, first_cause = rows[check.id]
            assert title == check.title
            assert (int(passed), int(failed), int(error), int(total)) == (
                count["passed"], count["failed"], count["error"], sum(count.values())), f"{report.name} {check.id}"
            assert status == ("failed" if count["failed"] else "passed")
            bad = [t for t in report.bad if t["check_id"] == check.id]
            assert first_cause == (f"cause 1: {bad[0]['cause']}" if bad else "")
        areas = {r[0]: r[1] for r in browser.table("#wcp-areas tbody") if r and not r[0].startswith("WCP-")}
        broken = {"DNS", "Routing"} if report is reports.seed else set()
        assert {a for a, status in areas.items() if status == "failed"} == broken


def test_the_seed_fault_is_one_root_cause_over_all_its_targets(browser: Browser, reports: Reports) -> None:
    browser.open(reports.seed.html)
    n = len(reports.seed.bad)
    assert n >= 27  # DNS from both interfaces, RT-001, and what reads the workload DNS
    causes = browser.texts("#wcp-causes > li.wcp-cause")
    assert len(causes) == 1, f"expected one root cause; observed {[c[:120] for c in causes]}"
    line = browser.text("#wcp-cause-1 .wcp-cause-line")
    assert line.startswith(f"{n} targets ({n} failed;"), line
    assert "management and workload DNS share 192.168.10.10" in browser.text("#wcp-cause-1 .wcp-cause-text")
    rows = browser.table("#wcp-cause-1 .wcp-cause-rows tbody")
    assert {(r[0], r[1]) for r in rows} == {(t["check_id"], t["target"]) for t in reports.seed.bad}
    assert len(rows) == n
    assert browser.text("#wcp-cause-count .wcp-cause-total") == f"1 distinct cause for {n} failed or unobserved targets"
    (digest,) = browser.texts("#wcp-digest li")
    assert digest == f"{n} targets: {browser.text('#wcp-cause-1 .wcp-cause-text')}"  # on the first screen
    browser.open(reports.healthy.html)
    assert browser.text("#wcp-causes") == "No target failed and every selected target was observed."


def test_the_environment_table_names_the_site(browser: Browser, reports: Reports) -> None:
    browser.open(reports.seed.html)
    static = dict(tuple(r) for r in browser.table("#wcp-environment"))
    assert static["Site (inventory)"] == SITE
    assert static["Supervisor"] == SUPERVISOR
    assert static["Read-only"].startswith("yes")
    assert static["Control-plane VMs"] == "cp-1, cp-2, cp-3"
    # pytest-html's own table (drawn by its script) leads with the same facts
    drawn = [r for r in browser.table("#environment") if len(r) == 2]
    if browser.javascript:
        assert [r[0] for r in drawn[:3]] == ["Site (inventory)", "Supervisor", "Control-plane VMs"]
        assert {k: v for k, v in drawn if k in static} == static
    else:
        assert drawn == []


def test_every_evidence_is_on_the_page_and_no_link_is_dead(browser: Browser, reports: Reports) -> None:
    browser.open(reports.seed.html)
    hrefs = [str(a["href"] or "") for a in browser.attributes("a", "href")]
    assert not [h for h in hrefs if h.startswith("data:")], "a data: link opens a blank tab in Chromium"
    ids = {a["id"] for a in browser.attributes("[id]", "id")}
    dead = [h for h in hrefs if h.startswith("#") and h[1:] not in ids]
    assert not dead, f"links to nothing: {dead[:5]}"
    blocks = browser.attributes("#wcp-evidence article.wcp-evidence", "data-check", "data-target")
    texts = browser.texts("#wcp-evidence article.wcp-evidence pre")
    assert len(blocks) == len(texts) == len(reports.seed.bad)
    shown = {(b["data-check"], b["data-target"]): text for b, text in zip(blocks, texts, strict=True)}
    for test in reports.seed.bad:
        text = shown[(test["check_id"], test["target"])]
        assert all(line in text for line in test["evidence"]), f"{test['check_id']} {test['target']}: evidence cut"
    if browser.javascript:  # the per-test table shows the whole failure, not a 230 px box to scroll
        logs = browser.layout("tbody.failed .logwrapper")
        assert len(logs) == len(reports.seed.bad)
        assert not [log for log in logs if log["clipped"]]
        assert browser.texts("tbody.failed .col-links a") == []


def test_print_keeps_every_evidence_whole(browser: Browser, reports: Reports) -> None:
    browser.open(reports.seed.html)
    browser.media("print")
    try:
        props = ("max-height", "overflow-y")
        boxes = browser.layout(".wcp-evidence-text", *props) + browser.layout("tbody.failed .logwrapper", *props)
        assert len(boxes) == len(reports.seed.bad) * (2 if browser.javascript else 1)
        for box in boxes:
            assert box == {"max-height": "none", "overflow-y": "visible", "clipped": False, "shown": True}
        articles = browser.layout("#wcp-evidence article.wcp-evidence", "break-inside")
        assert {a["break-inside"] for a in articles} == {"avoid"}
        assert not [c for c in browser.layout(".controls") if c["shown"]]
    finally:
        browser.media("screen")


def test_durations_are_seconds_and_times_are_utc(browser: Browser, reports: Reports) -> None:
    for report in reports.both():
        browser.open(report.html)
        run = browser.text("#wcp-run")
        assert re.fullmatch(rf"started {UTC_TIME}, finished {UTC_TIME} \(\d+\.\d\d s\); exit code \d", run), run
        assert re.search(rf"Report generated {UTC_TIME}", browser.text(".wcp-generated"))
        if browser.javascript:
            cells = browser.texts("#results-table td.col-duration")
            assert len(cells) == len(report.summary["tests"])
            assert all(re.fullmatch(r"\d+\.\d\d s", c) for c in cells), cells[:5]


def test_since_the_last_good_run(browser: Browser, reports: Reports) -> None:
    browser.open(reports.healthy.html)
    assert browser.text("#wcp-diff") == "no earlier healthy run of this site"
    browser.open(reports.seed.html)
    line = browser.text("#wcp-diff-line")
    n = len(reports.seed.bad)
    assert re.fullmatch(rf"since the last good run \S+: {n} new failures, 0 fixed, 0 still failing", line), line
    assert browser.attributes("#wcp-new-failures", "data-count") == [{"data-count": str(n)}]
    assert browser.text("#wcp-new-failures") == f"New failures ({n}): cause 1 \u00d7{n}"
    assert set(browser.texts("#wcp-cause-1 .wcp-cause-rows tbody td:nth-child(4)")) == {"new"}


def test_screenshots_of_the_first_screen_are_kept(browser: Browser, reports: Reports) -> None:
    suffix = "" if browser.javascript else "-javascript-off"
    for report in reports.both():
        browser.open(report.html)
        shot = browser.screenshot(SCREENSHOTS / f"{report.name}{suffix}.png", css="#wcp-first-screen")
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        height = int.from_bytes(data[20:24], "big")
        assert height >= browser.find("#wcp-first-screen").size["height"]
