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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from memsa.core.abstention import AbstentionConfig, abstains
from memsa.core.lexical import DEFAULT_FUSION, fuse
from memsa.core.models import LoadedModel
from memsa.core.router import RouterProjectors

from .benchmark import Benchmark, Query
from .datasets import load_squad
from .fusion_tuning import Ranked, configured_setup, rank_once, squad_halves
from .haystack import HaystackRecipe, build_haystack
from .lexical_system import exact_words_index
from .metrics import AbstentionScores, abstention_scores
from .runner import EvalSettings

LEAD_FACTORS = (0.0, 0.5, 0.75, 0.85, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)
UNKNOWN_SHARES: tuple[float | None, ...] = (None, 0.01, 0.5, 1.0)  # None: no name test; 0.01: any unknown name


@dataclass(frozen=True)
class RuleScore:
    """One rule's abstention: on the pooled dev haystacks, and its false abstentions on SQuAD's tuning
    articles (None without ``--squad``)."""

    rule: AbstentionConfig
    scores: AbstentionScores
    squad_false: float | None = None


def rules(factors: Sequence[float] = LEAD_FACTORS,
          shares: Sequence[float | None] = UNKNOWN_SHARES) -> list[AbstentionConfig]:
    """The grid: every lead factor with every unknown-name share (None: without the name test)."""
    return [AbstentionConfig(lead_factor=factor, unknown_names=share is not None, unknown_share=share or 1.0)
            for share in shares for factor in factors]


def judge(benchmark: Benchmark, ranked: Ranked, bar: float, grid: Sequence[AbstentionConfig],
          top_k: int, rows: Sequence[int] | None = None) -> list[dict[str, bool]]:
    """Per rule of ``grid``: qid -> whether the engine would abstain, on the product's fused ranking of
    ``benchmark`` (from ``ranked``, its router and exact-words rankings), for its questions ``rows``."""
    chosen = range(len(benchmark.queries)) if rows is None else rows
    judged: list[dict[str, bool]] = [{} for _ in grid]
    with exact_words_index(benchmark.documents) as lookup:
        looked_up: dict[tuple[str, int], list[tuple[int, float]]] = {}

        def matches(expression: str, limit: int) -> list[tuple[int, float]]:
            if (expression, limit) not in looked_up:
                looked_up[expression, limit] = lookup(expression, limit)
            return looked_up[expression, limit]

        for row in chosen:
            query = benchmark.queries[row]
            ranking = fuse(ranked.routed[row], ranked.hits[row], top_k, DEFAULT_FUSION)
            for verdicts, rule in zip(judged, grid, strict=True):
                verdicts[query.qid] = abstains(query.question, ranking, matches, bar, rule)
    return judged


def choose(scored: Sequence[RuleScore], max_false: float) -> RuleScore:
    """The rule with the highest recall on absent facts among those abstaining on at most ``max_false`` of
    the answerable questions (dev haystacks, and SQuAD's tuning articles when scored); ties go to the
    smaller lead factor, then to the larger unknown share (the more cautious name test)."""
    allowed = [item for item in scored
               if (item.scores.false_abstentions or 0.0) <= max_false and (item.squad_false or 0.0) <= max_false]
    if not allowed:
        raise ValueError(f"no rule abstains on at most {max_false:.1%} of the answerable questions")
    return max(allowed, key=lambda item: (item.scores.recall or 0.0, -item.rule.lead_factor,
                                          item.rule.unknown_names, item.rule.unknown_share))


def describe(rule: AbstentionConfig) -> str:
    """"lead 1 x bar, names >= 50%" and the like."""
    names = f"names >= {rule.unknown_share:.0%}" if rule.unknown_names else "no name test"
    return f"lead {rule.lead_factor:g} x bar, {names}"


