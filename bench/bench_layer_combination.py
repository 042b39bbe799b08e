"""Compare rules for combining router layers into one ranking, on held-out training-style pairs.

Run: .venv/bin/python bench/bench_layer_combination.py --pairs-file pairs.jsonl [--held-out 300]
(pairs.jsonl from `memsa train-router --export-pairs pairs.jsonl`; the last pairs are the held-out ones.)
Prints recall@1/@5 of each single layer and of the mean, max and reciprocal-rank-fusion combinations.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from memsa.core.decoder import Decoder
from memsa.core.models import load_model, resolve_model
from memsa.core.router import find_router, shipped_router_dir
from memsa.core.router_training import TrainingConfig, extract_features, recall_at, retrieval_scores
from memsa.core.settings import EngineSettings
from memsa.core.training_corpus import load_pairs


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
    parser.add_argument("--held-out", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    settings = EngineSettings(device=args.device)
    spec = resolve_model(None)
    loaded = load_model(spec, cache_dir=settings.cache_dir)
    loaded.model.to(args.device)
    router = find_router(loaded.fingerprint, [shipped_router_dir()], spec.name).to(args.device)
    pairs = load_pairs(args.pairs_file)[-args.held_out :]
    config = TrainingConfig(layers=router.spec.layers, router_chunk_tokens=router.spec.router_chunk_tokens)
    features = extract_features(Decoder(loaded.model), loaded.tokenizer, pairs, config)
    with torch.no_grad():
        per_layer = {layer: retrieval_scores(router, layer, features) for layer in router.spec.layers}
    stacked = torch.stack(list(per_layer.values()))
    rules = {f"layer {layer}": scores for layer, scores in per_layer.items()}
    rules["mean over layers"] = stacked.mean(0)
    rules["max over layers"] = stacked.amax(0)
    rules["reciprocal rank fusion"] = reciprocal_rank_fusion(list(per_layer.values()))
    print(f"{len(pairs)} held-out pairs, router layers {list(router.spec.layers)}")
    print(f"{'rule':<24} {'recall@1':>9} {'recall@5':>9}")
    for name, scores in rules.items():
        print(f"{name:<24} {recall_at(scores, 1):>9.3f} {recall_at(scores, 5):>9.3f}")


if __name__ == "__main__":
    main()
