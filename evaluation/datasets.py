"""Public evaluation sets read from a folder the user names: SQuAD v1.1 dev and LoCoMo conversations.

Neither ships with memsa; ``memsa eval --squad DIR --locomo DIR`` points at them.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Any

from memsa.core.errors import InvalidInput

from .benchmark import Benchmark, Document, Query

LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
LOCOMO_UNITS = ("turn", "session")


def _load_json(folder: Path, patterns: tuple[str, ...]) -> Any:
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            try:
                return json.loads(raw)
            except json.JSONDecodeError as error:
                raise InvalidInput(f"{path} is not valid JSON: {error}") from error
    raise InvalidInput(f"no {' or '.join(patterns)} file in {folder}")


def load_squad(folder: Path, questions: int | None, seed: int) -> Benchmark:
    """Every paragraph is a document; each question's gold is its own paragraph.

    Args:
        questions: keep this many questions, drawn with ``seed`` (None: all 10,570).

    Raises:
        InvalidInput: the folder holds no readable SQuAD v1.1 file.
    """
    data = _load_json(folder, ("*.json.gz", "*.json"))
    if not isinstance(data, dict) or "data" not in data:
        raise InvalidInput(f"the JSON in {folder} is not SQuAD v1.1 (no top-level 'data')")
    documents: list[Document] = []
    queries: list[Query] = []
    for article in data["data"]:
        for number, paragraph in enumerate(article["paragraphs"]):
            doc_id = len(documents)
            documents.append(Document(doc_id, f"{article['title']} ¶{number + 1}", paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(answer["text"] for answer in qa["answers"]))
                queries.append(Query(qa["id"], "squad", qa["question"], answers, (doc_id,)))
    total = len(queries)
    if questions is not None and questions < total:
        queries = random.Random(seed).sample(queries, questions)
    recipe = {"source": str(folder), "questions": len(queries), "of": total, "seed": seed,
              "memory": "one document per paragraph", "canary": data.get("canary", "")}
    return Benchmark("squad-dev", documents, queries, recipe=recipe)


def _turn_text(turn: dict[str, Any], when: str) -> str:
    text = f"{turn['speaker']} ({when}): {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shares a photo: {turn['blip_caption']}]"
    return text


def load_locomo(folder: Path, unit: str, questions: int | None, seed: int) -> Benchmark:
    """Chat histories as memory: one document per turn (or per session); evidence turn ids are the gold.

    Both conversations share one memory. Adversarial questions (category 5, answer not in the
    conversation) have no gold and count as questions to abstain on.

    Raises:
        InvalidInput: unknown unit or no readable LoCoMo file.
    """
    if unit not in LOCOMO_UNITS:
        raise InvalidInput(f"unknown LoCoMo memory unit {unit!r}: use one of {', '.join(LOCOMO_UNITS)}")
    samples = _load_json(folder, ("*.json",))
    readable = isinstance(samples, list) and bool(samples)
    if not readable or not all(isinstance(sample, dict) and "conversation" in sample for sample in samples):
        raise InvalidInput(f"the JSON in {folder} is not LoCoMo (a list of samples with 'conversation')")
    documents: list[Document] = []
    where: dict[tuple[str, str], int] = {}
    queries: list[Query] = []
    for sample in samples:
        sample_id, conversation = sample["sample_id"], sample["conversation"]
        sessions = sorted((key for key in conversation if re.fullmatch(r"session_\d+", key)),
                          key=lambda key: int(key.split("_")[1]))
        for session in sessions:
            when = conversation.get(f"{session}_date_time", "")
            turns = conversation[session]
            if unit == "session":
                doc_id = len(documents)
                text = "\n".join(_turn_text(turn, when) for turn in turns)
                documents.append(Document(doc_id, f"{sample_id} {session}", text))
            for turn in turns:
                if unit == "turn":
                    doc_id = len(documents)
                    documents.append(Document(doc_id, f"{sample_id} {turn['dia_id']}", _turn_text(turn, when)))
                where[(sample_id, turn["dia_id"])] = doc_id
        for number, qa in enumerate(sample["qa"]):
            category = int(qa["category"])
            gold = () if category == 5 else tuple(sorted({
                where[(sample_id, evidence)] for evidence in qa.get("evidence", []) if (sample_id, evidence) in where
            }))
            if category != 5 and not gold:
                continue  # evidence ids that name no turn (a handful of typos in the source)
            answers = () if category == 5 else (str(qa["answer"]),)
            family = "absent" if category == 5 else f"locomo-{LOCOMO_CATEGORIES[category]}"
            queries.append(Query(f"{sample_id}-{number}", family, qa["question"], answers, gold))
    total = len(queries)
    if questions is not None and questions < total:
        queries = random.Random(seed).sample(queries, questions)
    recipe = {"source": str(folder), "unit": unit, "questions": len(queries), "of": total, "seed": seed,
              "memory": f"one document per {unit}, all conversations in one memory"}
    return Benchmark(f"locomo-{unit}s", documents, queries, recipe=recipe)
