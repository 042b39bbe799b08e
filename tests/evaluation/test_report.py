"""The report writer: JSON with every number, Markdown tables, and the recall-vs-size plot."""

from __future__ import annotations

import json
from pathlib import Path

from memsa.evaluation.benchmark import Benchmark, Document, Query, SystemRun
from memsa.evaluation.metrics import abstention_scores, retrieval_scores
from memsa.evaluation.report import write_report
from memsa.evaluation.runner import BenchmarkResult


def result(size: int, memsa_hit: bool) -> BenchmarkResult:
    documents = [Document(i, f"d{i}", f"text {i}") for i in range(3)]
    queries = [Query("e", "exact", "q?", ("a",), (1,)), Query("r", "reworded", "q2?", ("b",), (2,)),
               Query("n", "absent", "q3?", (), ())]
    benchmark = Benchmark(f"haystack-{size}", documents, queries, recipe={"size_tokens": size}, size_tokens=size)
    runs = [
        SystemRun("memsa", {"e": [1, 0] if memsa_hit else [0, 1], "r": [2], "n": [0]},
                  abstained={"e": False, "r": False, "n": True}, index_seconds=2.0, index_tokens=size,
                  query_ms=12.5),
        SystemRun("bm25", {"e": [1], "r": [0], "n": [2]}, index_seconds=0.01, index_tokens=size, query_ms=0.4),
    ]
    retrieval = {run.system: {"all": retrieval_scores(run, queries),
                              **{f: retrieval_scores(run, [q for q in queries if q.family == f])
                                 for f in ("exact", "reworded")}} for run in runs}
    return BenchmarkResult(benchmark, runs, retrieval, {"memsa": abstention_scores(runs[0].abstained or {}, queries)},
                           encoded_tokens=size, seconds=3.0)


def test_report_files_hold_the_numbers(tmp_path: Path) -> None:
    results = [result(16384, memsa_hit=False), result(65536, memsa_hit=True)]
    written = write_report(results, tmp_path / "out", {"command": "memsa eval --sizes 16K,64K", "device": "cpu"})
    assert [path.name for path in written] == ["report.json", "report.md", "recall.png"]

    payload = json.loads((tmp_path / "out" / "report.json").read_text())
    assert payload["command"] == "memsa eval --sizes 16K,64K"
    first = payload["benchmarks"][0]
    assert first["size_tokens"] == 16384 and first["queries_by_family"] == {"exact": 1, "reworded": 1, "absent": 1}
    memsa = first["systems"]["memsa"]
    assert memsa["retrieval"]["all"]["recall"]["1"] == 0.5  # exact missed at rank 1, reworded found
    assert memsa["retrieval"]["exact"]["recall"]["5"] == 1.0
    assert memsa["abstention"]["precision"] == 1.0 and memsa["index_tokens_per_s"] == 8192.0
    assert memsa["rankings"]["e"] == [0, 1]
    assert first["systems"]["bm25"]["abstention"] is None

    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## haystack-16384: 16,384 tokens, 3 documents, 3 questions" in markdown
    assert "| memsa | 0.500 | 1.000 | 1.000 | 1.000 | 1.000 |  | 1.00/1.00 | 8,192 | 12.5 |" in markdown
    assert "| bm25 | 0.500 | 0.500 | 0.500 | 1.000 | 0.000 |  | n/a |" in markdown

    png = (tmp_path / "out" / "recall.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_one_size_writes_no_plot(tmp_path: Path) -> None:
    written = write_report([result(16384, memsa_hit=True)], tmp_path, {})
    assert [path.name for path in written] == ["report.json", "report.md"]
