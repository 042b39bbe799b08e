"""Evaluate every system on one benchmark: encode (or reuse) memory once, rank, score."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from memsa.core.decoder import Decoder
from memsa.core.errors import InvalidInput
from memsa.core.models import LoadedModel
from memsa.core.rerank import DEFAULT_RERANK, RerankConfig
from memsa.core.router import RouterProjectors
from memsa.core.sentence_encoder import MiniLMSentences

from .baselines import run_baselines
from .benchmark import Benchmark, SystemRun
from .encoding import StateSpec, encode_missing, state_store_for
from .lexical_system import exact_words_index
from .metrics import RECALL_AT, AbstentionScores, RetrievalScores, abstention_scores, retrieval_scores
from .rereading import BenchmarkRereader
from .router_system import CachedInputs, run_router
from .state_store import text_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamedRouter:
    """A router under evaluation and the name its systems carry ("memsa", or "memsa[<file stem>]")."""

    name: str
    router: RouterProjectors


@dataclass(frozen=True)
class EvalSettings:
    """How an evaluation runs.

    Attributes:
        cache_dir: where encoded memory and dense vectors are cached.
        device: "cpu", "cuda" or "cuda:N".
        top_k: documents every system returns (and each router layer selects).
        cache_layers: router-layer inputs to cache (default: the routers' layers plus every second layer
            of the lower three quarters, the candidates ``memsa train-router`` chooses from).
        pool_tokens: tokens per cached document row (default: gcd of 8 and the routers' chunk sizes).
        dense: run the MiniLM baseline and the fusion.
        batch_tokens: padded tokens per forward pass while encoding.
        rerank: re-reading of the fused ranking as the engine does it; None: the fused ranking is "memsa".
    """

    cache_dir: Path
    device: str = "cpu"
    top_k: int = 16
    cache_layers: tuple[int, ...] | None = None
    pool_tokens: int | None = None
    dense: bool = True
    batch_tokens: int = 8192
    rerank: RerankConfig | None = DEFAULT_RERANK


@dataclass
class BenchmarkResult:
    """Everything measured on one benchmark."""

    benchmark: Benchmark
    runs: list[SystemRun]
    retrieval: dict[str, dict[str, RetrievalScores]]
    abstention: dict[str, AbstentionScores]
    encoded_tokens: int
    seconds: float
    answers: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    inputs: CachedInputs | None = None


def default_cache_layers(n_layers: int, routers: Sequence[NamedRouter]) -> tuple[int, ...]:
    """The routers' layers plus every second layer from 2 to three quarters of the stack (one cache folder
    serves every router over those layers)."""
    candidates = set(range(2, 3 * n_layers // 4 + 1, 2))
    return tuple(sorted(candidates.union(*(named.router.spec.layers for named in routers))))


def state_spec(loaded: LoadedModel, routers: Sequence[NamedRouter], settings: EvalSettings) -> StateSpec:
    """What the cached router inputs of this evaluation are (checks every router can be scored from them).

    Raises:
        InvalidInput: a router is for another model, uses a layer not cached, or a chunk size that is
            not a multiple of the cached pooling.
    """
    decoder = Decoder(loaded.model)
    layers = settings.cache_layers or default_cache_layers(decoder.shape.n_layers, routers)
    pool = settings.pool_tokens or math.gcd(8, *(named.router.spec.router_chunk_tokens for named in routers))
    for named in routers:
        spec = named.router.spec
        if spec.model_fingerprint != loaded.fingerprint:
            raise InvalidInput(f"router {named.name} was trained for another model than {loaded.spec.name}")
        if not set(spec.layers) <= set(layers):
            raise InvalidInput(f"router {named.name} routes with layers {list(spec.layers)}; cache them too "
                               f"(--cache-layers)")
        if spec.router_chunk_tokens % pool:
            raise InvalidInput(f"router {named.name} pools {spec.router_chunk_tokens} tokens, not a multiple of "
                               f"the cached {pool}")
    return StateSpec(loaded.fingerprint, tuple(layers), pool, decoder.shape.hidden_size)


def encode_benchmark(loaded: LoadedModel, spec: StateSpec, benchmark: Benchmark,
                     settings: EvalSettings) -> tuple[CachedInputs, int]:
    """Make sure every document and question of ``benchmark`` is in the cache; return the cached inputs
    and how many tokens had to be encoded now."""
    decoder = Decoder(loaded.model)
    documents = state_store_for(settings.cache_dir, spec, "documents")
    questions = state_store_for(settings.cache_dir, spec, "questions")
    texts = [doc.text for doc in benchmark.documents]
    bar = tqdm(total=0, unit="tok", unit_scale=True, desc=f"encoding {benchmark.name}", file=sys.stderr,
               disable=not sys.stderr.isatty())

    def report(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        encoded = encode_missing(decoder, loaded.tokenizer, documents, texts, spec.pool_tokens,
                                 batch_tokens=settings.batch_tokens, progress=report)
    finally:
        bar.close()
    # Questions one at a time, as a user asks them, so their recorded time is a real latency.
    encoded += encode_missing(decoder, loaded.tokenizer, questions, [q.question for q in benchmark.queries], 1,
                              batch_tokens=1)
    inputs = CachedInputs(documents, questions, [text_key(text) for text in texts],
                          [text_key(q.question) for q in benchmark.queries], spec.pool_tokens)
    return inputs, encoded


def evaluate(benchmark: Benchmark, loaded: LoadedModel, routers: Sequence[NamedRouter],
             settings: EvalSettings) -> BenchmarkResult:
    """Rank ``benchmark``'s documents for each query with every router and baseline, and score them."""
    began = time.perf_counter()
    spec = state_spec(loaded, routers, settings)
    inputs, encoded = encode_benchmark(loaded, spec, benchmark, settings)
    runs: list[SystemRun] = []
    encoder = MiniLMSentences(settings.device) if settings.rerank is not None else None
    with exact_words_index(benchmark.documents) as matches:
        for named in routers:
            reread = None
            if encoder is not None and settings.rerank is not None:
                reread = BenchmarkRereader(benchmark.documents, loaded.tokenizer,
                                           named.router.spec.router_chunk_tokens, encoder, settings.rerank)
            for run in run_router(named.router, inputs, benchmark.queries, settings.top_k, settings.device,
                                  matches, reread=reread):
                runs.append(replace(run, system=run.system.replace("memsa", named.name, 1)))
    size = int(sum(inputs.documents.index[key].n_tokens for key in inputs.document_keys))
    runs += run_baselines(benchmark.documents, benchmark.queries, settings.top_k, settings.cache_dir,
                          settings.device, size, dense=settings.dense)
    families = sorted({query.family for query in benchmark.queries if not query.absent})
    ks = sorted({k for k in RECALL_AT if k <= settings.top_k} | {settings.top_k})
    retrieval = {
        run.system: {
            "all": retrieval_scores(run, benchmark.queries, ks),
            **{family: retrieval_scores(run, [q for q in benchmark.queries if q.family == family], ks)
               for family in families},
        }
        for run in runs
    }
    abstention = {run.system: abstention_scores(run.abstained, benchmark.queries) for run in runs
                  if run.abstained is not None}
    result_benchmark = replace(benchmark, size_tokens=size)
    return BenchmarkResult(result_benchmark, runs, retrieval, abstention, encoded, time.perf_counter() - began,
                           inputs=inputs)
