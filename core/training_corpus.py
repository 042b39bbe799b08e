"""Text for self-supervised router training, gathered from what any Debian + Python machine carries.

Sources (recorded in the router's recipe so the shipped projectors can be rebuilt):
- Python's own reference prose (``pydoc_data.topics``),
- README / NEWS / *.txt / *.md files under /usr/share/doc (plain or gzip),
- module docstrings of the standard library.
No evaluation set is ever read here.
"""

from __future__ import annotations

import ast
import gzip
import json
import random
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TrainingPair:
    """A query and the passage the router must find for it.

    Attributes:
        query: a sentence (or pseudo-question made from one) of the passage.
        passage: the passage to find.
        group: which source text the passage came from (passages of one group are near neighbours).
        hard_negative: a passage that must rank below ``passage``, or "" for none (see ``make_pairs``).
    """

    query: str
    passage: str
    group: int
    hard_negative: str = ""


def corpus_texts(doc_root: Path = Path("/usr/share/doc"), max_doc_files: int = 1500) -> Iterator[str]:
    """Yield raw texts from the machine's documentation, in a stable order."""
    import pydoc_data.topics

    for _, text in sorted(pydoc_data.topics.topics.items()):
        yield text
    patterns = ("README*", "NEWS*", "*.txt", "*.md", "*.txt.gz", "*.md.gz")
    files = sorted({path for pattern in patterns for path in doc_root.rglob(pattern) if path.is_file()})
    for path in files[:max_doc_files]:
        content = _read_text(path)
        if content:
            yield content
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")):
        try:
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        if docstring:
            yield docstring


def _read_text(path: Path) -> str | None:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None


def passages_of(text: str, min_words: int = 60, max_words: int = 260) -> list[str]:
    """Cut a text into passages of whole paragraphs, ``min_words``..``max_words`` words each."""
    passages: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        words = len(paragraph.split())
        if not words:
            continue
        if count and count + words > max_words:
            if count >= min_words:
                passages.append("\n\n".join(current))
            current, count = [], 0
        if words > max_words:
            continue
        current.append(paragraph)
        count += words
    if count >= min_words:
        passages.append("\n\n".join(current))
    return passages


def sentences_of(passage: str, min_words: int = 6, max_words: int = 40) -> list[str]:
    """Sentences of a passage that make plausible queries (mostly letters, 6..40 words)."""
    found = []
    for sentence in _SENTENCE_END.split(passage):
        words = _WORD.findall(sentence)
        if min_words <= len(words) <= max_words and sum(w.isalpha() for w in words) >= 0.7 * len(words):
            found.append(sentence.strip())
    return found


QUESTION_WORDS = ("what", "when", "where", "who", "which", "how", "why")


def pseudo_question(sentence: str, rng: random.Random) -> str:
    """A question-shaped query from a sentence: a wh-word, part of the sentence's words, a question mark.

    People ask about a fact with some of its words missing (the answer) and a question word added; a
    router trained only on whole sentences scores such questions lower than it should.
    """
    words = sentence.rstrip(".!?").split()
    keep = max(3, int(len(words) * rng.uniform(0.4, 0.7)))
    start = rng.randrange(0, max(1, len(words) - keep + 1))
    return f"{rng.choice(QUESTION_WORDS).capitalize()} {' '.join(words[start:start + keep])}?"


def make_pairs(texts: Iterator[str], limit: int, seed: int, keep_sentence: float = 0.5,
               question_share: float = 0.5, planted_share: float = 0.0) -> list[TrainingPair]:
    """Self-supervised (query, passage) pairs from plain texts.

    - Inverse cloze: one sentence of a passage is the query; the passage keeps the sentence with
      probability ``keep_sentence`` (exact look-ups) or loses it (topical matching).
    - Planted: with probability ``planted_share`` the sentence is instead moved into an unrelated
      passage, which becomes the positive, and its own passage without it becomes the hard negative. This
      is how personal facts sit in an archive: a line about the wifi password inside a trip diary, while
      other notes share the topic's words but not the fact.
    - A ``question_share`` of queries become pseudo-questions (see :func:`pseudo_question`).
    """
    rng = random.Random(seed)
    items = [
        (passage, sentences, group)
        for group, text in enumerate(texts)
        for passage in passages_of(text)
        if (sentences := sentences_of(passage))
    ]
    pairs: list[TrainingPair] = []
    for passage, sentences, group in items:
        sentence = rng.choice(sentences)
        query = pseudo_question(sentence, rng) if rng.random() < question_share else sentence
        without = passage.replace(sentence, " ").strip()
        host, _, host_group = rng.choice(items)
        if rng.random() < planted_share and host_group != group:
            pairs.append(TrainingPair(query, plant(sentence, host, rng), host_group, hard_negative=without))
        else:
            shown = passage if rng.random() < keep_sentence else without
            pairs.append(TrainingPair(query=query, passage=shown, group=group))
    rng.shuffle(pairs)
    return pairs[:limit]


def plant(sentence: str, passage: str, rng: random.Random) -> str:
    """``passage`` with ``sentence`` inserted as its own paragraph at a random paragraph boundary."""
    paragraphs = passage.split("\n\n")
    paragraphs.insert(rng.randint(0, len(paragraphs)), sentence)
    return "\n\n".join(paragraphs)


def save_pairs(pairs: list[TrainingPair], path: Path) -> None:
    """Write pairs as JSON lines, so training can run on another machine with the same data."""
    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(asdict(pair)) + "\n")


def load_pairs(path: Path) -> list[TrainingPair]:
    """Read pairs written by :func:`save_pairs`."""
    with path.open(encoding="utf-8") as handle:
        return [TrainingPair(**json.loads(line)) for line in handle if line.strip()]


