"""``memsa train-router``: fit router projectors for the chosen model on text found on this machine."""

from __future__ import annotations

import argparse
import logging
import platform
import sys

from memsa.core.decoder import Decoder
from memsa.core.errors import InvalidInput
from memsa.core.models import load_model, resolve_model
from memsa.core.router import RouterProjectors, router_file_name
from memsa.core.router_training import TrainingConfig, calibrate_abstention, train_router
from memsa.core.settings import EngineSettings, ensure_private_dir
from memsa.core.training_corpus import TrainingPair, corpus_texts, load_pairs, make_pairs, save_pairs

log = logging.getLogger(__name__)

# Candidate layers for SmolLM2-135M (30 layers): every other layer of the lower two-thirds. Held-out
# recall rose towards layer 18 and fell after 20, so the upper third is not worth encoding.
DEFAULT_LAYERS_BY_DEPTH = {30: (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)}


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


def run_training(settings: EngineSettings, args: argparse.Namespace) -> int:
    if args.pairs < 200:
        raise InvalidInput("--pairs must be at least 200 (400 of them are held out when there are enough)")
    for name in ("question_share", "planted_share"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise InvalidInput(f"--{name.replace('_', '-')} must lie between 0 and 1")
    if args.export_pairs:
        pairs = make_pairs(corpus_texts(), limit=args.pairs, seed=args.seed, question_share=args.question_share,
                           planted_share=args.planted_share)
        save_pairs(pairs, args.export_pairs)
        print(f"wrote {len(pairs)} training pairs to {args.export_pairs}")
        return 0
    if args.pairs_file and not args.pairs_file.is_file():
        raise InvalidInput(f"no pairs file at {args.pairs_file}")
    spec = resolve_model(settings.model)
    loaded = load_model(spec, cache_dir=settings.cache_dir)
    loaded.model.to(settings.device)
    decoder = Decoder(loaded.model)
    n_layers = decoder.shape.n_layers
    layers = parse_layers(args.layers, n_layers) if args.layers else default_layers(n_layers)
    if args.pairs_file:
        pairs = load_pairs(args.pairs_file)[: args.pairs]
    else:
        pairs = make_pairs(corpus_texts(), limit=args.pairs, seed=args.seed, question_share=args.question_share,
                           planted_share=args.planted_share)
    held_out = min(400, len(pairs) // 5)
    if args.keep_layers is not None and not 1 <= args.keep_layers <= len(layers):
        raise InvalidInput(f"--keep-layers must be between 1 and the {len(layers)} layers trained")
    start_from = None
    if args.init:
        if not args.init.is_file():
            raise InvalidInput(f"no router file at {args.init}")
        start_from = RouterProjectors.load(args.init)
        layers = layers if args.layers else start_from.spec.layers
    if args.batch_size < 2:
        raise InvalidInput("--batch-size must be at least 2")
    config = TrainingConfig(layers=layers, max_steps=args.steps, seed=args.seed, held_out=held_out,
                            keep_layers=args.keep_layers, batch_size=args.batch_size,
                            **({"n_heads": start_from.spec.n_heads, "head_dim": start_from.spec.head_dim,
                                "router_chunk_tokens": start_from.spec.router_chunk_tokens} if start_from else {}))
    command = "memsa train-router " + " ".join(
        f"--{name} {value}" for name, value in
        (("layers", ",".join(map(str, layers))), ("pairs", args.pairs), ("steps", args.steps), ("seed", args.seed),
         ("keep-layers", args.keep_layers or len(layers)), ("batch-size", args.batch_size))
    )
    if args.pairs_file:
        command = (f"memsa train-router --export-pairs pairs.jsonl --pairs {args.pairs} --seed {args.seed} "
                   f"--question-share {args.question_share} --planted-share {args.planted_share} && {command} "
                   "--pairs-file pairs.jsonl")
    recipe = {
        "command": command,
        "model": spec.name,
        "data": "inverse-cloze pairs from pydoc_data.topics, /usr/share/doc README/NEWS/*.txt/*.md and stdlib "
                "module docstrings (memsa.core.training_corpus)",
        "pairs": len(pairs),
        "python": platform.python_version(),
    }
    print(f"training router layers {list(layers)} of {spec.name} on {len(pairs)} pairs", file=sys.stderr)

    def report(done: int, total: int) -> None:
        print(f"\rreading training text: {done:,}/{total:,} tokens", end="", file=sys.stderr, flush=True)

    if args.calibrate:
        return _calibrate(args, decoder, loaded.tokenizer, pairs[-held_out:], config)
    if start_from is not None:
        command += f" --init {args.init.name}"
        recipe = {**recipe, "command": command, "started_from": start_from.spec.recipe}
    router = train_router(decoder, loaded.tokenizer, pairs, config, loaded.fingerprint, recipe, report, start_from)
    print(file=sys.stderr)
    output = args.output or ensure_private_dir(settings.router_dir) / router_file_name(loaded.fingerprint)
    router.save(output)
    results = router.spec.recipe["results"]
    print(f"kept layers {list(router.spec.layers)}")
    print(f"held-out recall@1 {results['combined']['recall@1']:.3f}, recall@5 {results['combined']['recall@5']:.3f}")
    for layer, result in results["per_layer"].items():
        print(f"  layer {layer}: recall@1 {result['recall@1']:.3f}, recall@5 {result['recall@5']:.3f}")
    print(f"abstention bar {router.spec.abstain_below:.3f}; saved {output}")
    return 0


def _calibrate(
    args: argparse.Namespace, decoder: Decoder, tokenizer: object, pairs: list[TrainingPair], config: TrainingConfig
) -> int:
    """``--calibrate ROUTER``: recompute the abstention bar of an existing router on held-out pairs."""
    if not args.calibrate.is_file():
        raise InvalidInput(f"no router file at {args.calibrate}")
    router = RouterProjectors.load(args.calibrate)
    calibrated = calibrate_abstention(router, decoder, tokenizer, pairs, config)
    command = (f"memsa train-router --export-pairs pairs.jsonl --pairs 12000 --seed {args.seed} "
               f"--question-share {args.question_share} && memsa train-router --pairs-file pairs.jsonl "
               f"--pairs {args.pairs} --calibrate ROUTER")
    calibrated.spec.recipe["calibration"]["command"] = command
    output = args.output or args.calibrate
    calibrated.save(output)
    shares = calibrated.spec.recipe["calibration"]
    print(f"abstention bar {calibrated.spec.abstain_below:.3f} (keeps {shares['answerable_kept']:.2f} of answerable, "
          f"rejects {shares['unanswerable_rejected']:.2f} of unanswerable held-out questions); saved {output}")
    return 0
