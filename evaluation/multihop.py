"""A multi-hop test set: chains of facts about invented people, spread over documents of real text.

A chain links a person to an answer through 2 or 3 facts, each planted in a different haystack document:
``Velda Orrin's manager is Tomas Quell.`` … ``Tomas Quell's office is in Brask.`` → "In which city does
Velda Orrin's manager work?". The question names only the first person, so the second fact can be found
only through the entity the first one names. Names and places are invented from syllables and checked
against the haystack, so neither a model nor a router can know them beforehand. Everything is derived
from the seed: the same seed and haystack give the same set.
"""

from __future__ import annotations

import ast
import random
import re
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Given names people really carry, so a question names someone the way a user would; each is used once
# per set, with an invented family name, so no person (and no fact about them) exists outside the set.
_GIVEN_NAME_TEXT = """Aaron Abigail Adele Adrian Agnes Aida Alana Albert Alma Alvaro Amara Ambrose Anika Anselm
Antonia Arlo
Astrid Aurelio Beatrix Benedikt Bettina Bianca Bjorn Blanca Bruno Calla Camille Carmen Casimir Cecily Celeste Cyril
Dagny Dalia Damaris Dorian Dorothea Edgar Edith Elif Elmer Elodie Emeric Enzo Esme Eugenie Evander Fabian Faustine
Felix Fenna Filippa Flora Frida Gaspard Gemma Gideon Gisela Greta Gunnar Gwendolyn Hamish Hanne Hedda Hilde Hugo Idris
Ilse Imogen Ines Ingrid Isolde Ivo Jasper Jolene Jorund Josefa Judith Kasimir Katja Kerstin Klara Konrad Lavinia
Leander Leonie Liesel Linnea Lorcan Lucian Ludmila Lysander Magnus Malin Marek Margit Matilda Maxim Melina Mirela
Morten Nadia Nell Nikolai Nora Odette Olive Osric Ottilie Pascal Paloma Perpetua Philippa Quentin Rafaela Ragnar Renata
Rosalind Rufus Sabine Saoirse Selma Severin Sigrid Silvan Solveig Stellan Sunniva Tamsin Tancredi Teodor Thea Tobias
Ulla Ursula Valentin Vera Viggo Wanda Wendelin Wilma Xavier Yara Yvonne Zelda Zeno Zofia Lorenz Mireille Oswin
Petronella Rasmus Theodora Ugo Vesna Waldemar Annika Barnaby Clemens Delphine Ermengarde Florentin Griselda Horatio
Ignatius Jovana"""
GIVEN_NAMES = tuple(_GIVEN_NAME_TEXT.split())
_ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "k", "kr", "l", "m", "n", "p", "qu", "r", "s", "t", "th", "v", "z"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ei"]
_CODAS = ["", "", "n", "r", "l", "s", "th", "nd", "rk", "x"]


@dataclass(frozen=True)
class Bridge:
    """A relation from one person to another: its fact phrasings and how a question names it."""

    noun: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class Attribute:
    """The last hop: a relation from a person to an answer, its fact phrasings and its questions."""

    kind: str
    facts: tuple[str, ...]
    questions: tuple[str, ...]


BRIDGES = (
    Bridge("manager", ("{x}'s manager is {y}.", "At work, {x} reports to {y}, who is {x}'s manager.")),
    Bridge("sister", ("{x}'s sister is {y}.", "{y} is the older sister of {x}.")),
    Bridge("landlord", ("{x} rents a flat from {y}, so {y} is {x}'s landlord.", "{x}'s landlord is {y}.")),
    Bridge("mentor", ("{y} has been {x}'s mentor for years.", "{x}'s mentor is {y}.")),
    Bridge("neighbour", ("{x}'s next-door neighbour is {y}.", "{y} lives next door and is {x}'s neighbour.")),
    Bridge("dentist", ("{x}'s dentist is {y}.", "{x} goes to {y}, the dentist, twice a year.")),
)

ATTRIBUTES = (
    Attribute("city", ("{y}'s office is in {c}.", "{y} works from an office in {c}."),
              ("In which city does {p} work?", "Where is the office of {p}?")),
    Attribute("city", ("{y} was born in {c}.", "{y} grew up in {c}, where {y} was born."),
              ("Where was {p} born?", "In which town was {p} born?")),
    Attribute("boat", ("{y} owns a sailing boat called the {c}.", "{y}'s boat is named the {c}."),
              ("What is the name of {p}'s boat?", "What is {p}'s boat called?")),
    Attribute("pet", ("{y} has a parrot named {c}.", "{y}'s parrot is called {c}."),
              ("What is the name of {p}'s parrot?", "What is {p}'s parrot called?")),
)


@dataclass(frozen=True)
class Chain:
    """One multi-hop question.

    Attributes:
        question: names the first person only.
        answer: the last fact's object.
        facts: the chain's facts, in hop order.
        documents: name of the haystack document holding each fact, in hop order (all different).
    """

    question: str
    answer: str
    facts: tuple[str, ...]
    documents: tuple[str, ...]

    @property
    def hops(self) -> int:
        return len(self.facts)


@dataclass(frozen=True)
class HaystackDocument:
    """A document of the set: a name unique within the set and its text (with at most one planted fact)."""

    name: str
    text: str


@dataclass(frozen=True)
class MultiHopSet:
    """Documents to remember and the chains to ask about them."""

    documents: tuple[HaystackDocument, ...]
    chains: tuple[Chain, ...]


