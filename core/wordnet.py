"""Read-only access to a WordNet 3.0 database: the words that can stand in for a word.

Used only to make paraphrase-style router training queries (see ``training_paraphrase``); nothing at run time
reads it. The database is Debian's ``wordnet-base`` (``/usr/share/wordnet``: ``index.*``, ``data.*`` and the
``*.exc`` exception lists, in the format of the WordNet manual page wndb(5WN)); ``memsa train-router
--wordnet DIR`` reads a copy elsewhere.

For a word this gives the other lemmas of its most frequent senses (synonyms: "flat" → "apartment") and of
those senses' direct hypernyms (broader words: "brother" → "male sibling"). Inflected forms are reduced to their
base form with the exception lists and WordNet's detachment rules ("morphy"), so "brothers" and "rented" are
found too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from memsa.core.errors import MemsaError

DEFAULT_ROOT = Path("/usr/share/wordnet")
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")

# WordNet's suffix detachment rules per part of speech: (inflected ending, base ending).
_DETACHMENT: dict[str, tuple[tuple[str, str], ...]] = {
    "noun": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y")),
    "verb": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
             ("ing", "")),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "adv": (),
}
_HYPERNYM = "@"


class WordNetMissing(MemsaError):
    """The WordNet database is not where it was looked for."""


@dataclass(frozen=True)
class Alternatives:
    """Words that can replace one word.

    Attributes:
        synonyms: other lemmas of the word's most frequent senses, most frequent sense first.
        broader: lemmas of those senses' direct hypernyms (more general words).
    """

    synonyms: tuple[str, ...]
    broader: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.synonyms or self.broader)


class WordNet:
    """Lemma index, synsets and exception lists of one WordNet database, loaded into memory (~40 MB)."""

    def __init__(self, root: Path = DEFAULT_ROOT) -> None:
        if not (root / "index.noun").is_file():
            raise WordNetMissing(
                f"No WordNet database at {root} (index.noun is missing). Install it with "
                "`apt-get install wordnet-base`, or point --wordnet at a WordNet 3.0 dict folder.")
        self._senses: dict[str, dict[str, list[int]]] = {pos: dict(_index(root / f"index.{pos}"))
                                                         for pos in PARTS_OF_SPEECH}
        self._synsets: dict[str, dict[int, tuple[tuple[str, ...], tuple[int, ...]]]] = {
            pos: dict(_synsets(root / f"data.{pos}")) for pos in PARTS_OF_SPEECH}
        self._exceptions: dict[str, dict[str, str]] = {pos: dict(_exceptions(root / f"{pos}.exc"))
                                                       for pos in PARTS_OF_SPEECH}

    def base_forms(self, word: str, pos: str) -> list[str]:
        """Lemmas in the index that ``word`` (lower case) is an inflection of, or is, for ``pos``."""
        senses = self._senses[pos]
        candidates = [word]
        if word in self._exceptions[pos]:
            candidates.append(self._exceptions[pos][word])
        candidates += [word[: -len(end)] + base for end, base in _DETACHMENT[pos] if word.endswith(end)]
        return list(dict.fromkeys(c for c in candidates if c in senses))

    def parts_of_speech(self, word: str) -> list[str]:
        """Parts of speech that know ``word`` (any case), the one with the most senses first (a rough
        stand-in for the most common use of the word)."""
        lowered = word.lower()
        known = [(len(self._senses[pos][bases[0]]), -order, pos)
                 for order, pos in enumerate(PARTS_OF_SPEECH) if (bases := self.base_forms(lowered, pos))]
        return [pos for _, _, pos in sorted(known, reverse=True)]

    def alternatives(self, word: str, pos: str | None = None, senses: int = 1) -> Alternatives:
        """Synonyms and broader words for ``word`` as the part of speech ``pos``.

        Args:
            word: one word, any case; multi-word lemmas come back with spaces ("domestic dog"), and proper
                names ("Max Born" for "born") are left out.
            pos: "noun", "verb", "adj" or "adv"; None takes the first of :meth:`parts_of_speech`.
            senses: how many of the most frequent senses to draw from.
        """
        lowered = word.lower()
        pos = pos or next(iter(self.parts_of_speech(lowered)), None)
        bases = self.base_forms(lowered, pos) if pos else []
        if not pos or not bases:
            return Alternatives((), ())
        synonyms: list[str] = []
        broader: list[str] = []
        for offset in self._senses[pos][bases[0]][:senses]:
            lemmas, hypernyms = self._synsets[pos][offset]
            synonyms += lemmas
            for parent in hypernyms:
                broader += self._synsets[pos][parent][0]
        excluded = {lowered, *bases}
        return Alternatives(_distinct(synonyms, excluded), _distinct(broader, excluded))


def _distinct(lemmas: list[str], excluded: set[str]) -> tuple[str, ...]:
    words = (lemma.replace("_", " ") for lemma in lemmas if not lemma[0].isupper())
    return tuple(dict.fromkeys(word for word in words if word.lower() not in excluded))


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.startswith("  "):  # the licence header lines start with two spaces
                yield line


def _index(path: Path) -> Iterator[tuple[str, list[int]]]:
    """(lemma, synset offsets in order of sense frequency) per line of an ``index.*`` file."""
    for line in _lines(path):
        fields = line.split()
        pointer_count = int(fields[3])
        sense_count = int(fields[2])
        offsets = fields[6 + pointer_count:6 + pointer_count + sense_count]
        yield fields[0], [int(offset) for offset in offsets]


def _synsets(path: Path) -> Iterator[tuple[int, tuple[tuple[str, ...], tuple[int, ...]]]]:
    """(offset, (lemmas, hypernym offsets)) per line of a ``data.*`` file."""
    for line in _lines(path):
        fields = line.split(" | ", 1)[0].split()
        word_count = int(fields[3], 16)
        lemmas = tuple(_strip_marker(fields[4 + 2 * i]) for i in range(word_count))
        at = 4 + 2 * word_count
        pointer_count = int(fields[at])
        pointers = (fields[at + 1 + 4 * i:at + 5 + 4 * i] for i in range(pointer_count))
        hypernyms = tuple(int(target) for symbol, target, _, _ in pointers if symbol == _HYPERNYM)
        yield int(fields[0]), (lemmas, hypernyms)


def _strip_marker(lemma: str) -> str:
    """Adjective lemmas may carry a syntactic marker such as ``(a)`` or ``(ip)``."""
    return lemma.split("(", 1)[0]


def _exceptions(path: Path) -> Iterator[tuple[str, str]]:
    if not path.is_file():
        return
    for line in _lines(path):
        fields = line.split()
        if len(fields) >= 2:
            yield fields[0], fields[1]
