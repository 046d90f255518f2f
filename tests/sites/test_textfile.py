"""The Prometheus textfile of a run: node_exporter's text format, per site and check id, one file per site."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.sites.exposition import ExpositionError, parse
from wcp_acceptance.report import metrics
from wcp_acceptance.report.records import OUTCOMES, Selection
from wcp_acceptance.report.records import TestRecord as Record
from wcp_acceptance.report.summary import summary_data

STARTED = datetime(2026, 11, 25, 2, 0, 0, tzinfo=UTC)


def summary(site: str = "site-a", *, failing: bool = False, supervisor: str = "supervisor-1",
            selection: Selection | None = None, minutes: float = 4.5) -> dict[str, object]:
    records = [Record("WCP-DNS-001", f"n{i}", "name resolves", f"cp-{i}/eth0 -> vcenter", "passed")
               for i in range(3)]
    records += [Record("WCP-VIP-001", "v", "vip accepts tcp", "172.16.1.2:6443", "passed"),
                Record("WCP-RT-001", "r1", "no rule", "cp-1 -> dns", "failed" if failing else "passed",
                           expected="main table", observed="table 200", cause="shared DNS"),
                Record("WCP-RT-001", "r2", "no rule", "cp-2 -> dns", "error" if failing else "passed",
                           expected="main table", observed="ssh refused", cause="unreachable")]
    return summary_data(site=site, supervisor=supervisor, started=STARTED,
                        finished=STARTED + timedelta(minutes=minutes), exit_code=1 if failing else 0,
                        records=records, selection=selection or Selection())


def test_every_series_names_the_site_and_each_check_has_one_outcome() -> None:
    families = parse(metrics.render(summary(failing=True)))
    outcome = families["wcp_acceptance_check_outcome"]
    assert outcome.type == "gauge"
    assert all(labels["site"] == "site-a" for f in families.values() for labels, _ in f.samples)
    for check in ("WCP-DNS-001", "WCP-VIP-001", "WCP-RT-001"):
        assert sum(v for labels, v in outcome.samples if labels["check_id"] == check) == 1, check
    assert outcome.value(check_id="WCP-DNS-001", outcome="passed") == 1
    # the worst outcome over the check's targets: one failed and one error make the check failed
    assert outcome.value(check_id="WCP-RT-001", outcome="failed") == 1
    assert outcome.value(check_id="WCP-RT-001", outcome="error") == 0
    targets = families["wcp_acceptance_check_targets"]
    assert {o: targets.value(check_id="WCP-RT-001", outcome=o) for o in OUTCOMES} == {
        "passed": 0, "failed": 1, "error": 1, "skipped": 0, "not_run": 0}
    assert targets.value(check_id="WCP-DNS-001", outcome="passed") == 3


def test_the_run_its_verdict_duration_and_times() -> None:
    families = parse(metrics.render(summary(failing=True)))
    verdict = families["wcp_acceptance_run_verdict"]
    assert verdict.value(verdict="UNHEALTHY") == 1
    assert sum(v for _, v in verdict.samples) == 1
    assert families["wcp_acceptance_run_exit_code"].value() == 1
    assert families["wcp_acceptance_up"].value() == 1
    assert families["wcp_acceptance_run_duration_seconds"].value() == 270
    assert families["wcp_acceptance_run_start_time_seconds"].value() == STARTED.timestamp()
    assert families["wcp_acceptance_run_finish_time_seconds"].value() == STARTED.timestamp() + 270
    assert families["wcp_acceptance_run_targets"].value(outcome="failed") == 1
    assert families["wcp_acceptance_run_full_scope"].value() == 1
    assert families["wcp_acceptance_last_success_time_seconds"].value() == 0  # never healthy yet


def test_label_values_are_escaped_as_the_format_requires() -> None:
    text = metrics.render(summary(supervisor='sv "east"\\1\nb'))
    info = parse(text)["wcp_acceptance_info"]
    assert info.value() == 1
    assert info.samples[0][0]["supervisor"] == 'sv "east"\\1\nb'
    assert 'supervisor="sv \\"east\\"\\\\1\\nb"' in text


def test_last_success_is_kept_across_unhealthy_and_partial_runs(tmp_path: Path) -> None:
    path = metrics.write_textfile(tmp_path, summary())
    assert path == tmp_path / "wcp_acceptance_site-a.prom"
    healthy_at = STARTED.timestamp() + 270
    assert parse(path.read_text())["wcp_acceptance_last_success_time_seconds"].value() == healthy_at
    metrics.write_textfile(tmp_path, summary(failing=True))
    metrics.write_textfile(tmp_path, summary(selection=Selection(markers="dns"), minutes=9))  # healthy, partial
    families = parse(path.read_text())
    assert families["wcp_acceptance_run_full_scope"].value() == 0
    assert families["wcp_acceptance_last_success_time_seconds"].value() == healthy_at


def test_one_file_per_site_in_one_collector_directory_written_atomically(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    collector = tmp_path / "textfile_collector"
    monkeypatch.setenv(metrics.TEXTFILE_DIR_ENV, str(collector))
    for site in ("site-a", "site-b"):
        metrics.write_textfile(tmp_path / "reports", summary(site, failing=site == "site-b"))
    files = sorted(p.name for p in collector.iterdir())
    assert files == ["wcp_acceptance_site-a.prom", "wcp_acceptance_site-b.prom"]  # no temporary file left
    assert not (tmp_path / "reports").exists()
    mode = stat.S_IMODE(os.stat(collector / files[0]).st_mode)
    assert mode == 0o644, oct(mode)  # node_exporter runs as another user
    b = parse((collector / files[1]).read_text())
    assert b["wcp_acceptance_run_verdict"].value(site="site-b", verdict="UNHEALTHY") == 1


def test_an_unwritable_directory_costs_the_metrics_not_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(metrics.TEXTFILE_DIR_ENV, str(blocker / "below"))
    assert metrics.write_textfile(tmp_path, summary()) is None
    assert "cannot write the Prometheus textfile" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "why"), [
    ('a{x="1"} 1\n', "before the TYPE"),
    ('# HELP a h\n# TYPE a gauge\na{x="1\\q"} 1\n', "neither"),
    ('# HELP a h\n# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', "twice"),
    ('# HELP a h\n# TYPE a gauge\na{x="1"} 1 1700000000000\n', "neither"),
    ('# HELP a h\n# TYPE a gauge\na 1', "newline"),
])
def test_the_reader_refuses_what_the_collector_refuses(text: str, why: str) -> None:
    with pytest.raises(ExpositionError, match=why):
        parse(text)
