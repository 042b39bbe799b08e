"""Engine benchmark: prints encoding speed (vs llama.cpp prompt processing on the same GGUF), routing time
(without and with re-reading) at 100K and 1M memory tokens, time to the first answer token, and bytes per
memory token.

Run: .venv/bin/python bench/bench_engine.py [--device cpu|cuda] [--sizes 100000,1000000] [--threads 2]
     [--repeats 5] [--documents 48]

Memory beyond the encoded sample is filled with synthetic rows (per-head unit vectors, the shape and norm
of real router keys) because routing cost depends only on the number of rows; one real, planted document
is asked about so the answer path runs for real.

Every timing runs once untimed to warm up, then ``--repeats`` times; the table gives the median and the
least and greatest of those runs, so a busy machine shows as a wide range. Without ``--repeats`` each
measure keeps its own count (see :data:`DEFAULT_REPEATS`).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from memsa.core.encoding import encode_documents, tokenize_document
from memsa.core.engine import DocumentText, Finished, MemoryEngine
from memsa.core.generation import LlamaCppGenerator
from memsa.core.memory.records import EncodedDocument, NewDocument, SourceInfo
from memsa.core.settings import EngineSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.real_text import stdlib_documents  # noqa: E402

QUESTION = "What is the wifi password at the lake cabin?"
FACT = "The wifi password at the lake cabin is pinecone-harbor-42."
SYNTHETIC_DOC_TOKENS = 512
DEFAULT_REPEATS = {"encoding": 1, "llama.cpp": 1, "routing": 7, "first_token": 3}
"""Timed runs per measure when ``--repeats`` is not given."""


@dataclass(frozen=True)
class Spread:
    """The median, least and greatest of repeated measurements of one quantity."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Row:
    """One table line. Timings fill ``low``, ``high`` and ``runs``; ``detail`` is free text at the end."""

    measure: str
    value: str = ""
    low: str = ""
    high: str = ""
    runs: str = ""
    detail: str = ""


def timed_row(measure: str, spread: Spread, number_format: str, detail: str = "") -> Row:
    """A row for a repeated measurement: its median as the value, its range and run count beside it."""
    return Row(measure, format(spread.median, number_format), format(spread.low, number_format),
               format(spread.high, number_format), str(spread.runs), detail)


