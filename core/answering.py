"""Stage 3 for models that cannot read pooled KV: answer from the routed documents' original text.

The routed documents' most relevant passages are placed in the prompt, each labelled with its id, and
the model is asked to answer from them and cite the ids. A small reader is easily distracted, so only
documents whose score is close to the best one are shown, best first, within a character budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import InvalidInput
from .memory.records import DocumentRecord
from .routing import RoutedDocument

NOT_FOUND = "I don't find this in your memory."

SYSTEM_PROMPT = (
    "Answer from the numbered memory passages only, in one or two sentences, citing the passage "
    f"number like [3]. If they do not contain the answer, reply exactly: {NOT_FOUND}"
)

_SENTENCE_START = re.compile(r"(?<=[.!?\n])\s+")
_CITED_ID = re.compile(r"\[(\d+)\]")
_CONTENT_WORD = re.compile(r"[^\W_]{3,}|\d+")


@dataclass(frozen=True)
class AnswerConfig:
    """Knobs of answer assembly.

    Attributes:
        prompt_documents: most documents shown to the model.
        score_margin: a document is shown only if its score is within this of the best score.
        excerpt_chars: characters of context shown per document, centred on its best chunk.
        max_new_tokens: longest answer.
    """

    prompt_documents: int = 2
    score_margin: float = 0.05
    excerpt_chars: int = 420
    max_new_tokens: int = 160

    def __post_init__(self) -> None:
        if self.prompt_documents < 1 or self.excerpt_chars < 50 or self.max_new_tokens < 1:
            raise InvalidInput("prompt_documents, excerpt_chars and max_new_tokens must be positive")


@dataclass(frozen=True)
class Citation:
    """Where a piece of evidence came from.

    Attributes:
        doc_id: the memory document.
        path: the source file.
        start, end: character span of the excerpt in the source's extracted text.
        score: the routing score.
        snippet: the excerpt itself (the text the model was shown).
        anchor: where in the source the excerpt sits, for the user (a page, a chat message); may be empty.
    """

    doc_id: int
    path: str
    start: int
    end: int
    score: float
    snippet: str
    anchor: str = ""


def choose_evidence(
    routed: Sequence[RoutedDocument], abstain_below: float, config: AnswerConfig
) -> list[RoutedDocument]:
    """The documents worth showing: standing out from the bank by the router's abstention bar (relative
    score), and within ``score_margin`` of the best document's score."""
    if not routed or routed[0].relative_score < abstain_below:
        return []
    return [
        doc for doc in routed
        if doc.relative_score >= abstain_below and doc.score >= routed[0].score - config.score_margin
    ][: config.prompt_documents]


def excerpt_span(text: str, spans: np.ndarray, best_chunk: int, budget: int) -> tuple[int, int]:
    """A span of ``text`` of about ``budget`` characters around its best router chunk.

    The span grows evenly around the chunk, then snaps outward to sentence starts so the model reads whole
    sentences.

    Args:
        spans: ``[C, 2]`` character span of each router chunk (``DocumentRecord.router_chunk_spans``).

    Returns:
        Offsets into ``text``.
    """
    if len(text) <= budget or spans.size == 0:
        return 0, len(text)
    chunk = min(max(best_chunk, 0), spans.shape[0] - 1)
    chunk_start, chunk_end = int(spans[chunk, 0]), int(spans[chunk, 1])
    slack = max(0, budget - (chunk_end - chunk_start)) // 2
    start = max(0, chunk_start - slack)
    end = min(len(text), max(chunk_end, start + budget))
    start = max(0, min(start, end - budget))
    if start > 0:
        boundaries = [m.end() for m in _SENTENCE_START.finditer(text, start, chunk_start + 1)]
        start = boundaries[0] if boundaries else start
    if end < len(text):
        boundaries = [m.start() for m in _SENTENCE_START.finditer(text, max(chunk_end, end - budget // 3), end)]
        end = boundaries[-1] if boundaries else end
    return start, end


def build_citations(
    evidence: Sequence[RoutedDocument], documents: dict[int, DocumentRecord], config: AnswerConfig
) -> list[Citation]:
    """One citation per evidence document, spans mapped back into the source text."""
    citations = []
    for routed in evidence:
        document = documents[routed.doc_id]
        start, end = excerpt_span(document.text, document.router_chunk_spans, routed.best_chunk,
                                  config.excerpt_chars)
        citations.append(
            Citation(
                doc_id=routed.doc_id,
                path=document.path,
                start=document.start + start,
                end=document.start + end,
                score=routed.score,
                snippet=document.text[start:end].strip(),
                anchor=anchor_of(document.anchors, document.start + start, document.start + end),
            )
        )
    return citations


def anchor_of(anchors: Sequence[tuple[int, int, str]], start: int, end: int) -> str:
    """The anchor of the section holding most of the excerpt [start, end) (source-text offsets), or ""."""
    best, best_overlap = "", 0
    for anchor_start, anchor_end, anchor in anchors:
        overlap = min(end, anchor_end) - max(start, anchor_start)
        if overlap > best_overlap:
            best, best_overlap = anchor, overlap
    return best


def build_messages(question: str, citations: Sequence[Citation]) -> list[dict[str, str]]:
    """Chat messages: the instructions, then the labelled passages and the question."""
    passages = "\n\n".join(f"[{citation.doc_id}] {citation.snippet}" for citation in citations)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Memory passages:\n\n{passages}\n\nQuestion: {question}"},
    ]


def order_by_support(answer: str, citations: Sequence[Citation]) -> list[Citation]:
    """Put the citations the answer rests on first.

    Routing orders evidence by score; once the model has answered, the passage it drew on is the one a
    reader wants first. Explicitly cited ids come first in the order the answer names them; the rest
    follow by how many of the answer's content words (and numbers) their passage contains, then score.
    """
    mentioned = [int(match) for match in _CITED_ID.findall(answer)]
    words = {word.lower() for word in _CONTENT_WORD.findall(_CITED_ID.sub(" ", answer))}

    def support(citation: Citation) -> float:
        passage = {word.lower() for word in _CONTENT_WORD.findall(citation.snippet)}
        return len(words & passage) / len(words) if words else 0.0

    def key(citation: Citation) -> tuple[int, float, float]:
        rank = mentioned.index(citation.doc_id) if citation.doc_id in mentioned else len(mentioned)
        return rank, -support(citation), -citation.score

    return sorted(citations, key=key)
