"""Answer quality: the model answers from memsa's evidence, from the gold document, and from no memory.

The memsa condition is the product's own path (routing fused with the exact-words index and re-read, the
abstention bar, evidence choice and excerpts from ``memsa.core.answering``); "gold document" bounds what the reader
can do with perfect retrieval; "no memory" is the control that shows what the model knows without any.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from memsa.core.abstention import reading_bar
from memsa.core.answering import NOT_FOUND, AnswerConfig, Citation, build_citations, build_messages, choose_evidence
from memsa.core.encoding import chunk_char_spans, tokenize_document
from memsa.core.generation import LlamaCppGenerator, TextGenerator, TorchGenerator, llama_cpp_available
from memsa.core.lexical import fused_ranking
from memsa.core.memory.records import DocumentRecord
from memsa.core.models import LoadedModel
from memsa.core.sentence_encoder import MiniLMSentences

from .benchmark import Document, Query
from .lexical_system import exact_words_index
from .metrics import contains_answer, exact_match, f1
from .rereading import BenchmarkRereader
from .router_system import question_states, router_key_matrices
from .runner import BenchmarkResult, EvalSettings, NamedRouter

CONDITIONS = ("no memory", "memsa", "gold document")
GOLD_CHARS = 1500


@dataclass(frozen=True)
class AnswerSettings:
    """Which questions are answered and how.

    Attributes:
        questions: how many (drawn with ``seed`` from the benchmark's questions).
        device: where the torch generator runs (llama.cpp answers for GGUF models on a CPU).
        max_new_tokens: longest answer.
    """

    questions: int
    seed: int = 0
    device: str = "cpu"
    max_new_tokens: int = 64


def make_generator(loaded: LoadedModel, device: str) -> TextGenerator:
    """llama.cpp for a GGUF model on a CPU (as the engine answers), torch otherwise."""
    tokenizer: Any = loaded.tokenizer
    if loaded.spec.kind == "gguf" and device == "cpu" and llama_cpp_available():
        eos = tokenizer.eos_token
        return LlamaCppGenerator(loaded.spec.path, stop=[eos] if eos else [])
    return TorchGenerator(loaded.model, tokenizer, [tokenizer.eos_token_id])


def evaluate_answers(result: BenchmarkResult, loaded: LoadedModel, named: NamedRouter, eval_settings: EvalSettings,
                     settings: AnswerSettings) -> dict[str, dict[str, dict[str, float]]]:
    """Answer a sample of the benchmark's questions under each condition and score the answers.

    Returns:
        condition -> group ("all" answerable questions, "absent") -> metric -> value.
    """
    if result.inputs is None:
        raise ValueError("answers need the benchmark's cached router inputs")
    benchmark = result.benchmark
    rng = random.Random(settings.seed)
    chosen = sorted(rng.sample(range(len(benchmark.queries)), min(settings.questions, len(benchmark.queries))))
    router = named.router.to(eval_settings.device)
    matrices = router_key_matrices(router, result.inputs, eval_settings.device)
    all_states = question_states(result.inputs, router.spec.layers, eval_settings.device)
    generator = make_generator(loaded, settings.device)
    config = AnswerConfig(max_new_tokens=settings.max_new_tokens)
    answers: dict[str, list[tuple[Query, str, bool]]] = {condition: [] for condition in CONDITIONS}
    bar = router.spec.abstain_below
    with exact_words_index(benchmark.documents) as matches:
        routed = {index: fused_ranking(router, all_states[index], matrices.__getitem__, matches,
                                       benchmark.queries[index].question, eval_settings.top_k)
                  for index in chosen}
        if eval_settings.rerank is not None:  # as the engine retrieves
            reread = BenchmarkRereader(benchmark.documents, loaded.tokenizer, router.spec.router_chunk_tokens,
                                       MiniLMSentences(eval_settings.device), eval_settings.rerank)
            routed = {index: reread(benchmark.queries[index].question, ranking) for index, ranking in routed.items()}
        bars = {index: reading_bar(benchmark.queries[index].question, routed[index], matches, bar)
                for index in chosen}
    for index in chosen:
        query = benchmark.queries[index]
        evidence = choose_evidence(routed[index], bars[index], config)  # as the engine reads
        records = {doc.doc_id: _record(benchmark.documents[doc.doc_id], loaded.tokenizer,
                                       router.spec.router_chunk_tokens) for doc in evidence}
        prompts: dict[str, list[Citation] | None] = {
            "no memory": None,
            "memsa": build_citations(evidence, records, config),
            "gold document": [_whole(benchmark.documents[doc]) for doc in query.gold] if query.gold else [],
        }
        for condition, citations in prompts.items():
            if citations is not None and not citations:
                answers[condition].append((query, NOT_FOUND, True))
                continue
            text = _generate(generator, loaded.tokenizer, query.question, citations, config.max_new_tokens)
            answers[condition].append((query, text, text.startswith(NOT_FOUND)))
    return {condition: _score(items) for condition, items in answers.items()}


def _generate(generator: TextGenerator, tokenizer: object, question: str, citations: list[Citation] | None,
              max_new_tokens: int) -> str:
    messages = [{"role": "user", "content": question}] if citations is None else build_messages(question, citations)
    prompt = tokenizer.apply_chat_template(  # type: ignore[attr-defined]
        messages, tokenize=False, add_generation_prompt=True
    )
    return "".join(generator.stream(prompt, max_new_tokens)).strip()


def _record(document: Document, tokenizer: object, router_chunk_tokens: int) -> DocumentRecord:
    """The bank record the product would hold for ``document`` (what excerpts are cut from)."""
    tokenized = tokenize_document(tokenizer, document.text, 1 << 20)
    return DocumentRecord(
        doc_id=document.doc_id, source_id=0, path=document.title, start=0, end=len(document.text),
        title=document.title, text=document.text, n_tokens=tokenized.n_tokens, router_rows=None, kv_rows=None,
        router_chunk_spans=chunk_char_spans(tokenized.char_spans, router_chunk_tokens),
    )


def _whole(document: Document) -> Citation:
    text = document.text[:GOLD_CHARS]
    return Citation(doc_id=document.doc_id, path=document.title, start=0, end=len(text), score=1.0, snippet=text)


def _score(items: list[tuple[Query, str, bool]]) -> dict[str, dict[str, float]]:
    answerable = [(query, text, abstained) for query, text, abstained in items if not query.absent]
    absent = [abstained for query, _, abstained in items if query.absent]
    scores = {
        "all": {
            "questions": float(len(answerable)),
            "exact_match": _mean([exact_match(text, query.answers) for query, text, _ in answerable]),
            "f1": _mean([f1(text, query.answers) for query, text, _ in answerable]),
            "contains": _mean([contains_answer(text, query.answers) for query, text, _ in answerable]),
            "abstained": _mean([float(abstained) for _, _, abstained in answerable]),
        }
    }
    if absent:
        scores["absent"] = {"questions": float(len(absent)), "abstained": _mean([float(a) for a in absent])}
    return scores


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0
