"""``memsa eval``: measure retrieval against BM25, MiniLM and their fusion on haystacks and public sets."""

from __future__ import annotations

import argparse
import logging
import re
import shlex
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from memsa.core.errors import InvalidInput
from memsa.core.models import LoadedModel, load_model, resolve_model
from memsa.core.rerank import DEFAULT_RERANK, RerankConfig
from memsa.core.router import RouterProjectors, find_router, shipped_router_dir
from memsa.core.settings import EngineSettings
from memsa.evaluation.answers import AnswerSettings, evaluate_answers
from memsa.evaluation.benchmark import Benchmark, load_benchmark, save_benchmark
from memsa.evaluation.datasets import LOCOMO_UNITS, load_locomo, load_squad
from memsa.evaluation.haystack import HaystackRecipe, build_haystack
from memsa.evaluation.needles import TEMPLATE_SPLITS, NeedleCounts
from memsa.evaluation.report import write_report
from memsa.evaluation.runner import BenchmarkResult, EvalSettings, NamedRouter, evaluate
from memsa.evaluation.text_sources import SPLITS

log = logging.getLogger(__name__)

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``memsa eval``."""
    parser.add_argument("--sizes", default="16K,64K",
                        help="haystack sizes in model tokens, e.g. 16K,64K,256K,1M (empty: no haystacks)")
    parser.add_argument("--seed", type=int, default=0, help="draws background text, needles and placement")
    parser.add_argument("--text-split", choices=SPLITS, default="eval",
                        help="background text: eval (man pages, API docstrings) or train (router training text)")
    parser.add_argument("--template-split", choices=TEMPLATE_SPLITS, default="eval",
                        help="needle templates: eval (measured) or dev (allowed for tuning)")
    parser.add_argument("--needles", default="",
                        help="probes per family, e.g. exact=24,lookalike_groups=4,reworded=24,updated=16,absent=16")
    parser.add_argument("--man-per-family", type=int, default=40,
                        help="most manual pages per command family in the background (raise it for 10M+ tokens)")
    parser.add_argument("--benchmark", type=Path, action="append", default=None, metavar="FILE",
                        help="evaluate a set saved earlier with --save-benchmarks (e.g. on a GPU machine)")
    parser.add_argument("--save-benchmarks", type=Path, default=None, metavar="DIR",
                        help="also save every set evaluated as DIR/<name>.json.gz")
    parser.add_argument("--build-only", action="store_true",
                        help="only build the sets and save them (--save-benchmarks), to evaluate elsewhere")
    parser.add_argument("--squad", type=Path, default=None, metavar="DIR", help="also evaluate SQuAD v1.1 dev")
    parser.add_argument("--locomo", type=Path, default=None, metavar="DIR", help="also evaluate LoCoMo")
    parser.add_argument("--locomo-unit", choices=LOCOMO_UNITS, default="turn", help="LoCoMo memory documents")
    parser.add_argument("--questions", type=int, default=None,
                        help="questions drawn from SQuAD / LoCoMo (default: all)")
    parser.add_argument("--router", type=Path, action="append", default=None, metavar="FILE",
                        help="router file(s) to evaluate (repeat to compare; default: the model's router)")
    parser.add_argument("--top-k", type=int, default=16, help="documents every system returns")
    parser.add_argument("--no-dense", action="store_true", help="skip the MiniLM baseline and the fusion")
    parser.add_argument("--rerank-chars", type=int, default=None, metavar="N",
                        help=f"characters re-read per document (default {DEFAULT_RERANK.passage_chars})")
    parser.add_argument("--rerank-prior", type=float, default=None, metavar="A",
                        help=f"weight of log(1 + fused rank) in re-reading (default {DEFAULT_RERANK.rank_prior})")
    parser.add_argument("--answers", type=int, default=0, metavar="N",
                        help="also generate answers for N questions per benchmark (slow on CPU)")
    parser.add_argument("--answer-tokens", type=int, default=64, help="longest generated answer, in tokens")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="encoded-memory cache (default: the memsa cache folder's eval/)")
    parser.add_argument("--cache-layers", default=None,
                        help="router-layer inputs to cache, comma-separated (default: routers' + 2,4,…)")
    parser.add_argument("--pool-tokens", type=int, default=None,
                        help="tokens per cached document row (default: gcd of 8 and the routers' chunk)")
    parser.add_argument("--batch-tokens", type=int, default=8192,
                        help="padded tokens per forward pass while encoding (raise it on a GPU)")
    parser.add_argument("--output", type=Path, default=Path("memsa-eval"), help="report folder")


def rerank_config(configured: RerankConfig, args: argparse.Namespace) -> RerankConfig | None:
    """The re-reading the harness applies: the engine's, with ``--rerank-chars``/``--rerank-prior`` if given;
    None under ``--no-rerank``.

    Raises:
        InvalidInput: a value re-reading refuses.
    """
    if not configured.enabled:
        return None
    chars = configured.passage_chars if args.rerank_chars is None else args.rerank_chars
    prior = configured.rank_prior if args.rerank_prior is None else args.rerank_prior
    return replace(configured, passage_chars=chars, rank_prior=prior)


def parse_size(text: str) -> int:
    """"64K" -> 65,536; "1M" -> 1,048,576; "20000" -> 20,000."""
    match = _SIZE.match(text.strip())
    if not match:
        raise InvalidInput(f"cannot read the haystack size {text!r}: use e.g. 16K, 256K, 1M or 50000")
    scale = {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def parse_counts(text: str) -> NeedleCounts:
    fields = NeedleCounts.__dataclass_fields__
    values = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, value = part.partition("=")
        if name not in fields or not value.isdigit():
            raise InvalidInput(f"--needles takes name=count pairs with names {', '.join(fields)}; got {part!r}")
        values[name] = int(value)
    return NeedleCounts(**values)


def load_routers(settings: EngineSettings, loaded: LoadedModel, files: list[Path] | None) -> list[NamedRouter]:
    if not files:
        router = find_router(loaded.fingerprint, [settings.router_dir, shipped_router_dir()], loaded.spec.name)
        return [NamedRouter("memsa", router)]
    if len(files) == 1:
        return [NamedRouter("memsa", RouterProjectors.load(files[0]))]
    return [NamedRouter(f"memsa[{path.stem}]", RouterProjectors.load(path)) for path in files]


@dataclass(frozen=True)
class CheckedOptions:
    """``memsa eval``'s options that need parsing, checked before the model loads."""

    sizes: list[int]
    counts: NeedleCounts
    cache_layers: tuple[int, ...] | None


