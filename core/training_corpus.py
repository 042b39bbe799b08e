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
from dataclasses import dataclass
from pathlib import Path

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TrainingPair:
    """A query sentence and the passage it came from.

    Attributes:
        query: one sentence of the passage, used as the routing query.
        passage: the passage (the sentence kept or cut out, see ``kept``).
        group: which source text the passage came from (passages of one group are near neighbours).
    """

    query: str
    passage: str
    group: int


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
               question_share: float = 0.5) -> list[TrainingPair]:
    """Inverse-cloze pairs: one sentence as the query; its passage, with the sentence cut out at random.

    Keeping the sentence in half of the passages teaches exact look-ups (a question about a planted fact);
    cutting it out teaches topical matching (the rest of the passage must still be found). A share of
    the queries are turned into pseudo-questions (see :func:`pseudo_question`).
    """
    rng = random.Random(seed)
    pairs: list[TrainingPair] = []
    for group, text in enumerate(texts):
        for passage in passages_of(text):
            candidates = sentences_of(passage)
            if not candidates:
                continue
            sentence = rng.choice(candidates)
            shown = passage if rng.random() < keep_sentence else passage.replace(sentence, " ").strip()
            query = pseudo_question(sentence, rng) if rng.random() < question_share else sentence
            pairs.append(TrainingPair(query=query, passage=shown, group=group))
    rng.shuffle(pairs)
    return pairs[:limit]


def save_pairs(pairs: list[TrainingPair], path: Path) -> None:
    """Write pairs as JSON lines, so training can run on another machine with the same data."""
    import json

    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps({"query": pair.query, "passage": pair.passage, "group": pair.group}) + "\n")


def load_pairs(path: Path) -> list[TrainingPair]:
    """Read pairs written by :func:`save_pairs`."""
    import json

    with path.open(encoding="utf-8") as handle:
        return [TrainingPair(**json.loads(line)) for line in handle if line.strip()]