def dev_verdicts(loaded: LoadedModel, router: RouterProjectors, settings: EvalSettings,
                 grid: Sequence[AbstentionConfig], sizes: Sequence[int],
                 seeds: Sequence[int]) -> tuple[list[Query], list[dict[str, bool]]]:
    """Build a haystack with the dev needle templates per size and seed, and judge every rule on all of
    them. Returns the pooled questions (qids prefixed "size/seed/") and per rule qid -> abstained."""
    def count_tokens(text: str) -> int:
        return len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])

    queries: list[Query] = []
    judged: list[dict[str, bool]] = [{} for _ in grid]
    for size in sizes:
        for seed in seeds:
            haystack = build_haystack(HaystackRecipe(size, seed, template_split="dev"), count_tokens)
            ranked = rank_once(haystack, loaded, router, settings, DEFAULT_FUSION.depth)
            prefix = f"{size}/{seed}/"
            queries += [replace(query, qid=prefix + query.qid) for query in haystack.queries]
            verdicts = judge(haystack, ranked, router.spec.abstain_below, grid, settings.top_k)
            for pooled, one in zip(judged, verdicts, strict=True):
                pooled.update({prefix + qid: value for qid, value in one.items()})
            print(f"{haystack.name} seed {seed} (dev templates): {len(haystack.queries)} questions", file=sys.stderr)
    return queries, judged


def squad_false_abstentions(squad: Benchmark, loaded: LoadedModel, router: RouterProjectors,
                            settings: EvalSettings, grid: Sequence[AbstentionConfig]) -> list[float]:
    """Per rule: the share of SQuAD questions from the tuning articles (1-24) it abstains on (all have an
    answer in memory)."""
    tune, _ = squad_halves(squad)
    ranked = rank_once(squad, loaded, router, settings, DEFAULT_FUSION.depth)
    verdicts = judge(squad, ranked, router.spec.abstain_below, grid, settings.top_k, tune)
    print(f"SQuAD-dev tuning articles: {len(tune)} questions", file=sys.stderr)
    return [sum(one.values()) / len(one) for one in verdicts]


def _print_table(scored: Sequence[RuleScore]) -> None:
    print(f"{'rule':<32} {'precision':>9} {'recall':>6} {'false':>6} {'SQuAD false':>11}", file=sys.stderr)
    for item in scored:
        scores = item.scores
        precision = "-" if scores.precision is None else f"{scores.precision:.3f}"
        squad = "-" if item.squad_false is None else f"{item.squad_false:.4f}"
        print(f"{describe(item.rule):<32} {precision:>9} {scores.recall or 0.0:>6.3f} "
              f"{scores.false_abstentions or 0.0:>6.3f} {squad:>11}", file=sys.stderr)


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="16384,65536", help="haystack sizes in tokens, e.g. 16384,65536")
    parser.add_argument("--seeds", default="0,1,2", help="haystack seeds, e.g. 0,1,2")
    parser.add_argument("--squad", type=Path, default=None,
                        help="SQuAD v1.1 dev folder: also count false abstentions on its tuning articles (1-24)")
    parser.add_argument("--questions", type=int, default=5000, help="SQuAD questions drawn")
    parser.add_argument("--first", type=int, default=1000, help="of which the first N are scored")
    parser.add_argument("--seed", type=int, default=0, help="draws the SQuAD questions")
    parser.add_argument("--max-false", type=float, default=0.01,
                        help="most answerable questions a chosen rule may abstain on (share)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, required=True, help="JSON file of every rule's scores")
    args = parser.parse_args(argv)
    loaded, router, settings = configured_setup(args.threads)
    bar = router.spec.abstain_below
    grid = rules()
    queries, judged = dev_verdicts(loaded, router, settings, grid, _numbers(args.sizes), _numbers(args.seeds))
    squad_false: list[float | None] = [None] * len(grid)
    if args.squad:
        squad = load_squad(args.squad, args.questions, args.seed)
        squad_false = [*squad_false_abstentions(replace(squad, queries=squad.queries[: args.first]), loaded, router,
                                                settings, grid)]
    scored = [RuleScore(rule, abstention_scores(verdicts, queries), false)
              for rule, verdicts, false in zip(grid, judged, squad_false, strict=True)]
    chosen = choose(scored, args.max_false)
    _print_table(scored)
    print(f"chosen: {describe(chosen.rule)} (router bar {bar:.3f})", file=sys.stderr)
    args.output.write_text(json.dumps({
        "bar": bar, "max_false": args.max_false, "questions": len(queries),
        "absent": sum(query.absent for query in queries), "chosen": asdict(chosen.rule),
        "rules": [asdict(item) for item in scored],
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
