"""`memsa eval --build-only`: sets built here are saved without encoding, and evaluate later from the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memsa.app.cli import main
from memsa.evaluation.benchmark import load_benchmark
from tests.support.tiny_models import TinyModel, install_router

NEEDLES = "exact=2,lookalike_groups=1,lookalike_group=2,reworded=2,updated=1,absent=2,multihop=1"


def test_build_only_saves_sets_that_evaluate_later(tiny_llama: TinyModel, data_dir: Path, tmp_path: Path) -> None:
    install_router(tiny_llama, data_dir)
    common = ["--data-dir", str(data_dir), "--model", str(tiny_llama.path), "--cache-dir", str(tmp_path / "cache")]
    sets = tmp_path / "sets"
    assert main(["eval", "--sizes", "1500", "--needles", NEEDLES, "--build-only", "--save-benchmarks", str(sets),
                 "--output", str(tmp_path / "unused"), *common]) == 0
    saved = sets / "haystack-1500.json.gz"
    built = load_benchmark(saved)
    assert len(built.queries) == 10 and built.documents
    assert not (tmp_path / "cache").exists() and not (tmp_path / "unused").exists()  # nothing encoded or reported

    assert main(["eval", "--sizes", "", "--benchmark", str(saved), "--no-dense", "--top-k", "4",
                 "--output", str(tmp_path / "report"), *common]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    (evaluated,) = report["benchmarks"]
    assert evaluated["name"] == "haystack-1500" and evaluated["documents"] == len(built.documents)
    assert evaluated["tokens_encoded_this_run"] > 0


def test_build_only_needs_a_folder(tiny_llama: TinyModel, data_dir: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    install_router(tiny_llama, data_dir)
    assert main(["eval", "--sizes", "1500", "--build-only", "--data-dir", str(data_dir),
                 "--model", str(tiny_llama.path)]) == 2
    assert "--build-only saves the sets: give --save-benchmarks DIR" in capsys.readouterr().err
