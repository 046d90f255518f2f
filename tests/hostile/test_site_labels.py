"""A many-site run labels a site whose inventory does not load by its file's stem: a 250-character or
control-character stem is escaped and cut, so it can name the site's log file and start its output lines."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.refusal import assert_ended_quickly, run


def test_hostile_file_names_end_in_exit_4_for_every_site(tmp_path: Path) -> None:
    long_stem = tmp_path / ("q" * 250 + ".yaml")
    escape_stem = tmp_path / "\x1b[31mred.yaml"
    plain = tmp_path / "plain.yaml"
    for path in (long_stem, escape_stem, plain):
        path.write_text("name: [not, a, name]\n")
    result = run([long_stem, escape_stem, plain], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    assert "Traceback" not in result.output, result.output[-3000:]
    assert f"wcp-acceptance {'q' * 64}: NOT RUN exit=4" in result.output, result.output[-3000:]
    assert "wcp-acceptance \\x1b[31mred: NOT RUN exit=4" in result.output, result.output[-3000:]
    assert "wcp-acceptance plain: NOT RUN exit=4" in result.output, result.output[-3000:]
    assert "\x1b[31mred:" not in result.output, "expected the escape sequence escaped in the site's label"
    assert_ended_quickly(result, 3)
