"""YAML built to hurt the reader (alias bombs, deep nesting, a list as a key, values PyYAML cannot build,
object tags): exit 4 with the file and the reason, fast, never a traceback or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.hostile.corpus_runs import CorpusRun, corpus_files, run_corpus
from tests.hostile.refusal import assert_refused, expectations
from wcp_acceptance.inventory.yaml_text import load_yaml

FOLDER = "yaml"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    return run_corpus(FOLDER, tmp_path_factory.mktemp("reports"))


def test_the_many_site_run_exits_4(corpus: CorpusRun) -> None:
    assert corpus.result.exit_code == 4, corpus.result.output[-3000:]


@pytest.mark.parametrize("path", corpus_files(FOLDER), ids=lambda p: p.stem)
def test_each_hostile_document_is_refused_with_its_reason(corpus: CorpusRun, path: Path) -> None:
    site = corpus.result.site_output(path.stem)
    assert f"wcp-acceptance {path.stem}: NOT RUN exit=4" in site, site or corpus.result.output[-3000:]
    assert_refused(site, path, expectations(path))


def test_anchors_and_merge_keys_within_bounds_still_load() -> None:
    text = "defaults: &ssh {user: root, port: 22}\nvm1: {<<: *ssh, port: 2222}\nvm2: *ssh\nlist: [*ssh, *ssh]\n"
    assert load_yaml(text) == {
        "defaults": {"user": "root", "port": 22},
        "vm1": {"user": "root", "port": 2222},
        "vm2": {"user": "root", "port": 22},
        "list": [{"user": "root", "port": 22}, {"user": "root", "port": 22}],
    }


def test_a_shared_alias_is_measured_once_not_per_use() -> None:
    # 40 levels of 2 uses each expand to 2**40 values: refused from its 80 nodes, at once
    text = "l0: &l0 [x, x]\n" + "".join(f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]\n" for i in range(1, 41))
    with pytest.raises(yaml.YAMLError, match="an alias bomb"):
        load_yaml(text)
