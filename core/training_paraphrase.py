"""Paraphrase-style router training queries: a passage's sentence asked about in other words.

People rarely ask about a note in its own words ("Where did Priya rent an apartment?" for "Priya signed the
lease for a flat"). Self-supervised queries cut from the passage share nearly all their words with it, so a
router trained only on them leans on word overlap. A reworded query keeps what a person would keep (names,
numbers, codes), replaces most other content words by a WordNet synonym or a broader word, drops some, and is
often phrased as a question. The passage still holds the original sentence, so the router has to match
meaning rather than spelling.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from memsa.core.lexical import STOP_WORDS
from memsa.core.training_corpus import QUESTION_WORDS, TrainingSet, sentences_of
from memsa.core.wordnet import WordNet

_WORD = re.compile(r"[\w'-]+")
_QUESTION_OPENERS = tuple(word.capitalize() for word in QUESTION_WORDS)


@dataclass(frozen=True)
class RewordingConfig:
    """How far a reworded query departs from its sentence.

    Attributes:
        replace: chance that a content word with WordNet alternatives is replaced.
        broader: chance that a replacement is a broader word (hypernym) rather than a synonym.
        drop: chance that a content word left as it was is dropped.
        question: chance that the query becomes a question (a wh-word in front, a question mark at the end).
        min_changed: fewest content words that must change (replaced or dropped), else no query is made.
    """

    replace: float = 0.8
    broader: float = 0.35
    drop: float = 0.3
    question: float = 0.5
    min_changed: int = 2


def is_content_word(token: str, position: int) -> bool:
    """A lower-case word of three letters or more that is not a function word (names and numbers are kept:
    people ask with them). The sentence's first word may be capitalised; ``reword`` keeps it unless WordNet
    knows it."""
    if not token.isalpha() or len(token) < 3:
        return False
    if token[0].isupper() and position > 0:
        return False
    return token.lower() not in STOP_WORDS


def reword(sentence: str, wordnet: WordNet, rng: random.Random,
           config: RewordingConfig = RewordingConfig()) -> str | None:
    """``sentence`` in other words, or None when too few of its words could change.

    Everything between words (spaces, punctuation, code) is kept as written; a dropped word takes the space
    after it along. For example "Priya's younger brother earns his living as a locksmith." may become
    "Who Priya's younger male sibling gain his life as a locksmith?".
    """
    pieces: list[str] = []
    changed = 0
    kept_at = 0
    body = sentence.strip().rstrip(".!?")
    words = list(_WORD.finditer(body))
    for position, match in enumerate(words):
        token = match.group()
        pieces.append(body[kept_at:match.start()])
        kept_at = match.end()
        if not is_content_word(token, position):
            pieces.append(token)
            continue
        pos = _part_of_speech(token, words[position - 1].group() if position else "", wordnet)
        alternatives = wordnet.alternatives(token, pos)
        pool = alternatives.broader if alternatives.broader and rng.random() < config.broader else \
            alternatives.synonyms or alternatives.broader
        if pool and rng.random() < config.replace:
            pieces.append(rng.choice(pool))
            changed += 1
        elif token[0].isupper() and not alternatives:
            pieces.append(token)  # a name opening the sentence
        elif rng.random() < config.drop:
            kept_at = _after_space(body, kept_at)
            changed += 1
        else:
            pieces.append(token)
    if changed < config.min_changed:
        return None
    text = "".join(pieces + [body[kept_at:]]).strip()
    if rng.random() < config.question and words and words[0].group() not in _QUESTION_OPENERS:
        return f"{rng.choice(_QUESTION_OPENERS)} {text}?"
    return text + "."


_NOUN_AFTER = frozenset(["a", "an", "the", "his", "her", "their", "my", "our", "your", "its", "this", "that",
                         "these", "those"])
_VERB_AFTER = frozenset(["to", "can", "could", "will", "would", "shall", "should", "may", "might", "must", "not"])


def _part_of_speech(token: str, previous: str, wordnet: WordNet) -> str | None:
    """A guess from the word before (a determiner or possessive: noun; "to" or a modal: verb) and the
    ending ("-ly": adverb), else the part of speech with the most senses; None if WordNet lacks the word."""
    known = wordnet.parts_of_speech(token)
    previous = previous.lower()
    guess = ("noun" if previous in _NOUN_AFTER or previous.endswith("'s") else
             "verb" if previous in _VERB_AFTER else "adv" if token.endswith("ly") else None)
    return guess if guess in known else next(iter(known), None)


def _after_space(text: str, at: int) -> int:
    return at + 1 if text[at:at + 1] == " " else at


def with_reworded_queries(training: TrainingSet, share: float, seed: int, wordnet: WordNet,
                          config: RewordingConfig = RewordingConfig()) -> TrainingSet:
    """``training`` plus one reworded query (kind "reworded") for a ``share`` of its passages.

    The sentence reworded is one still present in the passage, so the positive holds the fact. Drawn from
    ``seed`` alone: the same set, share, seed and WordNet give the same queries.
    """
    rng = random.Random(seed)
    for index, passage in enumerate(training.passages):
        if rng.random() >= share:
            continue
        sentences = sentences_of(passage)
        if not sentences:
            continue
        query = reword(rng.choice(sentences), wordnet, rng, config)
        if query is not None:
            training.queries.append(query)
            training.positives.append(index)
            training.negatives.append([])
            training.kinds.append("reworded")
    return training
