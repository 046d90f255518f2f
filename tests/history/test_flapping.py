"""Flapping over a site's last runs: two turns between passed and failed make a flap, one is a change."""

from __future__ import annotations

from tests.history.crafted import entry, summary
from wcp_acceptance.report.diff import diff_summaries
from wcp_acceptance.report.trend import check_cells, flapping, flips

DNS = "cp-1/eth0 -> vcenter.corp.local"


def runs(*outcomes: str, target: str = DNS) -> list[dict]:
    return [summary([entry("WCP-DNS-001", target, o), entry("WCP-VIP-001", "172.16.1.2:443")]) for o in outcomes]


def test_turns_count_between_passed_and_failed_or_error_only() -> None:
    assert flips(["passed", "failed", "passed"]) == 2
    assert flips(["passed", "error", "failed", "passed"]) == 2
    assert flips(["passed", "not_run", "passed", "skipped", "absent"]) == 0
    assert flips(["failed", "not_run", "passed"]) == 1


def test_a_target_that_turned_twice_flapped_and_one_that_broke_once_did_not() -> None:
    (flap,) = flapping(runs("passed", "failed", "passed"))
    assert (flap.check_id, flap.target, flap.outcomes, flap.flips) == ("WCP-DNS-001", DNS,
                                                                       ("passed", "failed", "passed"), 2)
    assert "turned 2 times over the last 3 runs" in str(flap)
    assert flapping(runs("passed", "passed", "failed", "failed")) == []


def test_only_the_last_n_runs_count() -> None:
    history = runs("passed", "failed", "passed", "passed", "passed", "passed")
    assert flapping(history, window=6)
    assert flapping(history, window=4) == []


def test_flapping_follows_a_target_across_ephemeral_ports() -> None:
    history = [summary([entry("WCP-EGR-001", f"cp-1/eth1 -> observer 10.0.0.5:{port}", outcome)])
               for port, outcome in ((40001, "passed"), (40002, "failed"), (40003, "passed"))]
    (flap,) = flapping(history)
    assert flap.target == "cp-1/eth1 -> observer 10.0.0.5:40003"


def test_the_diff_names_what_flapped_in_the_site_history() -> None:
    *history, before, after = runs("passed", "failed", "passed", "failed", "failed")
    diff = diff_summaries(before, after, history=[*history, before])
    assert [(f.check_id, f.target) for f in diff.flapping] == [("WCP-DNS-001", DNS)]
    assert not diff.new_failures
    assert diff.still_failing
    assert "1 flapping" in diff.line()
    assert diff_summaries(before, after).flapping == []  # two runs alone cannot flap


def test_a_check_cell_shows_its_worst_outcome_and_how_many_targets_had_it() -> None:
    cells = check_cells(summary([entry("WCP-DNS-001", "a"), entry("WCP-DNS-001", "b", "failed"),
                                 entry("WCP-DNS-001", "c", "error"), entry("WCP-VIP-001", "d")]))
    assert (cells["WCP-DNS-001"].outcome, cells["WCP-DNS-001"].text) == ("failed", "failed 1/3")
    assert cells["WCP-VIP-001"].text == "passed 1"
