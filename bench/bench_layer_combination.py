"""Compare rules for combining router layers into one ranking, on held-out training queries.

Run: .venv/bin/python bench/bench_layer_combination.py --pairs-file set.json.gz [--passages 2000] [--device cuda]
(set.json.gz from `memsa train-router --export-pairs set.json.gz`; the held-out queries are those of the source
texts the shipped router never trained on, ranked against the first --passages passages of the pool.)
Prints recall@1/@5 of each single layer and of the mean, max and reciprocal-rank-fusion combinations.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from memsa.core.decoder import Decoder
from memsa.core.models import load_model, resolve_model
from memsa.core.router import find_router, shipped_router_dir
from memsa.core.router_features import recall_at, score_all
from memsa.core.router_training import TrainingConfig, extract_features
from memsa.core.settings import EngineSettings
from memsa.core.training_corpus import TrainingSet


def reciprocal_rank_fusion(scores: list[torch.Tensor], k: float = 60.0) -> torch.Tensor:
    """Sum over layers of 1 / (k + rank), ranks per query row."""
    fused = torch.zeros_like(scores[0])
    for layer_scores in scores:
        ranks = layer_scores.argsort(dim=1, descending=True).argsort(dim=1).float()
        fused += 1.0 / (k + ranks + 1.0)
    return fused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs-file", type=Path, required=True)
    parser.add_argument("--passages", type=int, default=2000, help="pool size (the first N passages)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    settings = EngineSettings(device=args.device)
    spec = resolve_model(None)
    loaded = load_model(spec, cache_dir=settings.cache_dir)
    loaded.model.to(args.device)
    router = find_router(loaded.fingerprint, [shipped_router_dir()], spec.name).to(args.device)
    config = TrainingConfig(layers=router.spec.layers)
    training = TrainingSet.load(args.pairs_file).head(args.passages)
    _, held = training.split_by_group(config.held_out_share, config.seed)
    features = extract_features(Decoder(loaded.model), loaded.tokenizer, training, router.spec.layers,
                                router.spec.router_chunk_tokens, config)
    rows = torch.tensor(held, dtype=torch.long, device=args.device)
    gold = features.positives[rows]
    per_layer = {layer: score_all(router, layer, features.queries.subset(rows), features.passages)
                 for layer in router.spec.layers}
    stacked = torch.stack(list(per_layer.values()))
    rules = {f"layer {layer}": scores for layer, scores in per_layer.items()}
    rules["mean over layers"] = stacked.mean(0)
    rules["max over layers"] = stacked.amax(0)
    rules["reciprocal rank fusion"] = reciprocal_rank_fusion(list(per_layer.values()))
    print(f"{len(held)} held-out queries against {len(training.passages)} passages, "
          f"router layers {list(router.spec.layers)}")
    print(f"{'rule':<24} {'recall@1':>9} {'recall@5':>9}")
    for name, scores in rules.items():
        print(f"{name:<24} {recall_at(scores, gold, 1):>9.3f} {recall_at(scores, gold, 5):>9.3f}")


if __name__ == "__main__":
    main()
