"""Multi-hop benchmark: how often every hop of a chain is read, single-round routing vs Memory Interleave.

Builds the multi-hop set (``memsa.evaluation.multihop``) over at least ``--tokens`` memory tokens of real
text, remembers it with the default model, then asks every chain's question and checks which documents
each way read.

Run: nice -n 10 .venv/bin/python bench/bench_multihop.py --cache-dir ~/.cache/memsa-bench [--device cuda]

Encoding 100K tokens takes minutes on a small CPU, so the encoded bank is kept under ``--cache-dir`` (one
folder per seed) and reused: a rerun encodes only documents whose text changed, and an interrupted build
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from memsa.core.answering import choose_evidence
from memsa.core.encoding import encode_documents, tokenize_document
from memsa.core.engine import MemoryEngine
from memsa.core.errors import BankMismatch
from memsa.core.memory.records import NewDocument, SourceInfo
from memsa.core.router import RouterProjectors, router_file_name
from memsa.core.settings import EngineSettings
from memsa.evaluation.multihop import HaystackDocument, MultiHopSet, build_multihop_set, stdlib_haystack

CHARS_PER_TOKEN_GUESS = 3.6


def build_set(tokens: int, chains: int, seed: int) -> MultiHopSet:
    return build_multihop_set(stdlib_haystack(int(tokens * CHARS_PER_TOKEN_GUESS)), chains, seed)


def source_path(seed: int, name: str) -> str:
    return f"/multihop/seed-{seed}/{name}.txt"


def open_bank(
    cache_dir: Path, dataset: MultiHopSet, seed: int, device: str, tokens: int, router: Path | None = None
) -> MemoryEngine:
    """The engine over a bank holding ``dataset`` and at least ``tokens`` memory tokens.

    The bank of a seed is kept under ``cache_dir`` and brought up to date: documents whose text changed
    are re-encoded, documents no longer in the set removed. When the set's documents hold fewer tokens
    than asked for, real-text documents without facts (the haystack's continuation) are added until they do.
    ``router``: a router file to use instead of the one memsa ships (kept in the seed's folder, as a user's
    own router is), so that measurements compare the same router.
    """
    settings = EngineSettings(data_dir=cache_dir / f"multihop-seed-{seed}", device=device)
    if settings.router_dir.is_dir():  # a router pinned by an earlier run
        shutil.rmtree(settings.router_dir)
    if router is not None:
        settings.router_dir.mkdir(parents=True)
        pinned = settings.router_dir / router_file_name(RouterProjectors.load(router).spec.model_fingerprint)
        shutil.copyfile(router, pinned)
    try:
        engine = MemoryEngine.open(settings)
    except BankMismatch:  # another model or router since the bank was cached: re-encode it from its text
        engine = MemoryEngine.open(settings, adopt_identity=True)
        engine.reencode(lambda done, total: print(f"  re-encoded {done}/{total} documents", file=sys.stderr), 24)
    wanted = [(source_path(seed, doc.name), doc) for doc in dataset.documents]
    filler_documents = stdlib_haystack(int(tokens * CHARS_PER_TOKEN_GUESS * 1.5))[len(dataset.documents) :]
    filler = [(source_path(seed, f"filler-{doc.name}"), doc) for doc in filler_documents]
    known = {path for path, _ in wanted + filler}
    for source in engine.bank.sources():
        if source.path not in known:
            engine.bank.delete_source(source.path)
    store(engine, wanted)
    held = held_tokens(engine, [path for path, _ in wanted])
    for first in range(0, len(filler), 24):
        batch = filler[first : first + 24]
        if held < tokens:
            store(engine, batch)
            held += held_tokens(engine, [path for path, _ in batch])
        else:  # left over from a larger --tokens
            for path, _ in batch:
                engine.bank.delete_source(path)
    return engine


def held_tokens(engine: MemoryEngine, paths: list[str]) -> int:
    """Memory tokens the bank holds for these sources."""
    ids = [doc_id for path in paths for doc_id in engine.bank.document_ids(path)]
    return sum(record.n_tokens for record in engine.bank.documents(ids))


def store(engine: MemoryEngine, documents: list[tuple[str, HaystackDocument]], batch: int = 24) -> None:
    """Encode and remember the documents the bank lacks or holds another text of, one source each."""
    hashes = {path: hashlib.sha256(doc.text.encode()).hexdigest() for path, doc in documents}
    missing = []
    for path, doc in documents:
        stored = engine.bank.source(path)
        if stored is None or stored.content_hash != hashes[path]:
            missing.append((path, doc))
    started, encoded = time.perf_counter(), 0
    config = engine.settings.encoding
    for first in range(0, len(missing), batch):
        group = missing[first : first + batch]
        tokenized = [tokenize_document(engine.loaded.tokenizer, doc.text, config.max_document_tokens)
                     for _, doc in group]
        encodings = encode_documents(engine.decoder, engine.router, tokenized, config)
        for (path, doc), encoding in zip(group, encodings, strict=True):
            info = SourceInfo(path, hashes[path], 0, len(doc.text))
            engine.bank.put_source(info, [NewDocument(doc.text, 0, len(doc.text), doc.name, encoding)])
        encoded += sum(doc.n_tokens for doc in tokenized)
        rate = encoded / (time.perf_counter() - started)
        print(f"  encoded {first + len(group)}/{len(missing)} documents, {rate:.0f} tokens/s", file=sys.stderr)


@dataclass(frozen=True)
class Outcome:
    """What one way of reading did for one chain."""

    read: list[int]
    rounds: int


Row = tuple[bool, bool, Outcome, int]  # every hop read, first hop read, outcome, hops


def single_round(engine: MemoryEngine, question: str) -> Outcome:
    """Today's single-round routing: the documents ``choose_evidence`` shows the model."""
    routed = engine.retrieve(question)
    chosen = choose_evidence(routed, engine.router.spec.abstain_below, engine.settings.answer)
    return Outcome([doc.doc_id for doc in chosen], 1)


def top_n(engine: MemoryEngine, question: str, n: int) -> Outcome:
    """Single-round routing reading the best ``n`` documents (the same budget interleave spent)."""
    return Outcome([doc.doc_id for doc in engine.retrieve(question)[: max(n, 1)]], 1)


def interleave(engine: MemoryEngine, question: str, max_rounds: int, model_check: bool = False) -> Outcome:
    """The engine's rounds (``MemoryEngine.interleave``; no answer generated): every document read."""
    checking = dataclasses.replace(engine.settings.interleave, model_check=model_check)
    engine.settings = dataclasses.replace(engine.settings, interleave=checking)
    rounds = engine.interleave(question, rounds=max_rounds)
    while True:
        try:
            next(rounds)
        except StopIteration as stop:
            result = stop.value
            return Outcome([doc.doc_id for record in result.rounds for doc in record.documents], len(result.rounds))


def evaluate(
    engine: MemoryEngine, dataset: MultiHopSet, seed: int, max_rounds: int, model_check: bool
) -> dict[str, list[Row]]:
    """Per method, one row per chain."""
    # Routing is deterministic: the ways share each query's ranking instead of routing it again.
    engine.retrieve = functools.lru_cache(maxsize=None)(engine.retrieve)
    methods: dict[str, list[Row]] = {}
    for chain in dataset.chains:
        hops = [engine.bank.document_ids(source_path(seed, name))[0] for name in chain.documents]
        woven = interleave(engine, chain.question, max_rounds)
        outcomes = {
            "single round (choose_evidence)": single_round(engine, chain.question),
            "single round, interleave's rule (--rounds 1)": interleave(engine, chain.question, 1),
            "single round, top-N at interleave's budget": top_n(engine, chain.question, len(woven.read)),
            f"interleave (auto, cap {max_rounds})": woven,
        }
        if model_check:
            outcomes[f"interleave + model check (cap {max_rounds})"] = interleave(
                engine, chain.question, max_rounds, model_check=True
            )
        for name, outcome in outcomes.items():
            read = set(outcome.read)
            methods.setdefault(name, []).append((set(hops) <= read, hops[0] in read, outcome, len(hops)))
    return methods


def print_table(methods: dict[str, list[Row]]) -> None:
    header = f"{'method':<46} {'all hops':>9} {'2-hop':>7} {'3-hop':>7} {'hop 1':>7} {'docs/q':>7} {'rounds/q':>8}"
    print(header)
    print("-" * len(header))
    for name, rows in methods.items():
        def share(selected: list[Row]) -> str:
            return f"{100 * sum(row[0] for row in selected) / len(selected):.1f}%" if selected else "-"

        docs = sum(len(row[2].read) for row in rows) / len(rows)
        rounds = sum(row[2].rounds for row in rows) / len(rows)
        first = 100 * sum(row[1] for row in rows) / len(rows)
        print(f"{name:<46} {share(rows):>9} {share([r for r in rows if r[3] == 2]):>7} "
              f"{share([r for r in rows if r[3] == 3]):>7} {first:>6.1f}% {docs:>7.2f} {rounds:>8.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, required=True, help="where encoded banks are kept")
    parser.add_argument("--tokens", type=int, default=100_000, help="least memory tokens")
    parser.add_argument("--chains", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="interleave's round cap")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--router", type=Path, help="router file to measure (default: the shipped one)")
    parser.add_argument("--model-check", action="store_true",
                        help="also run interleave with the model's yes/no check after each round")
    parser.add_argument("--build-only", action="store_true", help="encode the bank and stop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    dataset = build_set(args.tokens, args.chains, args.seed)
    cache_dir = args.cache_dir.expanduser()
    with open_bank(cache_dir, dataset, args.seed, args.device, args.tokens, args.router) as engine:
        stats = engine.status()
        print(f"memory: {stats.documents} documents, {stats.tokens:,} tokens; {len(dataset.chains)} chains "
              f"({sum(chain.hops == 3 for chain in dataset.chains)} of 3 hops), seed {args.seed}, {args.device}; "
              f"router {engine.router.fingerprint()[:12]} ({engine.router.spec.query_reduction})")
        if stats.tokens < args.tokens:
            print(f"warning: fewer memory tokens than --tokens {args.tokens}", file=sys.stderr)
        if args.build_only:
            return 0
        started = time.perf_counter()
        methods = evaluate(engine, dataset, args.seed, args.rounds, args.model_check)
        print(f"(asked in {time.perf_counter() - started:.0f} s)\n")
        print_table(methods)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
