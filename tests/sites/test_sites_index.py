"""The cross-site index: one static page at the report root, a row per site from its latest run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from wcp_acceptance.report import sites_index
from wcp_acceptance.report.records import Selection
from wcp_acceptance.report.records import TestRecord as Record
from wcp_acceptance.report.run import RunDir
from wcp_acceptance.report.summary import summary_data, write_json

NOW = datetime(2026, 11, 25, 5, 0, 0, tzinfo=UTC)


class Page(HTMLParser):
    """The page as a reader without JavaScript sees it: table rows (cell texts), links, script tags."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.scripts = 0
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(dict(attrs)["href"] or "")
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def run(root: Path, site: str, *, failed: int = 0, hours_ago: float = 3, inventory: str | None = None) -> Path:
    started = NOW - timedelta(hours=hours_ago)
    records = [Record("WCP-DNS-001", f"d{i}", "resolves", f"cp-{i}/eth1 -> vcenter",
                      "failed" if i < failed else "passed") for i in range(9)]
    records.append(Record("WCP-VIP-001", "v", "tcp", "172.16.1.2:443", "error" if failed else "passed"))
    run_dir = RunDir.create(root, site, started)
    write_json(run_dir.summary, summary_data(site=inventory or site, supervisor="sv", started=started,
                                             finished=started + timedelta(minutes=2), exit_code=1 if failed else 0,
                                             records=records, selection=Selection()))
    run_dir.html.write_text("<html>report</html>")
    run_dir.link_latest()
    return run_dir.path


def test_one_row_per_site_worst_first_with_counts_and_links(tmp_path: Path) -> None:
    run(tmp_path, "site-a", hours_ago=30)
    newer_a = run(tmp_path, "site-a", hours_ago=2)
    run(tmp_path, "site-b", failed=9)
    (tmp_path / "site-a" / "index.html").write_text("history")  # the site's own index, when history wrote one
    (tmp_path / "site-c").mkdir()  # a site whose first run is still going: nothing finished to show yet
    path = sites_index.write_index(tmp_path, now=NOW)
    assert path == tmp_path / "index.html"
    page = Page(path.read_text())
    header, *rows = page.rows
    assert header[:4] == ["site", "verdict", "finished", "exit"]
    assert [r[0] for r in rows] == ["site-b", "site-a"]
    b, a = (dict(zip(header, r, strict=True)) for r in rows)
    assert b["verdict"] == "UNHEALTHY"
    assert b["exit"] == "1"
    assert (b["passed"], b["failed"], b["could not observe"]) == ("0", "9", "1")
    assert b["checks failed or not observed (targets)"] == "WCP-DNS-001 (9), WCP-VIP-001 (1)"
    assert a["verdict"] == "HEALTHY"
    assert a["passed"] == "10"
    assert a["finished"] == f"{NOW - timedelta(hours=2) + timedelta(minutes=2):%Y-%m-%d %H:%M} UTC (118 min ago)"
    assert a["site history"] == "history"
    assert b["site history"] == "\u2014"
    assert f"site-a/{newer_a.name}/report.html" in page.links  # the latest run, not the older one
    for link in page.links:
        assert (tmp_path / link).is_file(), link
    assert "1 UNHEALTHY, 1 HEALTHY" in "".join(page.text)
    assert page.scripts == 0  # readable with JavaScript off
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != ".index.lock") == []


def test_values_from_the_files_are_escaped(tmp_path: Path) -> None:
    run(tmp_path, "site-x", failed=1, inventory='<script>alert("x")</script>')
    text = sites_index.write_index(tmp_path, now=NOW).read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert Page(text).scripts == 0


def test_an_unreadable_summary_is_a_row_that_says_so(tmp_path: Path) -> None:
    path = run(tmp_path, "site-a")
    (path / "summary.json").write_text("{not json")
    page = Page(sites_index.write_index(tmp_path, now=NOW).read_text())
    row = page.rows[1]
    assert row[0] == "site-a"
    assert row[1] == "UNREADABLE"
    assert f"site-a/{path.name}/summary.json" in " ".join(row)


def test_no_site_yet_is_an_empty_index_not_an_error(tmp_path: Path) -> None:
    page = Page(sites_index.write_index(tmp_path / "reports", now=NOW).read_text())
    assert len(page.rows) == 1
    assert "no finished run" in "".join(page.text)
