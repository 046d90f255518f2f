"""The wcp-acceptance command line: `checks` prints the catalogue (text, README table, JSON); `run` passes args on."""

from __future__ import annotations

import json

import pytest

from wcp_acceptance import catalogue
from wcp_acceptance.cli import main


def test_text_lists_every_check_under_its_area(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wcp-acceptance check catalogue {catalogue.catalogue_version()} ")
    for area in catalogue.AREAS:
        assert f"{area.title} (-m {area.name})" in out
    for check in catalogue.CHECKS:
        assert f"{check.id:<12} {check.severity:<8} {check.title}" in out


def test_markdown_is_the_readme_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.strip() == catalogue.table_markdown()


def test_json_carries_every_field_of_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["catalogue_version"] == catalogue.catalogue_version()
    assert [c["id"] for c in data["checks"]] == [c.id for c in catalogue.CHECKS]
    assert set(data["checks"][0]) == {"id", "area", "title", "must_hold", "observed_by", "severity", "doc", "needs"}


def test_an_unknown_argument_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["checks", "--bogus"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "sites", "rest"), [
    (["-m", "dns", "-k", "cp-1 and eth0", "-q"], [], ["-m", "dns", "-k", "cp-1 and eth0", "-q"]),
    (["sites/a.yaml", "-m", "vip", "sites/b.YML"], ["sites/a.yaml", "sites/b.YML"], ["-m", "vip"]),
    (["--maxfail=2", "a.yaml"], ["a.yaml"], ["--maxfail=2"]),
])
def test_inventories_are_the_yaml_paths_and_the_rest_goes_to_pytest_in_order(
        argv: list[str], sites: list[str], rest: list[str]) -> None:
    from wcp_acceptance.cli.run import split_sites

    assert split_sites(argv) == (sites, rest)


def test_arguments_after_a_double_dash_are_never_inventories(monkeypatch: pytest.MonkeyPatch) -> None:
    from wcp_acceptance.cli import run

    seen: dict[str, object] = {}

    def fake_handle(args: object, rest: list[str]) -> int:
        seen["inventories"], seen["rest"] = getattr(args, "inventories", None), rest
        seen["after"] = getattr(args, "after_dashes", None)
        return 0

    monkeypatch.setattr(run, "handle", fake_handle)
    assert main(["run", "--inventory", "site.yaml", "-m", "dns", "--", "--collect-only", "other.yaml"]) == 0
    assert seen == {"inventories": ["site.yaml"], "rest": ["-m", "dns"], "after": ["--collect-only", "other.yaml"]}
