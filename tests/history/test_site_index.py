"""The site's index.html: runs newest first with state, verdict, scope, counts and links; each check's trend."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from tests.history.crafted import HEALTHY, dead_pid, entry, link, summary, write_run
from wcp_acceptance.report.history import record_run
from wcp_acceptance.report.run import RunDir, Runner, boot_id

DNS = "cp-1/eth0 -> vcenter.corp.local"


class Page(HTMLParser):
    """The tables of the page as rows of cell texts, the links and any script."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.row_classes: dict[str, list[str]] = {}
        self.links: list[str] = []
        self.scripts = 0
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or "?"
            self.tables[self._table], self.row_classes[self._table] = [], []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
            self.row_classes[self._table].append(a.get("class") or "")
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "a":
            self.links.append(a.get("href") or "")
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def build_site(tmp_path: Path) -> Path:
    site = tmp_path / "site-a"
    outcomes = ["passed", "failed", "passed", "failed"]
    for day, outcome in enumerate(outcomes, start=1):
        name = f"202611{day:02d}T020000Z"
        data = summary([*HEALTHY, entry("WCP-DLB-001", "supervisor-1", outcome)],
                       started_at=f"2026-11-{day:02d}T02:00:00+00:00")
        run = write_run(site, name, data)
        if day == 4:  # this one ran with a baseline
            (run / "diff.json").write_text(json.dumps({"line": "since 20261103T020000Z: 1 new failure, 0 fixed, "
                                                               "0 still failing"}))
        record_run(run, data)
        link(site, "latest", run)
    partial = summary([entry("WCP-DNS-001", DNS)], full=False, markers="dns")
    partial["scope"]["text"] = "selection -k '<script>alert(1)</script>': 1 targets selected"
    write_run(site, "20261105T020000Z", partial)
    orphan = summary([entry("WCP-DNS-001", DNS), entry("WCP-DLB-001", "supervisor-1", "not_run")],
                     state="orphaned")
    orphan["orphaned"] = {"reason": "the run's process (pid 77) no longer exists"}
    write_run(site, "20261106T020000Z", orphan)
    killed = write_run(site, "20261107T020000Z", summary([entry("WCP-DNS-001", DNS)], state="running"))
    RunDir(killed).mark_running(Runner(Runner.current().host, dead_pid(), boot_id(), None), datetime.now(UTC))
    going = write_run(site, "20261108T020000Z", summary([entry("WCP-DNS-001", DNS)], state="running"))
    RunDir(going).mark_running(Runner.current(), datetime.now(UTC))
    data = summary(HEALTHY + [entry("WCP-DLB-001", "supervisor-1")], started_at="2026-11-09T02:00:00+00:00")
    run = write_run(site, "20261109T020000Z", data)
    link(site, "latest", run)
    record_run(run, data)
    return site


def test_runs_are_listed_newest_first_with_state_verdict_scope_and_counts(tmp_path: Path) -> None:
    page = Page((build_site(tmp_path) / "index.html").read_text())
    header, *rows = page.tables["runs"]
    assert header == ["Run", "Started", "State", "Verdict", "Scope", "Counts", "Compared with its baseline", "Files"]
    assert [r[0].split()[0] for r in rows] == [f"202611{d:02d}T020000Z" for d in range(9, 0, -1)]
    by_run = {r[0].split()[0]: r for r in rows}
    newest = by_run["20261109T020000Z"]
    assert newest[0] == "20261109T020000Z latest last-good"
    assert newest[1:4] == ["2026-11-09 02:00:00 UTC", "finished", "HEALTHY (exit 0)"]
    assert newest[5] == "5 passed"
    assert by_run["20261108T020000Z"][2:4] == ["running", "INCOMPLETE"]
    assert by_run["20261107T020000Z"][2].startswith("running, but the run's process (pid ")
    assert by_run["20261107T020000Z"][3] == "INCOMPLETE"
    assert by_run["20261106T020000Z"][2:4] == ["orphaned: the run's process (pid 77) no longer exists",
                                                 "INCOMPLETE"]
    assert by_run["20261104T020000Z"][3:7] == ["UNHEALTHY (exit 1)", "full run: 3 targets selected",
                                               "4 passed, 1 failed",
                                               "since 20261103T020000Z: 1 new failure, 0 fixed, 0 still failing"]
    assert by_run["20261103T020000Z"][6] == "-"
    assert "20261109T020000Z/report.html" in page.links
    assert "20261109T020000Z/summary.json" in page.links


def test_the_page_is_static_and_escapes_what_the_runs_wrote(tmp_path: Path) -> None:
    text = (build_site(tmp_path) / "index.html").read_text()
    page = Page(text)
    assert page.scripts == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert all(not href.startswith(("/", "http", "file:")) for href in page.links)  # relative: the folder travels


def test_the_trend_marks_the_check_that_flapped(tmp_path: Path) -> None:
    page = Page((build_site(tmp_path) / "index.html").read_text())
    header, *rows = page.tables["trend"]
    assert header[:2] == ["Check", "Title"]
    assert header[-1] == "Flapped"
    assert header[2:-1] == [f"202611{d:02d}T020000Z" for d in range(1, 10)]  # oldest first
    by_check = {r[0]: (r, cls) for r, cls in zip(rows, page.row_classes["trend"][1:], strict=True)}
    dlb, dlb_class = by_check["WCP-DLB-001"]
    assert dlb[2:6] == ["passed 1", "failed 1/1", "passed 1", "failed 1/1"]
    assert dlb[-1] == "1 target(s) flapped"
    assert dlb_class == "flapped"
    vip, vip_class = by_check["WCP-VIP-001"]
    assert vip[-1] == "no"
    assert vip_class == ""
    assert vip[6] == "-"  # the dns-only run did not have it
    assert "WCP-DLB-001 [supervisor-1] flapped" in (tmp_path / "site-a" / "index.html").read_text()
