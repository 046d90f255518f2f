"""The check catalogue is the one place a check is declared: tests_live, markers, README and selection follow it."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from wcp_acceptance import catalogue

ROOT = Path(__file__).resolve().parents[2]


def live_tests() -> dict[str, str]:
    """``module::function`` -> its check_id, for every test function in tests_live."""
    import wcp_acceptance.tests_live as live

    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(live.__path__):
        module = importlib.import_module(f"wcp_acceptance.tests_live.{info.name}")
        for name, fn in vars(module).items():
            if not name.startswith("test_") or not callable(fn):
                continue
            marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "check_id"]
            found[f"{info.name}::{name}"] = str(marks[0].args[0]) if marks else ""
    return found


def test_every_live_test_carries_exactly_one_catalogued_check_id() -> None:
    tests = live_tests()
    assert tests, "no live tests found"
    assert {t: i for t, i in tests.items() if i not in catalogue.IDS} == {}
    ids = list(tests.values())
    assert sorted(ids) == sorted(set(ids)), "two live tests share a check id"
    assert set(ids) == catalogue.IDS, "a catalogued check has no live test"


def test_ids_areas_and_entries_are_well_formed() -> None:
    areas = {a.name for a in catalogue.AREAS}
    for check in catalogue.CHECKS:
        assert re.fullmatch(r"WCP-[A-Z]+-\d{3}", check.id), check.id
        assert check.area in areas, check.id
        assert all((check.title, check.must_hold, check.observed_by)), check.id
        assert check.doc is None or check.doc.startswith("https://"), check.id
    assert len(catalogue.BY_ID) == len(catalogue.CHECKS)
    assert {c.area for c in catalogue.CHECKS} == areas, "an area without checks"


def test_the_readme_check_table_is_the_catalogues() -> None:
    readme = (ROOT / "README.md").read_text()
    assert catalogue.table_markdown() in readme, (
        "README.md's check table differs from the catalogue; run `make readme`")


@pytest.mark.parametrize(("patterns", "chosen", "unknown"), [
    (["WCP-DNS-001"], {"WCP-DNS-001"}, []),
    (["wcp-dns-001,WCP-RT-001"], {"WCP-DNS-001", "WCP-RT-001"}, []),
    (["WCP-VIP-*"], {"WCP-VIP-001", "WCP-VIP-002", "WCP-VIP-003"}, []),
    (["DLB-*"], {"WCP-DLB-001", "WCP-DLB-002"}, []),
    (["WCP-NOPE-001", "WCP-NCP-002"], {"WCP-NCP-002"}, ["WCP-NOPE-001"]),
])
def test_select_takes_ids_lists_and_globs(patterns: list[str], chosen: set[str], unknown: list[str]) -> None:
    assert catalogue.select(patterns) == (chosen, unknown)


def test_the_catalogue_version_changes_when_what_must_hold_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    before = catalogue.catalogue_version()
    first = catalogue.CHECKS[0]
    changed = catalogue.Check(first.id, first.area, first.title, first.must_hold + " (stricter)", first.observed_by)
    monkeypatch.setattr(catalogue, "CHECKS", (changed, *catalogue.CHECKS[1:]))
    assert catalogue.catalogue_version() != before


def test_checks_are_listed_area_by_area_in_the_areas_order() -> None:
    seen = [c.area for c in catalogue.CHECKS]
    grouped = [name for index, name in enumerate(seen) if index == 0 or seen[index - 1] != name]
    assert grouped == [a.name for a in catalogue.AREAS if a.name in seen]
