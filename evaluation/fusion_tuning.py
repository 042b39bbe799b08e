"""Choose the exact-words fusion weight on questions kept apart from the reported ones.

Tuning sets: SQuAD-dev's first half of articles, and haystacks whose needles come from the "dev"
templates. Reported sets: SQuAD-dev's second half of articles, and haystacks with the "eval" templates.
The router ranks each question once (``route``, top k) and the exact-words index once; every weight of
``memsa.core.lexical.fuse`` is then scored from those, beside reciprocal-rank fusion of the same two
rankings for comparison. Nothing here runs the model when the cache holds the sets' router inputs::

    python -m memsa.evaluation.fusion_tuning --squad DIR --sizes 64K --output fusion.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from memsa.core.lexical import DEFAULT_FUSION, FusionConfig, LexicalHit, fuse, lexical_ranking
from memsa.core.models import LoadedModel, load_model, resolve_model
from memsa.core.router import RouterProjectors, find_router, shipped_router_dir
from memsa.core.routing import RoutedDocument, route
from memsa.core.settings import EngineSettings

from .baselines import RRF_K
from .benchmark import Benchmark, Query, SystemRun
from .datasets import load_squad
from .haystack import HaystackRecipe, build_haystack
from .lexical_system import exact_words_index
from .metrics import abstention_scores, retrieval_scores
from .router_system import question_states, router_key_matrices
from .runner import EvalSettings, NamedRouter, encode_benchmark, state_spec

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)
COVERAGE_POWERS = (0.0, 0.5, 1.0, 2.0)


def fusion_configs(weights: Sequence[float], powers: Sequence[float], depth: int) -> dict[str, FusionConfig]:
    """The rules scored: every weight at the shipped coverage power, and every coverage power at the shipped
    weight, by name ("fused w=0.75 c=0.5")."""
    shipped = DEFAULT_FUSION
    pairs = [(weight, shipped.coverage_power) for weight in weights]
    pairs += [(shipped.weight, power) for power in powers if (shipped.weight, power) not in pairs]
    return {f"fused w={weight:g} c={power:g}": FusionConfig(weight=weight, depth=depth, coverage_power=power)
            for weight, power in pairs}


@dataclass(frozen=True)
class Ranked:
    """One set's questions, ranked once by the router and once by exact words."""

    name: str
    queries: list[Query]
    routed: list[list[RoutedDocument]]
    hits: list[list[LexicalHit]]


def rank_once(benchmark: Benchmark, loaded: LoadedModel, router: RouterProjectors, settings: EvalSettings,
              depth: int) -> Ranked:
    """Look every question up in the exact-words index (``depth`` documents) and route it (top k, and the
    exact-words finds, as ``lexical.fused_ranking`` does)."""
    named = [NamedRouter("memsa", router)]
    inputs, _ = encode_benchmark(loaded, state_spec(loaded, named, settings), benchmark, settings)
    with exact_words_index(benchmark.documents) as matches:
        hits = [lexical_ranking(matches, query.question, depth) for query in benchmark.queries]
    with torch.inference_mode():
        matrices = router_key_matrices(router, inputs, settings.device)
        states = question_states(inputs, router.spec.layers, settings.device)
        routed = [route(router, state, matrices.__getitem__, settings.top_k, include=[hit.doc_id for hit in found])
                  for state, found in zip(states, hits, strict=True)]
    return Ranked(benchmark.name, benchmark.queries, routed, hits)


def rrf(routed: Sequence[RoutedDocument], hits: Sequence[LexicalHit], top_k: int) -> list[int]:
    """Reciprocal-rank fusion of the two rankings (1 / (60 + rank) each), best first."""
    fused: dict[int, float] = {}
    for ranking in ([doc.doc_id for doc in routed], [hit.doc_id for hit in hits]):
        for rank, doc_id in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused, key=lambda doc_id: -fused[doc_id])[:top_k]


