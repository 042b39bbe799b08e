"""``memsa train-router``: fit router projectors for the chosen model on text found on this machine."""

from __future__ import annotations

import argparse
import logging
import platform
import sys
from pathlib import Path

import torch

from memsa.core.decoder import Decoder
from memsa.core.errors import InvalidInput
from memsa.core.models import load_model, resolve_model
from memsa.core.router import QUERY_REDUCTIONS, RouterProjectors, router_file_name
from memsa.core.router_training import TrainingConfig, calibrate_abstention, train_router
from memsa.core.settings import EngineSettings, ensure_private_dir
from memsa.core.training_corpus import TrainingSet, corpus_texts, make_training_set
from memsa.core.training_paraphrase import with_reworded_queries
from memsa.core.wordnet import WordNet

log = logging.getLogger(__name__)

# Candidate layers for SmolLM2-135M (30 layers): every other layer up to 22. With mean-reduced queries
# every layer from 2 to 22 routes about equally well alone (bench/results/router_ablation.json); layers
# far apart in depth combine best, and encoding stops at the deepest one kept.
DEFAULT_LAYERS_BY_DEPTH = {30: (2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22)}

DATA = ("self-supervised queries (sentences and pseudo-questions, kept in or removed from their passage, or "
        "planted in an unrelated one) over passages of pydoc_data.topics, /usr/share/doc README/NEWS/*.txt/*.md "
        "and stdlib module docstrings (memsa.core.training_corpus.make_training_set); hard negatives: the "
        "planted fact's host passage, BM25-mined passages of other source texts, and with --source-negatives "
        "BM25-ranked passages of the query's own source text that lack its words (memsa.core.training_mining); "
        "with --reworded-share, paraphrase-style queries whose content words are WordNet 3.0 synonyms or broader "
        "words (memsa.core.training_paraphrase)")