def check_options(args: argparse.Namespace) -> CheckedOptions:
    """Parse and check every option, so bad input fails at once.

    Raises:
        InvalidInput: naming the option and what it takes.
    """
    if args.top_k < 1 or args.answers < 0 or (args.questions is not None and args.questions < 1):
        raise InvalidInput("--top-k and --questions must be at least 1, --answers at least 0")
    if args.batch_tokens < 4096 or (args.pool_tokens is not None and args.pool_tokens < 1):
        raise InvalidInput("--batch-tokens must be at least 4096 (the longest document) and --pool-tokens positive")
    if (args.threads is not None and args.threads < 1) or args.answer_tokens < 1:
        raise InvalidInput("--threads and --answer-tokens must be at least 1")
    for folder in (args.squad, args.locomo):
        if folder is not None and not folder.is_dir():
            raise InvalidInput(f"no folder at {folder}")
    if args.build_only and args.save_benchmarks is None:
        raise InvalidInput("--build-only saves the sets: give --save-benchmarks DIR")
    for path in [*(args.benchmark or []), *(args.router or [])]:
        if not path.is_file():
            raise InvalidInput(f"no file at {path}")
    cache_layers = None
    if args.cache_layers:
        try:
            cache_layers = tuple(sorted({int(part) for part in args.cache_layers.split(",") if part.strip()}))
        except ValueError as error:
            raise InvalidInput(f"--cache-layers takes comma-separated layer numbers, got {args.cache_layers!r}") \
                from error
    sizes = sorted(parse_size(size) for size in args.sizes.split(",") if size.strip())
    if not (sizes or args.squad or args.locomo or args.benchmark):
        raise InvalidInput("nothing to evaluate: give --sizes, --squad, --locomo or --benchmark")
    return CheckedOptions(sizes, parse_counts(args.needles), cache_layers)


