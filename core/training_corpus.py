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


_QUESTION_WORDS = ("what", "when", "where", "who", "which", "how", "why")


def pseudo_question(sentence: str, rng: random.Random) -> str:
    """A question-shaped query from a sentence: a wh-word, part of the sentence's words, a question mark.

    People ask about a fact with some of its words missing (the answer) and a question word added; a
    router trained only on whole sentences scores such questions lower than it should.
    """
    words = sentence.rstrip(".!?").split()
    keep = max(3, int(len(words) * rng.uniform(0.4, 0.7)))
    start = rng.randrange(0, max(1, len(words) - keep + 1))
    return f"{rng.choice(_QUESTION_WORDS).capitalize()} {' '.join(words[start:start + keep])}?"


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
    import json

    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(asdict(pair)) + "\n")


def load_pairs(path: Path) -> list[TrainingPair]:
    """Read pairs written by :func:`save_pairs`."""
    import json

    with path.open(encoding="utf-8") as handle:
        return [TrainingPair(**json.loads(line)) for line in handle if line.strip()]
