"""bench.fanout --write-results rewrites its block in docs/benchmarks.md and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.report import END, START, write_results
from tests.conftest import ROOT

DOCS = ROOT / "docs"


def test_the_fanout_block_in_the_benchmarks_document_is_rewritten(tmp_path: Path) -> None:
    document = tmp_path / "benchmarks.md"
    shutil.copy(DOCS / "benchmarks.md", document)
    before = document.read_text()

    write_results(document, "| new | figures |")

    after = document.read_text()
    assert f"{START}\n| new | figures |\n{END}" in after
    assert after[: after.index(START)] == before[: before.index(START)]
    assert after[after.index(END) :] == before[before.index(END) :]
