"""Planted facts ("needles") and the questions that probe them, in families of increasing difficulty.

Families:
- ``exact``: a made-up key and its value; the question repeats the key word for word.
- ``lookalike``: groups of keys that differ by one character, each planted in its own document; the
  question names one of them, the others are distractors.
- ``reworded``: a personal fact whose question shares almost no words with it but a first name, and
  first names are drawn from a small pool, so several documents carry the same name.
- ``updated``: an older and a newer value of one fact in two documents; the newer one is gold.
- ``multihop``: chains of 2-3 facts in different documents (built by ``memsa.evaluation.multihop``);
  every document of the chain is gold.
- ``absent``: a question in the shape of the others about a key or person that was never planted; the
  right behaviour is to abstain.

Templates come in two disjoint splits: ``"eval"`` builds the measured sets; ``"dev"`` may be used to
tune or train (for example planted-fact training pairs). Never train on ``"eval"`` templates.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from memsa.core.errors import InvalidInput

from .needle_templates import (
    EXACT,
    LOOKALIKE,
    NAMES,
    REWORDED,
    UPDATED,
    VALUES,
    ExactTemplate,
    RewordedTemplate,
    UpdatedTemplate,
)

FAMILIES = ("exact", "lookalike", "reworded", "updated", "multihop", "absent")
TEMPLATE_SPLITS = ("eval", "dev")


@dataclass(frozen=True)
class Needle:
    """A sentence to plant in a host document."""

    needle_id: str
    text: str


@dataclass(frozen=True)
class Probe:
    """A question about planted needles.

    Attributes:
        gold: needle ids whose host documents hold the answer (empty: absent fact).
        stale: needle ids holding an outdated value.
    """

    qid: str
    family: str
    question: str
    answers: tuple[str, ...]
    gold: tuple[str, ...]
    stale: tuple[str, ...] = ()


@dataclass(frozen=True)
class NeedleSet:
    """Needles, the probes about them, and groups of needles that must sit in different documents."""

    needles: list[Needle]
    probes: list[Probe]
    apart: list[tuple[str, ...]]


@dataclass(frozen=True)
class NeedleCounts:
    """How many probes of each family (lookalike: groups of ``lookalike_group`` keys, one probe per key)."""

    exact: int = 24
    lookalike_groups: int = 4
    lookalike_group: int = 6
    reworded: int = 24
    updated: int = 16
    absent: int = 16
    multihop: int = 8

    def __post_init__(self) -> None:
        if min(self.exact, self.lookalike_groups, self.reworded, self.updated, self.absent, self.multihop) < 0:
            raise InvalidInput("needle counts cannot be negative")
        if self.lookalike_group < 2:
            raise InvalidInput("a look-alike group needs at least two keys")


@dataclass(frozen=True)
class TemplateSet:
    """The templates needles are drawn from; pass your own to generate sets no one has seen."""

    exact: tuple[ExactTemplate, ...] = EXACT
    lookalike: tuple[ExactTemplate, ...] = LOOKALIKE
    reworded: tuple[RewordedTemplate, ...] = REWORDED
    updated: tuple[UpdatedTemplate, ...] = UPDATED


def make_needles(counts: NeedleCounts, seed: int, split: str = "eval",
                 templates: TemplateSet = TemplateSet()) -> NeedleSet:
    """Draw a needle set. The same (counts, seed, split, templates) always gives the same set.

    Raises:
        InvalidInput: unknown template split, or a family asked for has no template in the split.
    """
    if split not in TEMPLATE_SPLITS:
        raise InvalidInput(f"unknown template split {split!r}: use one of {', '.join(TEMPLATE_SPLITS)}")
    rng = random.Random(f"needles-{seed}-{split}")
    builder = _Builder(rng)
    for index in range(counts.exact):
        builder.exact(f"exact-{index}", rng.choice(_of(templates.exact, split)))
    for group in range(counts.lookalike_groups):
        builder.lookalike(f"lookalike-{group}", rng.choice(_of(templates.lookalike, split)), counts.lookalike_group)
    for index in range(counts.reworded):
        builder.reworded(f"reworded-{index}", _of(templates.reworded, split))
    for index in range(counts.updated):
        builder.updated(f"updated-{index}", _of(templates.updated, split))
    for index in range(counts.absent):
        builder.absent(f"absent-{index}", _of(templates.exact, split), _of(templates.reworded, split))
    return NeedleSet(builder.needles, builder.probes, builder.apart)


_Template = TypeVar("_Template", ExactTemplate, RewordedTemplate, UpdatedTemplate)
_Person = TypeVar("_Person", RewordedTemplate, UpdatedTemplate)


def _of(templates: tuple[_Template, ...], split: str) -> list[_Template]:
    chosen = [template for template in templates if template.split == split]
    if not chosen:
        raise InvalidInput(f"no needle template of this family is in the {split!r} split")
    return chosen


class _Builder:
    """Accumulates needles and probes, keeping keys and (template, name) pairs unique."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.needles: list[Needle] = []
        self.probes: list[Probe] = []
        self.apart: list[tuple[str, ...]] = []
        self.used_keys: set[str] = set()
        self.used_people: set[tuple[str, str]] = set()

    def value(self, kind: str) -> str:
        values = VALUES[kind]
        return values(self.rng) if callable(values) else self.rng.choice(values)

    def fill(self, template: str, slots: dict[str, str]) -> str:
        for name in _slot_names(template):
            if name not in slots:
                slots[name] = self.value(name)
        return template.format(**slots)

    def new_key(self, make: Callable[[random.Random], str]) -> str:
        while (key := make(self.rng)) in self.used_keys:
            continue
        self.used_keys.add(key)
        return key

    def exact(self, qid: str, template: ExactTemplate) -> None:
        slots = {"key": self.new_key(proper_noun)}
        fact = self.fill(template.fact, slots)
        self.needles.append(Needle(qid, fact))
        self.probes.append(Probe(qid, "exact", template.question.format(**slots), (slots[template.answer],), (qid,)))

    def lookalike(self, group: str, template: ExactTemplate, size: int) -> None:
        keys = lookalike_keys(self.rng, size, self.used_keys)
        ids = []
        for index, key in enumerate(keys):
            qid = f"{group}-{index}"
            slots = {"key": key}
            fact = self.fill(template.fact, slots)
            self.needles.append(Needle(qid, fact))
            question = template.question.format(**slots)
            self.probes.append(Probe(qid, "lookalike", question, (slots[template.answer],), (qid,)))
            ids.append(qid)
        self.apart.append(tuple(ids))

    def person(self, template: RewordedTemplate | UpdatedTemplate) -> str:
        """A person not yet planted with this template (see :meth:`open_template`)."""
        free = [name for name in NAMES if (template.fact, name) not in self.used_people]
        name = self.rng.choice(free)
        self.used_people.add((template.fact, name))
        return name

    def open_template(self, templates: list[_Person], family: str) -> _Person:
        """A template not yet planted for every person, so no (template, person) pair is planted twice: two
        such needles would give one question two answers.

        Raises:
            InvalidInput: every pair is taken (more needles of the family asked for than the split holds).
        """
        open_templates = [t for t in templates if any((t.fact, name) not in self.used_people for name in NAMES)]
        if not open_templates:
            raise InvalidInput(f"too many {family} needles for the {len(templates)} templates of this split: "
                               f"each template is planted once per person ({len(NAMES)} people)")
        return self.rng.choice(open_templates)

    def reworded(self, qid: str, templates: list[RewordedTemplate]) -> None:
        template = self.open_template(templates, "reworded")
        slots = {"name": self.person(template)}
        fact = self.fill(template.fact, slots)
        self.needles.append(Needle(qid, fact))
        question = template.question.format(**slots)
        self.probes.append(Probe(qid, "reworded", question, (slots[template.answer],), (qid,)))

    def updated(self, qid: str, templates: list[UpdatedTemplate]) -> None:
        template = self.open_template(templates, "updated")
        slots = {"name": self.person(template)}
        stale = self.fill(template.fact, slots)
        old_value = slots[template.answer]
        slots[f"old_{template.answer}"] = old_value
        while slots[template.answer] == old_value:
            slots[template.answer] = self.value(template.answer)
        current = self.fill(template.update, slots)
        self.needles += [Needle(f"{qid}-old", stale), Needle(f"{qid}-new", current)]
        question = template.question.format(**slots)
        self.probes.append(Probe(qid, "updated", question, (slots[template.answer],), (f"{qid}-new",),
                                 (f"{qid}-old",)))
        self.apart.append((f"{qid}-old", f"{qid}-new"))

    def absent(self, qid: str, exact: list[ExactTemplate], reworded: list[RewordedTemplate]) -> None:
        """Half look like exact-key questions with an unused key, half like reworded ones about a pair
        (template, person) that was never planted."""
        open_templates = [t for t in reworded if any((t.fact, name) not in self.used_people for name in NAMES)]
        if self.rng.random() < 0.5 or not open_templates:
            template = self.rng.choice(exact)
            question = template.question.format(key=self.new_key(proper_noun))
        else:
            chosen = self.rng.choice(open_templates)
            question = chosen.question.format(name=self.person(chosen))
        self.probes.append(Probe(qid, "absent", question, (), ()))


def _slot_names(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


_SYLLABLES = ("var", "nol", "tre", "mik", "sa", "bor", "del", "quin", "ost", "ra", "vel", "hun", "dor", "pax",
              "lim", "zel", "ka", "tor", "wen", "ish", "gal", "mer", "fio", "brun")


def proper_noun(rng: random.Random) -> str:
    """A made-up capitalised name of 2-3 syllables ("Velhundor"): a key no background text contains."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()


def lookalike_keys(rng: random.Random, count: int, used: set[str]) -> list[str]:
    """``count`` codes like "K4-381" that differ from the first by one character each."""
    while True:
        base = f"{rng.choice(string.ascii_uppercase)}{rng.randint(1, 9)}-{rng.randint(100, 999)}"
        keys = [base]
        positions = [0, 1, 3, 4, 5]
        while len(keys) < count:
            chars = list(base)
            position = rng.choice(positions)
            pool = string.ascii_uppercase if position == 0 else string.digits[1:]
            chars[position] = rng.choice(pool.replace(base[position], ""))
            key = "".join(chars)
            if key not in keys:
                keys.append(key)
        if not used & set(keys):
            used.update(keys)
            return keys