def timed_seconds(action: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` runs of ``action``, after one untimed warm-up run."""
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def encoding_speed(engine: MemoryEngine, texts: list[str], repeats: int) -> tuple[Spread, int]:
    """Stage-1 tokens per second over ``texts`` (tokenized beforehand), and the number of tokens."""
    tokenizer, config = engine.loaded.tokenizer, engine.settings.encoding
    docs = [tokenize_document(tokenizer, text, config.max_document_tokens) for text in texts]
    tokens = sum(doc.n_tokens for doc in docs)
    times = timed_seconds(lambda: encode_documents(engine.decoder, engine.router, docs, config), repeats)
    return Spread.of([tokens / seconds for seconds in times]), tokens


def llama_cpp_prompt_speed(engine: MemoryEngine, texts: list[str], repeats: int) -> Spread | None:
    """llama.cpp prompt-processing tokens per second for the same texts, each as its own prompt, on torch's
    thread count."""
    if engine.loaded.spec.kind != "gguf":
        return None
    from llama_cpp import Llama

    threads = torch.get_num_threads()
    llama = Llama(model_path=str(engine.loaded.spec.path), n_ctx=4096, n_batch=512, n_threads=threads,
                  n_threads_batch=threads, verbose=False)
    prompts = [llama.tokenize(text.encode(), add_bos=False) for text in texts]

    def read_prompts() -> None:
        for prompt in prompts:
            llama.reset()
            llama.eval(prompt)

    tokens = sum(map(len, prompts))
    return Spread.of([tokens / seconds for seconds in timed_seconds(read_prompts, repeats)])


def synthetic_encoding(engine: MemoryEngine, rng: np.random.Generator) -> EncodedDocument:
    """Rows shaped like a real 512-token document's, router keys unit-normalised per head."""
    spec, identity = engine.router.spec, engine.bank.identity
    n_router = SYNTHETIC_DOC_TOKENS // spec.router_chunk_tokens
    n_kv = SYNTHETIC_DOC_TOKENS // identity.chunk_tokens
    router_keys, pooled_keys, pooled_values = {}, {}, {}
    for layer in spec.layers:
        keys = torch.from_numpy(rng.standard_normal((n_router, spec.n_heads, spec.head_dim), dtype=np.float32))
        router_keys[layer] = torch.nn.functional.normalize(keys, dim=-1).flatten(1)
        pooled_keys[layer] = torch.from_numpy(rng.standard_normal((n_kv, identity.kv_dim), dtype=np.float32))
        pooled_values[layer] = torch.from_numpy(rng.standard_normal((n_kv, identity.kv_dim), dtype=np.float32))
    spans = np.stack([np.arange(n_router) * 40, np.arange(1, n_router + 1) * 40], axis=1)
    return EncodedDocument(SYNTHETIC_DOC_TOKENS, router_keys, pooled_keys, pooled_values, spans)


def fill_bank(engine: MemoryEngine, target_tokens: int, filler_text: str, rng: np.random.Generator) -> None:
    """Add synthetic documents until the bank holds ``target_tokens`` memory tokens."""
    batch = 50
    while engine.status().tokens < target_tokens:
        count = engine.status().documents
        documents = [
            NewDocument(text=filler_text, start=0, end=len(filler_text), title="filler",
                        encoding=synthetic_encoding(engine, rng))
            for _ in range(batch)
        ]
        engine.bank.put_source(SourceInfo(f"/synthetic/{count}.txt", str(count), 0, 0), documents)


def routing_ms(engine: MemoryEngine, repeats: int, reread: bool) -> Spread:
    """Wall milliseconds of stage 2 for one question: question encoding, scoring every row and fusing the
    exact-words finds; with ``reread``, also re-reading the first documents' passages (``core/rerank.py``)."""
    product = engine.settings
    engine.settings = dataclasses.replace(product, rerank=dataclasses.replace(product.rerank, enabled=reread))
    try:
        times = timed_seconds(lambda: engine.retrieve(QUESTION), repeats)
    finally:
        engine.settings = product
    return Spread.of([seconds * 1000 for seconds in times])


def first_token_ms(engine: MemoryEngine, repeats: int) -> tuple[Spread, str]:
    """Milliseconds from the question to the first streamed answer token, model loaded; and the answer.

    llama.cpp forgets the previous prompt before each question, so the whole prompt (instructions,
    passages, question) is read every time; a running app would reuse the shared instructions prefix.
    """
    results = []
    for _ in range(repeats + 1):  # the first question warms up
        generator = engine.generator()
        if isinstance(generator, LlamaCppGenerator):
            generator.forget_prompt_cache()
        finished = [event for event in engine.ask(QUESTION) if isinstance(event, Finished)][0]
        results.append(finished.answer)
    return Spread.of([answer.timings["first_token"] for answer in results[1:]]), results[-1].text


def answer_threads(engine: MemoryEngine) -> str:
    """How the engine's answer generator runs: llama.cpp with its thread count, or torch."""
    generator = engine.generator()
    if isinstance(generator, LlamaCppGenerator):
        return f"llama.cpp answers on {generator.llama.n_threads} threads"
    return f"{generator.name} answers"


def size_label(tokens: int) -> str:
    return f"{tokens / 1e6:.2f}M" if tokens >= 1e6 else f"{tokens / 1e3:.0f}K"


def measure(engine: MemoryEngine, texts: list[str], sizes: list[int], repeats: int | None,
            llama_cpp_reference: bool = True) -> list[Row]:
    """Every row of the table, measured on ``engine``, whose bank grows to each of ``sizes`` (ascending).

    ``texts[0]`` gets the planted fact and is remembered for real; ``texts[1]`` is the synthetic filler's text.
    """
    runs = {name: repeats or default for name, default in DEFAULT_REPEATS.items()}
    rng = np.random.default_rng(0)
    rows = [Row("machine", detail=f"{engine.settings.device}, torch {torch.__version__}, "
                                  f"{torch.get_num_threads()} threads, {answer_threads(engine)}"),
            Row("model", detail=f"{engine.loaded.spec.name}, router layers {list(engine.router.spec.layers)}")]
    speed, tokens = encoding_speed(engine, texts, runs["encoding"])
    rows.append(timed_row("encoding tokens/s (memsa stage 1)", speed, ",.0f", f"{tokens:,} tokens, {len(texts)} docs"))
    reference = llama_cpp_prompt_speed(engine, texts, runs["llama.cpp"]) if llama_cpp_reference else None
    if reference:
        rows.append(timed_row("llama.cpp prompt tokens/s (same GGUF)", reference, ",.0f"))
        rows.append(Row("encoding / llama.cpp prompt", f"{speed.median / reference.median:.2f}x"))
    planted = texts[0][: len(texts[0]) // 2] + "\n\n" + FACT + "\n\n" + texts[0][len(texts[0]) // 2 :]
    engine.remember(SourceInfo("/bench/planted.md", "planted", 0, len(planted)),
                    [DocumentText(planted, 0, len(planted), "planted")])
    for size in sorted(sizes):
        fill_bank(engine, size, texts[1], rng)
        stats = engine.status()
        label = size_label(stats.tokens)
        rows.append(timed_row(f"routing ms/question @ {label} tokens", routing_ms(engine, runs["routing"], False),
                              ".1f"))
        reread = routing_ms(engine, runs["routing"], True)
        rows.append(timed_row(f"routing + re-reading ms/question @ {label} tokens", reread, ".1f",
                              f"{engine.settings.rerank.candidates} passages re-read"))
        first, answer = first_token_ms(engine, runs["first_token"])
        rows.append(timed_row(f"first answer token ms @ {label} tokens", first, ".0f", f"answer: {answer[:48]!r}"))
        rows.append(Row(f"bytes per memory token @ {label}", f"{stats.bytes_on_disk / stats.tokens:,.0f}"))
    identity = engine.bank.identity
    router_bytes = 2 * identity.router_key_dim / identity.router_chunk_tokens
    kv_bytes = 2 * 2 * identity.kv_dim / identity.chunk_tokens
    rows.append(Row("tensor bytes per token (router + K/V)",
                    f"{len(identity.router_layers) * (router_bytes + kv_bytes):.0f}",
                    detail=f"= {len(identity.router_layers)} layers x ({router_bytes:.0f} + {kv_bytes:.0f})"))
    return rows


def format_table(rows: list[Row]) -> str:
    """The rows as aligned text: measure, value (the median for timings), min, max, runs, detail."""
    name_width = max(len(row.measure) for row in rows)
    width = max(len(text) for row in rows for text in ("median", row.value, row.low, row.high))
    lines = ["timings: median of the timed runs after one warm-up; min and max of the same runs",
             f"{'measure':<{name_width}}  {'value':>{width}}  {'min':>{width}}  {'max':>{width}}  runs  detail",
             f"{'-' * name_width}  {'-' * width}  {'-' * width}  {'-' * width}  ----  {'-' * 40}"]
    for row in rows:
        lines.append(f"{row.measure:<{name_width}}  {row.value:>{width}}  {row.low:>{width}}  {row.high:>{width}}  "
                     f"{row.runs:>4}  {row.detail}".rstrip())
    return "\n".join(lines)


def at_least_one(text: str) -> int:
    """argparse type for counts: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def memory_sizes(text: str) -> list[int]:
    """argparse type for ``--sizes``: comma-separated token counts, each at least 1."""
    return [at_least_one(part) for part in text.split(",")]


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=memory_sizes, default="100000,1000000", help="memory sizes in tokens")
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=at_least_one, default=None,
                        help="CPU threads: the engine's (encoding, routing, llama.cpp answers, EngineSettings.threads) "
                             "and the llama.cpp reference's; default: torch's own, llama.cpp every core")
    parser.add_argument("--repeats", type=at_least_one, default=None,
                        help="timed runs per measure after one warm-up (default: "
                             + ", ".join(f"{name} {count}" for name, count in DEFAULT_REPEATS.items()) + ")")
    parser.add_argument("--documents", type=at_least_one, default=48,
                        help="real documents encoded for the speed rows (fewer run faster on a busy CPU)")
    args = parser.parse_args(argv)
    if args.documents < 2:
        parser.error("--documents: at least 2 (one carries the planted fact, one fills the bank)")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    torch.manual_seed(0)
    texts = [text for _, text in stdlib_documents(args.documents)]
    with tempfile.TemporaryDirectory() as folder:
        settings = EngineSettings(data_dir=Path(folder), model=args.model, device=args.device, threads=args.threads)
        with MemoryEngine.open(settings) as engine:
            rows = measure(engine, texts, args.sizes, args.repeats, llama_cpp_reference=args.device == "cpu")
    print(format_table(rows))


if __name__ == "__main__":
    main()
