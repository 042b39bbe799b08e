"""The harness scores the router exactly as the engine does, from cached inputs, without the model."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from memsa.core.abstention import abstains
from memsa.core.engine import DocumentText, MemoryEngine
from memsa.core.lexical import fuse, lexical_ranking
from memsa.core.memory.records import SourceInfo
from memsa.core.models import load_model, resolve_model
from memsa.core.pooling import chunk_mean
from memsa.core.rerank import DEFAULT_RERANK, RerankConfig
from memsa.core.router import RouterProjectors
from memsa.core.routing import route
from memsa.core.sentence_encoder import MiniLMSentences
from memsa.core.settings import EngineSettings
from memsa.evaluation.benchmark import Benchmark, Document, Query
from memsa.evaluation.lexical_system import exact_words_index
from memsa.evaluation.rereading import BenchmarkRereader
from memsa.evaluation.router_system import question_states, regroup, router_key_matrices, run_router
from memsa.evaluation.runner import EvalSettings, NamedRouter, encode_benchmark, state_spec
from memsa.evaluation.state_store import EncodedText, StateStore
from tests.support.tiny_models import TinyModel, install_router, random_text


def test_regrouping_cached_chunks_equals_pooling_the_tokens(tmp_path: Path) -> None:
    torch.manual_seed(0)
    documents = [torch.randn(length, 6) for length in (1, 7, 8, 13, 32)]
    store = StateStore(tmp_path, layers=(0,), width=6)
    store.add([EncodedText(f"d{i}", {0: chunk_mean(doc, 2).half()}, doc.shape[0]) for i, doc in enumerate(documents)],
              seconds=1.0)
    gathered = store.gather([f"d{i}" for i in range(len(documents))], 0)
    pooled, doc_ids, chunk_index = regroup(gathered, base=2, target=8)
    expected = torch.cat([chunk_mean(doc, 8) for doc in documents])
    torch.testing.assert_close(pooled, expected, atol=2e-3, rtol=2e-3)  # float16 storage
    assert doc_ids.tolist() == [0, 1, 2, 3, 3, 4, 4, 4, 4]
    assert chunk_index.tolist() == [0, 0, 0, 0, 1, 0, 1, 2, 3]
    assert store.seconds(["d0", "d0", "d4"]) == pytest.approx(33 / 61, abs=1e-5)


def test_store_survives_reopening_and_reports_missing_texts(tmp_path: Path) -> None:
    store = StateStore(tmp_path, layers=(1, 3), width=2)
    store.add([EncodedText("a", {1: torch.ones(2, 2), 3: torch.zeros(2, 2)}, 5)], seconds=0.5)
    reopened = StateStore(tmp_path, layers=(1, 3), width=2)
    assert reopened.missing(["a", "b", "b"]) == ["b"]
    assert reopened.gather(["a"], 1).rows.tolist() == [[1.0, 1.0], [1.0, 1.0]]


@pytest.fixture(params=["max", "mean"])
def memory(request: pytest.FixtureRequest, tiny_llama: TinyModel, data_dir: Path) -> tuple[Benchmark, Path]:
    """Documents and questions, and a router (reducing question tokens by max or mean) in ``data_dir``."""
    path = install_router(tiny_llama, data_dir)
    router = RouterProjectors.load(path)
    reduced = RouterProjectors(replace(router.spec, query_reduction=request.param))
    reduced.load_state_dict(router.state_dict())
    reduced.save(path)
    rng = random.Random(3)
    documents = [Document(i, f"d{i}", random_text(rng, rng.randint(8, 60))) for i in range(14)]
    queries = [Query(f"q{i}", "exact", random_text(rng, rng.randint(3, 9)), ("x",), (i,)) for i in range(6)]
    return Benchmark("tiny", documents, queries), data_dir


def test_harness_ranking_equals_the_engine_retrieving_from_its_bank(
    tiny_llama: TinyModel, memory: tuple[Benchmark, Path], tmp_path: Path
) -> None:
    benchmark, data_dir = memory
    settings = EngineSettings(data_dir=data_dir, model=str(tiny_llama.path), cache_dir=tmp_path / "models",
                              rerank=RerankConfig(enabled=False))
    bank_ids = {}
    with MemoryEngine.open(settings) as engine:
        for document in benchmark.documents:
            source = SourceInfo(f"/notes/{document.doc_id}", str(document.doc_id), 0, 0)
            remembered = engine.remember(source, [DocumentText(document.text, 0, len(document.text))])
            bank_ids[remembered.doc_ids[0]] = document.doc_id
        from_engine = [engine.retrieve(query.question, top_k=5) for query in benchmark.queries]
        router: RouterProjectors = engine.router
    with MemoryEngine.open(replace(settings, rerank=DEFAULT_RERANK)) as engine:
        reread_by_engine = [engine.retrieve(query.question, top_k=5) for query in benchmark.queries]

    loaded = load_model(resolve_model(str(tiny_llama.path)), cache_dir=tmp_path / "models")
    named = [NamedRouter("memsa", router)]
    eval_settings = EvalSettings(cache_dir=tmp_path / "eval", pool_tokens=2)  # the router pools 4 tokens
    spec = state_spec(loaded, named, eval_settings)
    inputs, encoded = encode_benchmark(loaded, spec, benchmark, eval_settings)
    assert encoded > 0
    matrices = router_key_matrices(router, inputs, "cpu")
    states = question_states(inputs, router.spec.layers, "cpu")
    with exact_words_index(benchmark.documents) as matches:
        hits = [lexical_ranking(matches, query.question) for query in benchmark.queries]
        runs = run_router(router, inputs, benchmark.queries, top_k=5, matches=matches)
        rereader = BenchmarkRereader(benchmark.documents, loaded.tokenizer, router.spec.router_chunk_tokens,
                                     MiniLMSentences(), DEFAULT_RERANK)
        with_rereading = run_router(router, inputs, benchmark.queries, top_k=5, matches=matches, reread=rereader)
    assert any(hits), "no question shares a word with memory: the exact-words side is untested"
    for engine_routed, state, found in zip(from_engine, states, hits, strict=True):
        also = [hit.doc_id for hit in found]
        harness_routed = fuse(route(router, state, matrices.__getitem__, 5, include=also), found, 5)
        harness_scores = {doc.doc_id: doc.score for doc in harness_routed}
        engine_scores = {bank_ids[doc.doc_id]: doc.score for doc in engine_routed}
        for doc_id in harness_scores.keys() & engine_scores.keys():
            assert harness_scores[doc_id] == pytest.approx(engine_scores[doc_id], abs=3e-3)
        best_engine, best_harness = bank_ids[engine_routed[0].doc_id], harness_routed[0].doc_id
        assert best_engine == best_harness or engine_routed[0].score - engine_scores.get(best_harness, -9) < 3e-3

    assert [run.system for run in runs] == ["memsa layer 1", "memsa layer 3", "memsa router", "memsa"]
    router_only, product = runs[-2:]
    for row, query in enumerate(benchmark.queries):
        routed = route(router, states[row], matrices.__getitem__, 5)
        assert router_only.rankings[query.qid] == [doc.doc_id for doc in routed]
        with_hits = route(router, states[row], matrices.__getitem__, 5, include=[hit.doc_id for hit in hits[row]])
        assert product.rankings[query.qid] == [doc.doc_id for doc in fuse(with_hits, hits[row], 5)]
    for run in (router_only, product):
        assert run.abstained is not None and set(run.abstained) == {q.qid for q in benchmark.queries}
    _, again = encode_benchmark(loaded, spec, benchmark, eval_settings)
    assert again == 0  # everything came from the cache

    # Re-read, the harness's "memsa" is the engine's ranking; the fused one is kept as "memsa fused".
    assert [run.system for run in with_rereading][-2:] == ["memsa fused", "memsa"]
    assert with_rereading[-2].rankings == product.rankings
    for query, engine_reread in zip(benchmark.queries, reread_by_engine, strict=True):
        assert with_rereading[-1].rankings[query.qid] == [bank_ids[doc.doc_id] for doc in engine_reread]
    assert with_rereading[-1].abstained == product.abstained


def test_product_row_abstains_as_the_engine_does(tiny_llama: TinyModel, data_dir: Path, tmp_path: Path) -> None:
    router = RouterProjectors.load(install_router(tiny_llama, data_dir))  # bar -1: only unknown names abstain
    rng = random.Random(5)
    texts = [random_text(rng, rng.randint(8, 30)) for _ in range(8)] + ["the locker QX4471 opens with 12 ."]
    documents = [Document(i, f"d{i}", text) for i, text in enumerate(texts)]
    queries = [Query("known", "exact", "what opens the locker QX4471 ?", ("12",), (8,)),
               Query("absent", "absent", "what opens the locker QX9000 ?", (), ())]
    benchmark = Benchmark("names", documents, queries)
    loaded = load_model(resolve_model(str(tiny_llama.path)), cache_dir=tmp_path / "models")
    eval_settings = EvalSettings(cache_dir=tmp_path / "eval", pool_tokens=2)
    inputs, _ = encode_benchmark(loaded, state_spec(loaded, [NamedRouter("memsa", router)], eval_settings), benchmark,
                                 eval_settings)
    matrices = router_key_matrices(router, inputs, "cpu")
    states = question_states(inputs, router.spec.layers, "cpu")
    with exact_words_index(documents) as matches:
        router_only, product = run_router(router, inputs, queries, top_k=5, matches=matches)[-2:]
        expected = {
            query.qid: abstains(query.question, fuse(route(router, state, matrices.__getitem__, 5),
                                                     lexical_ranking(matches, query.question), 5),
                                matches, router.spec.abstain_below)
            for query, state in zip(queries, states, strict=True)
        }
    assert product.abstained == expected == {"known": False, "absent": True}
    assert router_only.abstained == {"known": False, "absent": False}