def benchmarks(args: argparse.Namespace, options: CheckedOptions, tokenizer: object) -> list[Benchmark]:
    """The haystacks (smallest first), saved sets and public sets asked for."""
    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])  # type: ignore[operator]

    built = [
        build_haystack(HaystackRecipe(size, args.seed, args.text_split, args.template_split, options.counts,
                                      args.man_per_family), count_tokens)
        for size in options.sizes
    ]
    built += [load_benchmark(path) for path in args.benchmark or []]
    if args.squad:
        built.append(load_squad(args.squad, args.questions, args.seed))
    if args.locomo:
        built.append(load_locomo(args.locomo, args.locomo_unit, args.questions, args.seed))
    return built


def run_eval(settings: EngineSettings, args: argparse.Namespace) -> int:
    options = check_options(args)
    rerank = rerank_config(settings.rerank, args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    spec = resolve_model(settings.model)
    loaded = load_model(spec, cache_dir=settings.cache_dir)
    loaded.model.to(settings.device)
    routers = load_routers(settings, loaded, args.router)
    eval_settings = EvalSettings(
        cache_dir=args.cache_dir or settings.cache_dir / "eval", device=settings.device, top_k=args.top_k,
        cache_layers=options.cache_layers, pool_tokens=args.pool_tokens, dense=not args.no_dense,
        batch_tokens=args.batch_tokens, rerank=rerank,
    )
    results: list[BenchmarkResult] = []
    if args.build_only:
        return _save_sets(benchmarks(args, options, loaded.tokenizer), args.save_benchmarks)
    for benchmark in benchmarks(args, options, loaded.tokenizer):
        print(f"{benchmark.name}: {len(benchmark.documents):,} documents, {len(benchmark.queries)} questions",
              file=sys.stderr)
        result = evaluate(benchmark, loaded, routers, eval_settings)
        if args.answers:
            answer_settings = AnswerSettings(questions=args.answers, seed=args.seed, device=settings.device,
                                             max_new_tokens=args.answer_tokens)
            result.answers = evaluate_answers(result, loaded, routers[0], eval_settings, answer_settings)
        results.append(result)
        if args.save_benchmarks:
            save_benchmark(result.benchmark, args.save_benchmarks / f"{benchmark.name}.json.gz")
        _print_summary(result)
        write_report(results, args.output, _context(settings, loaded, routers, eval_settings))
    print(f"report: {args.output / 'report.md'}")
    return 0


def _save_sets(built: list[Benchmark], folder: Path) -> int:
    """Save the sets without evaluating them (``--build-only``)."""
    for benchmark in built:
        path = folder / f"{benchmark.name}.json.gz"
        save_benchmark(benchmark, path)
        print(f"{benchmark.name}: {len(benchmark.documents):,} documents, {len(benchmark.queries)} questions "
              f"-> {path}", file=sys.stderr)
    return 0


def _context(settings: EngineSettings, loaded: LoadedModel, routers: list[NamedRouter],
             eval_settings: EvalSettings) -> dict[str, object]:
    return {
        "command": "memsa " + shlex.join(sys.argv[1:]) if sys.argv and "memsa" in sys.argv[0] else "memsa eval",
        "model": f"{loaded.spec.name} ({loaded.fingerprint[:12]})",
        "device": settings.device,
        "top_k": eval_settings.top_k,
        "torch_threads": torch.get_num_threads(),
        "rerank": asdict(eval_settings.rerank) if eval_settings.rerank is not None else None,
        "routers": {
            named.name: {"fingerprint": named.router.fingerprint()[:12], "layers": list(named.router.spec.layers),
                         "router_chunk_tokens": named.router.spec.router_chunk_tokens,
                         "recipe": named.router.spec.recipe.get("command", "")}
            for named in routers
        },
    }


def _print_summary(result: BenchmarkResult) -> None:
    ks = sorted(result.retrieval[result.runs[0].system]["all"].recall)
    print(f"  {'system':<22} " + " ".join(f"{f'R@{k}':>6}" for k in ks))
    for run in result.runs:
        recall = result.retrieval[run.system]["all"].recall
        print(f"  {run.system:<22} " + " ".join(f"{recall[k]:6.3f}" for k in ks))
