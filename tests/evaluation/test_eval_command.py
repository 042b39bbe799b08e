"""`memsa eval` end to end on a tiny random model: haystacks of real text, every system, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memsa.app.cli import main
from memsa.app.eval_command import parse_counts, parse_size
from memsa.core.errors import InvalidInput
from tests.support.tiny_models import TinyModel, install_router

NEEDLES = "exact=2,lookalike_groups=1,lookalike_group=2,reworded=2,updated=1,absent=2,multihop=1"


def test_eval_writes_a_report_and_reuses_its_cache(tiny_llama: TinyModel, data_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    install_router(tiny_llama, data_dir)
    args = ["eval", "--sizes", "1500,3000", "--needles", NEEDLES, "--no-dense", "--top-k", "4",
            "--output", str(tmp_path / "report"), "--cache-dir", str(tmp_path / "cache"),
            "--data-dir", str(data_dir), "--model", str(tiny_llama.path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "memsa layer 1" in out and "bm25" in out

    report = json.loads((tmp_path / "report" / "report.json").read_text())
    small, large = report["benchmarks"]
    assert small["name"] == "haystack-1500" and large["name"] == "haystack-3000"
    assert small["size_tokens"] >= 1500 and large["documents"] > small["documents"]
    assert set(small["systems"]) == {"memsa layer 1", "memsa layer 3", "memsa router", "memsa fused", "memsa",
                                     "bm25"}
    # "memsa" is the fused ranking re-read: the same documents, its first ones reordered.
    fused, reread = small["systems"]["memsa fused"]["rankings"], small["systems"]["memsa"]["rankings"]
    assert fused.keys() == reread.keys() and all(sorted(fused[q]) == sorted(reread[q]) for q in fused)
    assert small["queries_by_family"] == {"exact": 2, "lookalike": 2, "reworded": 2, "updated": 1, "absent": 2,
                                          "multihop": 1}
    for system in small["systems"].values():
        recall = system["retrieval"]["all"]["recall"]
        assert 0.0 <= recall["1"] <= recall["4"] <= 1.0
    # Exact keys are words the tiny tokenizer does not know, but BM25 reads them.
    assert small["systems"]["bm25"]["retrieval"]["exact"]["recall"]["1"] == 1.0
    assert small["tokens_encoded_this_run"] > 0
    assert (tmp_path / "report" / "recall.png").is_file()
    assert "| memsa |" in (tmp_path / "report" / "report.md").read_text()

    # The same memory again: nothing is encoded twice.
    assert main([*args, "--answers", "3", "--answer-tokens", "4", "--save-benchmarks", str(tmp_path / "sets")]) == 0
    again = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [b["tokens_encoded_this_run"] for b in again["benchmarks"]] == [0, 0]
    assert again["benchmarks"][0]["systems"]["memsa"]["rankings"] == small["systems"]["memsa"]["rankings"]
    answers = again["benchmarks"][0]["answers"]
    assert set(answers) == {"no memory", "memsa", "gold document"}
    assert all(0.0 <= scores["all"]["f1"] <= 1.0 for scores in answers.values())
    assert sum(group["questions"] for group in answers["no memory"].values()) == 3
    assert sorted(path.name for path in (tmp_path / "sets").iterdir()) == ["haystack-1500.json.gz",
                                                                        "haystack-3000.json.gz"]

    # Re-reading knobs: every first document re-read with no rank prior is still a reordering.
    assert main([*args, "--rerank-chars", "100", "--rerank-prior", "0"]) == 0
    knobs = json.loads((tmp_path / "report" / "report.json").read_text())["benchmarks"][0]["systems"]
    assert knobs["memsa fused"]["rankings"] == fused
    assert all(sorted(knobs["memsa"]["rankings"][q]) == sorted(fused[q]) for q in fused)
    assert json.loads((tmp_path / "report" / "report.json").read_text())["rerank"] == {
        "enabled": True, "candidates": 16, "passage_chars": 100, "rank_prior": 0.0, "min_words": 3}

    # Without re-reading, the fused ranking is "memsa".
    assert main([*args, "--no-rerank"]) == 0
    plain = json.loads((tmp_path / "report" / "report.json").read_text())["benchmarks"][0]["systems"]
    assert "memsa fused" not in plain and plain["memsa"]["rankings"] == fused


def test_bad_options_are_clear_errors(tiny_llama: TinyModel, data_dir: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    install_router(tiny_llama, data_dir)
    common = ["--data-dir", str(data_dir), "--model", str(tiny_llama.path)]
    assert main(["eval", "--sizes", "lots", *common]) == 2
    assert "cannot read the haystack size 'lots'" in capsys.readouterr().err
    assert main(["eval", "--squad", str(data_dir / "nowhere"), *common]) == 2
    assert "no folder at" in capsys.readouterr().err
    assert main(["eval", "--threads", "0", *common]) == 2
    assert "threads must be at least 1" in capsys.readouterr().err
    assert main(["eval", "--answer-tokens", "0", *common]) == 2
    assert "--threads and --answer-tokens must be at least 1" in capsys.readouterr().err
    assert main(["eval", "--sizes", "1500", "--rerank-prior", "-1", *common]) == 2
    assert "rank_prior must not be negative" in capsys.readouterr().err


def test_size_and_needle_parsing() -> None:
    assert parse_size("16K") == 16384 and parse_size("1M") == 1048576 and parse_size("2500") == 2500
    assert parse_counts("exact=3,absent=0").exact == 3
    with pytest.raises(InvalidInput):
        parse_counts("exactly=3")
