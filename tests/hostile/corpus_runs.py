"""One many-site run over a corpus folder, shared by that folder's tests (forked sites cost little each)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.hostile.refusal import CORPUS, Run, assert_ended_quickly, run


@dataclass
class CorpusRun:
    files: list[Path]
    result: Run


def corpus_files(folder: str) -> list[Path]:
    files = sorted((CORPUS / folder).glob("*.yaml"))
    assert files, f"no corpus in {CORPUS / folder}"
    return files


def run_corpus(folder: str, reports: Path) -> CorpusRun:
    files = corpus_files(folder)
    result = run(files, reports)
    assert_ended_quickly(result, len(files))
    return CorpusRun(files, result)