@dataclass
class TrainingSet:
    """Queries and a shared pool of passages: each query's passage to find and passages to rank below it.

    A shared pool (rather than one passage per pair) lets several queries point at one passage and lets
    mined hard negatives be other pool passages, so every text is read by the backbone once.

    Attributes:
        passages: the pool.
        groups: per passage, the source text it came from (passages of one group are near neighbours).
        queries: training queries.
        positives: per query, the index of its passage in the pool.
        negatives: per query, pool indices of hard negatives (planted-fact look-alikes, mined ones).
        kinds: per query, how it was made: "sentence" (its sentence stays in the passage), "topical" (the
            sentence was removed), "question" (a pseudo-question), "planted" (the sentence sits in an
            unrelated passage).
    """

    passages: list[str]
    groups: list[int]
    queries: list[str]
    positives: list[int]
    negatives: list[list[int]]
    kinds: list[str]

    def __len__(self) -> int:
        return len(self.queries)

    def split_by_group(self, held_share: float, seed: int) -> tuple[list[int], list[int]]:
        """Query indices for training and for held-out measurement, split by source text.

        Holding out whole source texts keeps a held-out passage's neighbours out of training, so held-out
        recall measures generalisation to new documents rather than to new sentences of seen ones.
        """
        groups = sorted(set(self.groups))
        random.Random(seed).shuffle(groups)
        held_groups = set(groups[: max(1, round(len(groups) * held_share))])
        held = [index for index, passage in enumerate(self.positives) if self.groups[passage] in held_groups]
        held_set = set(held)
        return [index for index in range(len(self)) if index not in held_set], held

    def head(self, n_passages: int) -> TrainingSet:
        """The queries whose passage lies in the first ``n_passages`` of the pool (negatives cut to match)."""
        rows = [index for index, positive in enumerate(self.positives) if positive < n_passages]
        return TrainingSet(self.passages[:n_passages], self.groups[:n_passages],
                           [self.queries[i] for i in rows], [self.positives[i] for i in rows],
                           [[p for p in self.negatives[i] if p < n_passages] for i in rows],
                           [self.kinds[i] for i in rows])

    def save(self, path: Path) -> None:
        """Write the set as gzip-compressed JSON (so training can run on another machine)."""
        path.write_bytes(gzip.compress(json.dumps(asdict(self)).encode("utf-8"), mtime=0))

    @classmethod
    def load(cls, path: Path) -> TrainingSet:
        """Read a set written by :meth:`save`."""
        return cls(**json.loads(gzip.decompress(path.read_bytes()).decode("utf-8")))


def make_training_set(texts: Iterator[str], seed: int, planted_share: float = 0.1, question_share: float = 0.5,
                      max_passages: int | None = None, queries_per_passage: int = 2) -> TrainingSet:
    """Self-supervised queries over a pool of passages from plain texts.

    Per passage: with even odds the passage is shown whole or without one of its sentences, which then
    becomes a "topical" query; a second sentence still in the passage becomes a "sentence" query. A
    ``question_share`` of both become pseudo-questions (see :func:`pseudo_question`). With probability
    ``planted_share`` a sentence is planted into an unrelated passage instead: that copy is the positive
    and the host passage as it was is the hard negative (see :func:`plant`). Beyond two queries per passage
    (``queries_per_passage``), further sentences still in it become more "sentence" queries (or questions).
    """
    rng = random.Random(seed)
    items = [
        (passage, sentences, group)
        for group, text in enumerate(texts)
        for passage in passages_of(text)
        if len(sentences := sentences_of(passage)) >= 2
    ]
    rng.shuffle(items)
    items = items[:max_passages]
    pool = TrainingSet([], [], [], [], [], [])
    shown_index = {}
    for passage, sentences, group in items:
        removed, kept = rng.sample(sentences, 2)
        shown = passage if rng.random() < 0.5 else passage.replace(removed, " ").strip()
        shown_index[passage] = _add_passage(pool, shown, group)
        for sentence, kind in ((removed, "sentence" if shown == passage else "topical"), (kept, "sentence")):
            question = rng.random() < question_share
            query = pseudo_question(sentence, rng) if question else sentence
            _add_query(pool, query, shown_index[passage], [], "question" if question else kind)
    for _, sentences, group in items:
        host, _, host_group = rng.choice(items)
        if rng.random() >= planted_share or host_group == group:
            continue
        sentence = rng.choice(sentences)
        host_shown = pool.passages[shown_index[host]]
        planted = _add_passage(pool, plant(sentence, host_shown, rng), host_group)
        _add_query(pool, sentence, planted, [shown_index[host]], "planted")
    # Drawn last so that sets with the default two queries per passage stay the same for a seed.
    for passage, sentences, _ in items:
        shown = pool.passages[shown_index[passage]]
        present = [sentence for sentence in sentences if sentence in shown]
        for sentence in rng.sample(present, min(len(present), queries_per_passage - 2)):
            question = rng.random() < question_share
            query = pseudo_question(sentence, rng) if question else sentence
            _add_query(pool, query, shown_index[passage], [], "question" if question else "sentence")
    return pool


def _add_passage(pool: TrainingSet, text: str, group: int) -> int:
    pool.passages.append(text)
    pool.groups.append(group)
    return len(pool.passages) - 1


def _add_query(pool: TrainingSet, query: str, positive: int, negatives: list[int], kind: str) -> None:
    pool.queries.append(query)
    pool.positives.append(positive)
    pool.negatives.append(negatives)
    pool.kinds.append(kind)