def default_layers(n_layers: int) -> tuple[int, ...]:
    """Measured layers for known depths; otherwise MSA's choice, the upper half of the stack."""
    return DEFAULT_LAYERS_BY_DEPTH.get(n_layers, tuple(range(n_layers // 2, n_layers)))


def parse_layers(text: str, n_layers: int) -> tuple[int, ...]:
    try:
        layers = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as error:
        raise InvalidInput(f"--layers takes comma-separated layer numbers, got {text!r}") from error
    if not layers or layers[0] < 0 or layers[-1] >= n_layers:
        raise InvalidInput(f"--layers must lie in 0..{n_layers - 1}")
    return layers


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse out-of-range options before anything slow starts."""
    if args.pairs < 200:
        raise InvalidInput("--pairs must be at least 200 passages")
    if args.queries_per_passage < 2:
        raise InvalidInput("--queries-per-passage must be at least 2")
    for name in ("question_share", "planted_share", "reworded_share"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise InvalidInput(f"--{name.replace('_', '-')} must lie between 0 and 1")
    if args.batch_size < 2:
        raise InvalidInput("--batch-size must be at least 2")
    if min(args.bm25_negatives, args.source_negatives, args.router_mined, args.distill) < 0:
        raise InvalidInput("--bm25-negatives, --source-negatives, --router-mined and --distill cannot be negative")
    if args.query_reduction not in QUERY_REDUCTIONS:
        raise InvalidInput(f"--query-reduction must be one of {', '.join(QUERY_REDUCTIONS)}")
    if args.heads < 1 or args.router_chunk_tokens < 1:
        raise InvalidInput("--heads and --router-chunk-tokens must be positive")
    if args.temperature <= 0 or args.teacher_temperature <= 0:
        raise InvalidInput("--temperature and --teacher-temperature must be positive")
    if args.pairs_file and not args.pairs_file.is_file():
        raise InvalidInput(f"no training set at {args.pairs_file}")


def gather_training_set(args: argparse.Namespace) -> TrainingSet:
    """Queries, passages and hard negatives from this machine's text (BM25 mining needs ``bm25s``)."""
    training = make_training_set(corpus_texts(), seed=args.seed, planted_share=args.planted_share,
                                 question_share=args.question_share, max_passages=args.pairs,
                                 queries_per_passage=args.queries_per_passage)
    if args.bm25_negatives:
        from memsa.core.training_mining import bm25_negatives

        mined = bm25_negatives(training, per_query=args.bm25_negatives)
        training.negatives = [own + [p for p in found if p not in own]
                              for own, found in zip(training.negatives, mined, strict=True)]
    return training


def load_training_set(args: argparse.Namespace) -> TrainingSet:
    """A set exported earlier, keeping the first ``--bm25-negatives`` of each query's mined negatives."""
    training = TrainingSet.load(args.pairs_file)
    planted = [found[:1] if kind == "planted" else [] for found, kind in zip(training.negatives, training.kinds,
                                                                            strict=True)]
    training.negatives = [own + found[len(own):][: args.bm25_negatives]
                          for own, found in zip(planted, training.negatives, strict=True)]
    return training


def with_source_negatives(training: TrainingSet, per_query: int) -> TrainingSet:
    """``training`` with up to ``per_query`` same-source negatives per query placed right after the
    planted fact's host (``training_mining.source_negatives``), ahead of other mined ones. Mined at
    training time, never exported, so an exported set's negatives keep their layout."""
    if per_query:
        from memsa.core.training_mining import source_negatives

        mined = source_negatives(training, per_query)
        training.negatives = [own[:1] + found + [p for p in own[1:] if p not in found] if kind == "planted"
                              else found + [p for p in own if p not in found]
                              for own, found, kind in zip(training.negatives, mined, training.kinds, strict=True)]
    return training


EXPORTED_NEGATIVES = 3


def export_command(args: argparse.Namespace) -> str:
    """The export that made the set a ``--pairs-file`` run trains on (it mines the most negatives used)."""
    return (f"memsa train-router --export-pairs set.json.gz --pairs {args.pairs} --seed {args.seed} "
            f"--question-share {args.question_share} --planted-share {args.planted_share} "
            f"--queries-per-passage {args.queries_per_passage} "
            f"--bm25-negatives {max(args.bm25_negatives, EXPORTED_NEGATIVES)}")


def run_training(settings: EngineSettings, args: argparse.Namespace) -> int:
    check_arguments(args)
    if args.export_pairs:
        training = gather_training_set(args)
        training.save(args.export_pairs)
        print(f"wrote {len(training)} training queries over {len(training.passages)} passages to {args.export_pairs}")
        return 0
    spec = resolve_model(settings.model)
    loaded = load_model(spec, cache_dir=settings.cache_dir)
    loaded.model.to(settings.device)
    decoder = Decoder(loaded.model)
    n_layers = decoder.shape.n_layers
    layers = parse_layers(args.layers, n_layers) if args.layers else default_layers(n_layers)
    training = load_training_set(args) if args.pairs_file else gather_training_set(args)
    training = with_source_negatives(training, args.source_negatives)
    if args.reworded_share:
        training = with_reworded_queries(training, args.reworded_share, args.seed, WordNet(args.wordnet))
    if args.keep_layers is not None and not 1 <= args.keep_layers <= len(layers):
        raise InvalidInput(f"--keep-layers must be between 1 and the {len(layers)} layers trained")
    start_from = None
    if args.init:
        if not args.init.is_file():
            raise InvalidInput(f"no router file at {args.init}")
        start_from = RouterProjectors.load(args.init)
        layers = layers if args.layers else start_from.spec.layers
    geometry = ({"n_heads": start_from.spec.n_heads, "head_dim": start_from.spec.head_dim,
                 "router_chunk_tokens": start_from.spec.router_chunk_tokens,
                 "query_reduction": start_from.spec.query_reduction} if start_from else
                {"n_heads": args.heads, "router_chunk_tokens": args.router_chunk_tokens,
                 "query_reduction": args.query_reduction})
    config = TrainingConfig(layers=layers, max_steps=args.steps, seed=args.seed, keep_layers=args.keep_layers,
                            batch_size=args.batch_size, router_mined=args.router_mined, distill_weight=args.distill,
                            temperature=args.temperature, teacher_temperature=args.teacher_temperature, **geometry)
    command = training_command(args, layers)
    if settings.device != "cpu":
        command += f" --device {settings.device}"
    recipe: dict[str, object] = {"command": command, "model": spec.name, "data": DATA, "queries": len(training),
                                 "passages": len(training.passages), "python": platform.python_version(),
                                 "trained_on": torch.cuda.get_device_name(settings.device)
                                 if settings.device.startswith("cuda") else f"CPU ({platform.machine()})"}
    if args.calibrate:
        return _calibrate(args, decoder, loaded.tokenizer, training, config)
    if start_from is not None:
        recipe = {**recipe, "command": f"{command} --init {args.init.name}", "started_from": start_from.spec.recipe}
    teacher = _teacher(training, args.distill, settings.device, args.teacher_model)
    print(f"training router layers {list(layers)} of {spec.name} on {len(training)} queries", file=sys.stderr)

    def report(done: int, total: int) -> None:
        print(f"\rreading training text: {done:,}/{total:,} tokens", end="", file=sys.stderr, flush=True)

    router = train_router(decoder, loaded.tokenizer, training, config, loaded.fingerprint, recipe, report,
                          start_from, teacher)
    print(file=sys.stderr)
    output = args.output or ensure_private_dir(settings.router_dir) / router_file_name(loaded.fingerprint)
    router.save(output)
    results = router.spec.recipe["results"]
    print(f"kept layers {list(router.spec.layers)}")
    print(f"held-out recall@1 {results['combined']['recall@1']:.3f}, recall@5 {results['combined']['recall@5']:.3f} "
          f"({results['held_out_queries']} queries of unseen source texts against {results['pool_passages']} "
          "passages)")
    for layer, result in results["per_layer"].items():
        print(f"  layer {layer}: recall@1 {result['recall@1']:.3f}, recall@5 {result['recall@5']:.3f}")
    print(f"abstention bar {router.spec.abstain_below:.3f}; saved {output}")
    return 0


def training_command(args: argparse.Namespace, layers: tuple[int, ...]) -> str:
    """The command line that rebuilds these projectors (after :func:`export_command` with --pairs-file)."""
    command = "memsa train-router " + " ".join(
        f"--{name} {value}" for name, value in
        (("layers", ",".join(map(str, layers))), ("pairs", args.pairs), ("steps", args.steps), ("seed", args.seed),
         ("keep-layers", args.keep_layers or len(layers)), ("batch-size", args.batch_size),
         ("heads", args.heads), ("router-chunk-tokens", args.router_chunk_tokens),
         ("query-reduction", args.query_reduction), ("router-mined", args.router_mined), ("distill", args.distill),
         ("temperature", args.temperature), ("teacher-temperature", args.teacher_temperature),
         ("bm25-negatives", args.bm25_negatives), ("source-negatives", args.source_negatives),
         ("reworded-share", args.reworded_share))
    )
    if args.pairs_file:
        return f"{export_command(args)} && {command} --pairs-file set.json.gz"
    return (f"{command} --question-share {args.question_share} --planted-share {args.planted_share} "
            f"--queries-per-passage {args.queries_per_passage}")


def _teacher(training: TrainingSet, weight: float, device: str,
             model_path: Path | None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """all-MiniLM-L6-v2 embeddings of the queries and passages when distilling; mined negatives it
    prefers to a query's own passage are dropped (planted look-alikes are kept: negatives by construction)."""
    if weight <= 0:
        return None
    from memsa.core.training_mining import teacher_checked_negatives, teacher_embeddings

    print("embedding the training text with the teacher (all-MiniLM-L6-v2)", file=sys.stderr)
    queries = teacher_embeddings(training.queries, model_path, device)
    passages = teacher_embeddings(training.passages, model_path, device)
    training.negatives = teacher_checked_negatives(training, queries, passages)
    return queries, passages


def _calibrate(args: argparse.Namespace, decoder: Decoder, tokenizer: object, training: TrainingSet,
               config: TrainingConfig) -> int:
    """``--calibrate ROUTER``: recompute the abstention bar of an existing router on held-out queries."""
    if not args.calibrate.is_file():
        raise InvalidInput(f"no router file at {args.calibrate}")
    router = RouterProjectors.load(args.calibrate)
    _, held = training.split_by_group(config.held_out_share, config.seed)
    calibrated = calibrate_abstention(router, decoder, tokenizer, subset(training, held), config)
    calibrated.spec.recipe["calibration"]["command"] = (
        f"{export_command(args)} && memsa train-router --pairs-file set.json.gz --calibrate ROUTER")
    output: Path = args.output or args.calibrate
    calibrated.save(output)
    shares = calibrated.spec.recipe["calibration"]
    print(f"abstention bar {calibrated.spec.abstain_below:.3f} (keeps {shares['answerable_kept']:.2f} of answerable, "
          f"rejects {shares['unanswerable_rejected']:.2f} of unanswerable held-out questions); saved {output}")
    return 0


def subset(training: TrainingSet, rows: list[int]) -> TrainingSet:
    """The listed queries over the same passage pool."""
    return TrainingSet(training.passages, training.groups, [training.queries[i] for i in rows],
                       [training.positives[i] for i in rows], [training.negatives[i] for i in rows],
                       [training.kinds[i] for i in rows])
