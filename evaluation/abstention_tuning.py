"""Choose the product's abstention rule (``memsa.core.abstention``) on haystacks kept apart from the
reported ones: their needles come from the "dev" templates (the reported sets use the "eval" ones).

Each haystack's questions are ranked once as the product ranks them (the router, fused with the
exact-words index), then every rule in the grid (each ``lead_factor``, with and without the unknown-name
test) is judged by ``memsa.core.abstention.abstains``, the function the engine calls, over all the sets
pooled. The choice is the rule that abstains on the most absent facts while abstaining on at most
``--max-false`` of the answerable questions (ties: the smaller factor). Nothing runs the model when the
cache holds the sets' router inputs::

    python -m memsa.evaluation.abstention_tuning --sizes 16384,65536 --seeds 0,1,2 --output abstention.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from memsa.core.abstention import AbstentionConfig, abstains
from memsa.core.lexical import DEFAULT_FUSION, fuse
from memsa.core.models import load_model, resolve_model
from memsa.core.router import find_router, shipped_router_dir
from memsa.core.settings import EngineSettings

from .benchmark import Benchmark, Query
from .fusion_tuning import Ranked, rank_once
from .haystack import HaystackRecipe, build_haystack
from .lexical_system import exact_words_index
from .metrics import AbstentionScores, abstention_scores
from .runner import EvalSettings

LEAD_FACTORS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


@dataclass(frozen=True)
class RuleScore:
    """One rule's abstention over the pooled tuning sets."""

    rule: AbstentionConfig
    scores: AbstentionScores


def rules(factors: Sequence[float] = LEAD_FACTORS) -> list[AbstentionConfig]:
    """The grid: every lead factor, without and with the unknown-name test."""
    return [AbstentionConfig(lead_factor=factor, unknown_names=names) for names in (False, True) for factor in factors]


def judge_benchmark(benchmark: Benchmark, ranked: Ranked, bar: float, grid: Sequence[AbstentionConfig],
                    top_k: int) -> list[dict[str, bool]]:
    """Per rule of ``grid``: qid -> whether the engine would abstain, on the product's fused ranking of
    ``benchmark`` (from ``ranked``, its router and exact-words rankings)."""
    fused = [fuse(routed, hits, top_k, DEFAULT_FUSION) for routed, hits in zip(ranked.routed, ranked.hits, strict=True)]
    judged: list[dict[str, bool]] = [{} for _ in grid]
    with exact_words_index(benchmark.documents) as matches:
        for query, ranking in zip(benchmark.queries, fused, strict=True):
            for verdicts, rule in zip(judged, grid, strict=True):
                verdicts[query.qid] = abstains(query.question, ranking, matches, bar, rule)
    return judged


def score_grid(grid: Sequence[AbstentionConfig], judged: Sequence[dict[str, bool]],
               queries: Sequence[Query]) -> list[RuleScore]:
    """Abstention precision, recall and false abstentions of every rule over ``queries``."""
    return [RuleScore(rule, abstention_scores(verdicts, queries)) for rule, verdicts in zip(grid, judged, strict=True)]


def choose(scored: Sequence[RuleScore], max_false: float) -> RuleScore:
    """The rule with the highest recall on absent facts among those abstaining on at most ``max_false`` of
    the answerable questions; ties go to the smaller lead factor, then to the rule without name test."""
    allowed = [item for item in scored if (item.scores.false_abstentions or 0.0) <= max_false]
    if not allowed:
        raise ValueError(f"no rule abstains on at most {max_false:.1%} of the answerable questions")
    return max(allowed, key=lambda item: (item.scores.recall or 0.0, -item.rule.lead_factor,
                                          -int(item.rule.unknown_names)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="16384,65536", help="haystack sizes in tokens, e.g. 16384,65536")
    parser.add_argument("--seeds", default="0,1,2", help="haystack seeds, e.g. 0,1,2")
    parser.add_argument("--max-false", type=float, default=0.01,
                        help="most answerable questions a chosen rule may abstain on (share)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, required=True, help="JSON file of every rule's scores")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = EngineSettings()
    spec = resolve_model(engine.model)
    loaded = load_model(spec, cache_dir=engine.cache_dir)
    router = find_router(loaded.fingerprint, [engine.router_dir, shipped_router_dir()], spec.name)
    settings = EvalSettings(cache_dir=engine.cache_dir / "eval")
    bar = router.spec.abstain_below
    grid = rules()

    def count_tokens(text: str) -> int:
        return len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])

    queries: list[Query] = []
    judged: list[dict[str, bool]] = [{} for _ in grid]
    sets: dict[str, Any] = {}
    for size in [int(part) for part in args.sizes.split(",") if part.strip()]:
        for seed in [int(part) for part in args.seeds.split(",") if part.strip()]:
            haystack = build_haystack(HaystackRecipe(size, seed, template_split="dev"), count_tokens)
            ranked = rank_once(haystack, loaded, router, settings, DEFAULT_FUSION.depth)
            verdicts = judge_benchmark(haystack, ranked, bar, grid, settings.top_k)
            prefix = f"{size}/{seed}/"
            queries += [Query(prefix + q.qid, q.family, q.question, q.answers, q.gold, q.stale)
                        for q in haystack.queries]
            for pooled, one in zip(judged, verdicts, strict=True):
                pooled.update({prefix + qid: value for qid, value in one.items()})
            sets[haystack.name] = [asdict(item) for item in score_grid(grid, verdicts, haystack.queries)]
            print(f"{haystack.name}: {len(haystack.queries)} questions", file=sys.stderr)
    scored = score_grid(grid, judged, queries)
    chosen = choose(scored, args.max_false)
    print(f"{'lead factor':>11} {'names':>5} {'precision':>9} {'recall':>6} {'false':>6}", file=sys.stderr)
    for item in scored:
        scores = item.scores
        precision = "-" if scores.precision is None else f"{scores.precision:.3f}"
        print(f"{item.rule.lead_factor:>11g} {'yes' if item.rule.unknown_names else 'no':>5} {precision:>9} "
              f"{scores.recall or 0.0:>6.3f} {scores.false_abstentions or 0.0:>6.3f}", file=sys.stderr)
    print(f"chosen: {chosen.rule} (bar {bar:.3f})", file=sys.stderr)
    args.output.write_text(json.dumps({
        "bar": bar, "max_false": args.max_false, "questions": len(queries),
        "absent": sum(query.absent for query in queries), "chosen": asdict(chosen.rule),
        "pooled": [asdict(item) for item in scored], "sets": sets,
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