def score_rules(ranked: Ranked, bar: float, top_k: int, configs: dict[str, FusionConfig],
                subset: Sequence[int] | None = None) -> dict[str, dict[str, Any]]:
    """Recall@1/5/16 (all and per family) and abstention of every rule on ``ranked`` (or its ``subset``)."""
    rows = list(range(len(ranked.queries))) if subset is None else list(subset)
    queries = [ranked.queries[row] for row in rows]
    rules: dict[str, tuple[list[list[int]], list[bool] | None]] = {}
    for name, config in configs.items():
        fused = [fuse(ranked.routed[row], ranked.hits[row], top_k, config) for row in rows]
        rules[name] = ([[doc.doc_id for doc in docs] for docs in fused],
                       [not docs or docs[0].relative_score < bar for docs in fused])
    rules["rrf"] = ([rrf(ranked.routed[row], ranked.hits[row], top_k) for row in rows], None)
    families = sorted({query.family for query in queries if not query.absent})
    table: dict[str, dict[str, Any]] = {}
    for name, (lists, abstains) in rules.items():
        rankings = {query.qid: docs for query, docs in zip(queries, lists, strict=True)}
        abstained = None if abstains is None else dict(zip([q.qid for q in queries], abstains, strict=True))
        run = SystemRun(name, rankings, abstained=abstained)
        entry: dict[str, Any] = {"all": retrieval_scores(run, queries).recall}
        if len(families) > 1:
            entry.update({family: retrieval_scores(run, [q for q in queries if q.family == family]).recall
                          for family in families})
        if abstained is not None and any(query.absent for query in queries):
            entry["abstention"] = asdict(abstention_scores(abstained, queries))
        table[name] = entry
    return table


def squad_halves(benchmark: Benchmark) -> tuple[list[int], list[int]]:
    """Question rows whose paragraph is in the first half of the articles, and the rest."""
    articles = list(dict.fromkeys(doc.title.rsplit(" ¶", 1)[0] for doc in benchmark.documents))
    first = set(articles[: len(articles) // 2])
    article_of = [doc.title.rsplit(" ¶", 1)[0] for doc in benchmark.documents]
    tune = [row for row, query in enumerate(benchmark.queries) if article_of[query.gold[0]] in first]
    chosen = set(tune)
    return tune, [row for row in range(len(benchmark.queries)) if row not in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=None, help="SQuAD v1.1 dev folder")
    parser.add_argument("--questions", type=int, default=None, help="SQuAD questions drawn (default: all)")
    parser.add_argument("--first", type=int, default=None,
                        help="score only the first N of the drawn questions (a random sample of them)")
    parser.add_argument("--sizes", default="", help="haystack sizes in tokens, e.g. 16384,65536")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--depth", type=int, default=64, help="documents taken from the exact-words ranking")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, required=True, help="JSON file of every rule's scores")
    args = parser.parse_args(argv)
    loaded, router, settings = configured_setup(args.threads)
    bar = router.spec.abstain_below
    configs = fusion_configs(WEIGHTS, COVERAGE_POWERS, args.depth)
    results: dict[str, Any] = {"weights": list(WEIGHTS), "coverage_powers": list(COVERAGE_POWERS),
                               "depth": args.depth, "sets": {}}

    def record(name: str, ranked: Ranked, subset: Sequence[int] | None = None) -> None:
        table = score_rules(ranked, bar, settings.top_k, configs, subset)
        results["sets"][name] = table
        args.output.write_text(json.dumps(results, indent=1))
        print(f"\n{name}", file=sys.stderr)
        for rule, entry in table.items():
            extra = " ".join(f"{family}@5 {recall[5]:.3f}" for family, recall in entry.items()
                             if family not in ("all", "abstention"))
            recall = entry["all"]
            print(f"  {rule:<20} R@1 {recall[1]:.3f} R@5 {recall[5]:.3f} R@16 {recall[16]:.3f} {extra}",
                  file=sys.stderr)

    if args.squad:
        benchmark = load_squad(args.squad, args.questions, args.seed)
        benchmark = replace(benchmark, queries=benchmark.queries[: args.first])
        ranked = rank_once(benchmark, loaded, router, settings, args.depth)
        tune, report = squad_halves(benchmark)
        record("squad tune (articles 1-24)", ranked, tune)
        record("squad report (articles 25-48)", ranked, report)
    count_tokens = _token_counter(loaded.tokenizer)
    for size in [int(part) for part in args.sizes.split(",") if part.strip()]:
        for split, role in (("dev", "tune"), ("eval", "report")):
            haystack = build_haystack(HaystackRecipe(size, args.seed, template_split=split), count_tokens)
            record(f"haystack {size} {split} templates ({role})",
                   rank_once(haystack, loaded, router, settings, args.depth))
    return 0


def configured_setup(threads: int | None) -> tuple[LoadedModel, RouterProjectors, EvalSettings]:
    """What every tuning command ranks with: the configured model (``EngineSettings``), its router (the
    user's own, else the shipped one) and the harness's settings and cache."""
    if threads:
        torch.set_num_threads(threads)
    engine = EngineSettings()
    spec = resolve_model(engine.model)
    loaded = load_model(spec, cache_dir=engine.cache_dir)
    router = find_router(loaded.fingerprint, [engine.router_dir, shipped_router_dir()], spec.name)
    return loaded, router, EvalSettings(cache_dir=engine.cache_dir / "eval")


def _token_counter(tokenizer: Any) -> Any:
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return count


if __name__ == "__main__":
    raise SystemExit(main())
