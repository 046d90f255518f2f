"""summary.md and summary.csv: the first screen for a ticket and one row per target for a spreadsheet."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.report.summaries import entry, seed_failures, summary
from wcp_acceptance import catalogue
from wcp_acceptance.report.tables import CSV_COLUMNS, write_tables


def test_markdown_has_the_verdict_every_check_and_each_root_cause_once(tmp_path: Path) -> None:
    tests = [entry("WCP-VIP-001", "172.16.1.2:443"), *seed_failures()]
    md_path, _ = write_tables(tmp_path, summary(tests, site="lab-seed"))
    text = md_path.read_text()
    assert text.startswith("# lab-seed (supervisor-1): UNHEALTHY\n")
    assert "- Since the last good run" not in text  # without a baseline it says there is none
    assert "no earlier healthy run of this site" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`WCP-" in line]
    assert [row.split("`")[1] for row in rows] == [c.id for c in catalogue.CHECKS]
    dns = next(row for row in rows if "`WCP-DNS-001`" in row)
    assert "| failed | 0 | 9 | 0 | 9 | cause 1: policy routing sends it out eth1" in dns
    assert text.count("\n1. **27 targets**") == 1
    assert "\n2. " not in text


def test_markdown_cells_stay_in_their_column(tmp_path: Path) -> None:
    tests = [entry("WCP-NCP-002", "supervisor-1", "failed", cause="nsx_api_managers = a|b\nnot the inventory's")]
    md_path, _ = write_tables(tmp_path, summary(tests))
    row = next(line for line in md_path.read_text().splitlines() if "`WCP-NCP-002`" in line)
    assert "a\\|b not the inventory's" in row
    assert row.count(" | ") == 8  # nine columns, as the header


def test_csv_has_one_row_per_target_with_its_root_cause_and_no_formula(tmp_path: Path) -> None:
    tests = [entry("WCP-VIP-001", "172.16.1.2:443"),
             entry("WCP-DLB-001", "supervisor-1", "failed", cause='=HYPERLINK("http://x","y")', observed="@SUM(1)"),
             entry("WCP-DLB-002", "supervisor-1", "skipped")]
    _, csv_path = write_tables(tmp_path, summary(tests))
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["check_id"], r["area"], r["outcome"], r["root_cause"]) for r in rows] == [
        ("WCP-VIP-001", "vip", "passed", ""), ("WCP-DLB-001", "dlb", "failed", "1"),
        ("WCP-DLB-002", "dlb", "skipped", "")]
    assert rows[1]["cause"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert rows[1]["observed"] == "'@SUM(1)"
    assert rows[2]["cause"] == "excluded by the inventory: not here"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv", "summary.md"]  # no temporary file left
