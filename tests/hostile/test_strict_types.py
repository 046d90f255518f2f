"""Strict types: YAML's true, 70000 or '' never becomes an address, a port, a flag or a name (exit 4, file, field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.corpus_runs import CorpusRun, corpus_files, run_corpus
from tests.hostile.refusal import assert_ended_quickly, assert_refused, expectations, run

FOLDER = "types"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    return run_corpus(FOLDER, tmp_path_factory.mktemp("reports"))


def test_the_many_site_run_exits_4(corpus: CorpusRun) -> None:
    assert corpus.result.exit_code == 4, corpus.result.output[-3000:]


@pytest.mark.parametrize("path", corpus_files(FOLDER), ids=lambda p: p.stem)
def test_each_hostile_value_is_named_with_file_field_and_reason(corpus: CorpusRun, path: Path) -> None:
    site = corpus.result.site_output(path.stem)
    assert f"wcp-acceptance {path.stem}: NOT RUN exit=4" in site, site or corpus.result.output[-3000:]
    assert_refused(site, path, expectations(path))


def test_one_site_alone_exits_4_the_same_way(tmp_path: Path) -> None:
    path = corpus_files(FOLDER)[0]
    result = run([path], tmp_path / "reports")
    assert result.exit_code == 4, result.output[-3000:]
    assert_refused(result.output, path, expectations(path))
    assert_ended_quickly(result)
    assert not any((tmp_path / "reports").rglob("report.html")), "a refused inventory writes no report"