def build_multihop_set(
    haystack: Sequence[HaystackDocument], n_chains: int, seed: int, three_hop_share: float = 0.5
) -> MultiHopSet:
    """Plant ``n_chains`` chains in ``haystack``, one fact per document, in the middle of its text.

    Args:
        haystack: real-text documents with unique names (see :func:`stdlib_haystack`).
        n_chains: chains to build; each takes 2 or 3 documents.
        seed: makes the set reproducible.
        three_hop_share: share of chains with two bridges (3 facts) instead of one.

    Raises:
        ValueError: the haystack has too few documents for the chains' facts.
    """
    rng = random.Random(seed)
    lowered = "\n".join(document.text for document in haystack).lower()
    names = _InventedNames(rng, lowered)
    chains: list[tuple[str, str, list[str]]] = []
    for index in range(n_chains):
        n_bridges = 2 if rng.random() < three_hop_share else 1
        chains.append(_make_chain(rng, names, n_bridges, index))
    needed = sum(len(facts) for _, _, facts in chains)
    if needed > len(haystack):
        raise ValueError(f"{len(haystack)} haystack documents cannot hold {needed} facts; give more text")
    slots = rng.sample(range(len(haystack)), needed)
    texts = [document.text for document in haystack]
    built: list[Chain] = []
    cursor = 0
    for question, answer, facts in chains:
        holders = slots[cursor : cursor + len(facts)]
        cursor += len(facts)
        for slot, fact in zip(holders, facts, strict=True):
            texts[slot] = _plant(texts[slot], fact)
        built.append(Chain(question, answer, tuple(facts), tuple(haystack[slot].name for slot in holders)))
    documents = tuple(HaystackDocument(doc.name, text) for doc, text in zip(haystack, texts, strict=True))
    return MultiHopSet(documents=documents, chains=tuple(built))


def _make_chain(rng: random.Random, names: _InventedNames, n_bridges: int, index: int) -> tuple[str, str, list[str]]:
    """(question, answer, facts in hop order) for one chain of ``n_bridges`` bridges and an attribute."""
    bridges = rng.sample(BRIDGES, n_bridges)
    attribute = ATTRIBUTES[index % len(ATTRIBUTES)]
    people = [names.person() for _ in range(n_bridges + 1)]
    answer = names.place() if attribute.kind == "city" else names.word()
    facts = [
        rng.choice(bridge.facts).format(x=people[hop], y=people[hop + 1]) for hop, bridge in enumerate(bridges)
    ]
    facts.append(rng.choice(attribute.facts).format(y=people[-1], c=answer))
    phrase = f"{people[0]}'s {bridges[0].noun}"
    for bridge in bridges[1:]:
        phrase = f"the {bridge.noun} of {phrase}"
    question = rng.choice(attribute.questions).format(p=phrase)
    return question[0].upper() + question[1:], answer, facts


def _plant(text: str, fact: str) -> str:
    """Insert ``fact`` as its own paragraph at the paragraph break nearest the middle of ``text``."""
    middle = text.find("\n\n", len(text) // 2)
    if middle < 0:
        return f"{text}\n\n{fact}"
    return f"{text[:middle]}\n\n{fact}{text[middle:]}"


class _InventedNames:
    """Unique invented words and people whose names never occur in the haystack (checked case-insensitively)."""

    def __init__(self, rng: random.Random, haystack_lowered: str) -> None:
        self.rng = rng
        self.haystack = haystack_lowered
        self.used: set[str] = set()
        words = set(re.findall(r"\w+", haystack_lowered))
        self.given = [name for name in GIVEN_NAMES if name.lower() not in words]
        rng.shuffle(self.given)

    def word(self, syllables: int | None = None) -> str:
        while True:
            count = syllables or self.rng.choice((2, 2, 3))
            word = "".join(
                self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + self.rng.choice(_CODAS) for _ in range(count)
            ).capitalize()
            if len(word) >= 5 and word.lower() not in self.used and word.lower() not in self.haystack:
                self.used.add(word.lower())
                return word

    def person(self) -> str:
        """A given name not used before in the set (an invented one once they run out) and an invented family name."""
        given = self.given.pop() if self.given else self.word(2)
        self.used.add(given.lower())
        return f"{given} {self.word()}"

    def place(self) -> str:
        return self.word() + self.rng.choice(("", "", "mere", "ford", "holm", "by"))


def stdlib_haystack(target_chars: int, document_chars: int = 1800) -> list[HaystackDocument]:
    """Real prose: function and class docstrings of the standard library, cut into documents.

    Docstrings of one module are joined as paragraphs until a document holds about ``document_chars``
    characters; modules are read in a stable order until ``target_chars`` characters are gathered.

    Raises:
        ValueError: the standard library holds less text than asked for.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    documents: list[HaystackDocument] = []
    total = 0
    for path in sorted(stdlib.rglob("*.py")):
        if {"test", "tests", "idle_test", "site-packages"} & set(path.relative_to(stdlib).parts):
            continue
        module = ".".join(path.relative_to(stdlib).with_suffix("").parts)
        for part, text in enumerate(_module_documents(path, document_chars)):
            documents.append(HaystackDocument(f"{module}-{part}", text))
            total += len(text)
            if total >= target_chars:
                return documents
    raise ValueError(f"the standard library holds only {total} characters of docstrings")


def _module_documents(path: Path, document_chars: int) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
        return []
    paragraphs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            docstring = ast.get_docstring(node)
            if docstring and len(docstring) > 120:
                paragraphs.append(f"{node.name}: {' '.join(docstring.split())}"[: document_chars])
    documents, current = [], ""
    for paragraph in paragraphs:
        current = f"{current}\n\n{paragraph}" if current else paragraph
        if len(current) >= document_chars * 2 // 3:
            documents.append(current)
            current = ""
    if len(current) >= document_chars // 3:
        documents.append(current)
    return documents
