"""When memory holds no answer: the rule that makes the engine say "not found" on the fused ranking.

Why. The router's calibrated bar (``RouterSpec.abstain_below``) was set on router-only scores, where it
kept 0.95 of answerable training queries but turned away almost none of the unanswerable ones; and the
exact-words bonus (``lexical.fuse``) lifts a question's best relative score by up to ``weight * R``, so on
the fused ranking the bar alone abstained on none of the absent facts at 64K and 256K memory tokens.

What tells an absent fact apart in a personal archive is mostly its names and codes: a question about
the "Velhundor guesthouse" or parcel "K4-381" names a word that the memory either holds or does not, and
the exact-words index knows which for the cost of a lookup per name. So the rule abstains when either:

1. unknown names: at least ``unknown_share`` (half) of the question's *key words* are in no memory
   document. A key word holds a digit or a capital letter (the capital starting the question's first
   word does not count; stop words never count): ``Velhundor``, ``K4-381``, ``iPhone``, ``2019``. Each
   is looked up in the FTS5 index as one phrase whose last word may go on (``K4-381`` as ``"k4 381"*``),
   and the index stems English word forms (``MVPs`` finds ``MVP``), so a code is known only whole but an
   inflected name is not taken for an unknown one; a misspelt name beside correctly spelt ones does not abstain;
2. weak lead: the fused ranking's best relative score is under ``lead_factor`` (0.9) times the
   router's bar (1 was the engine's rule before).

Chosen with ``python -m memsa.evaluation.abstention_tuning`` (see ``AbstentionConfig``) on sets apart
from the reported ones: six haystacks with the "dev" needle templates (16K and 64K tokens, seeds 0-2:
672 questions, 96 of them absent facts) and the SQuAD-dev questions of articles 1-24 (546 of a seed-0
sample of 1,000; all answerable). Among lead factors 0-2 with and without the name test, the rule that
abstains on most absent facts while abstaining on at most 1% of answerable questions in both:

=============================  =========  ======  =====================  ==================
rule (dev haystacks / SQuAD)   precision  recall  answerable abstained   SQuAD abstained
=============================  =========  ======  =====================  ==================
bar alone (lead 1, before)     0.615      0.167   0.017                  0.000
names alone (lead 0)           1.000      0.458   0.000                  0.007
names, lead 0.9 (chosen)       0.946      0.552   0.005                  0.007
names, lead 1.1                0.790      0.667   0.030                  0.009
=============================  =========  ======  =====================  ==================

Requiring every key word to be unknown (share 1) halves recall (0.281 at lead 0.9); a single unknown one
(share 0.01) scored exactly as half did, and the cautious share won the tie.

Reported on the "eval" templates with ``memsa eval --sizes 16K,64K,256K --threads 1`` (2-core CPU, seed
0, 16 absent facts a size), abstention precision / recall / share of answerable questions abstained on,
at 16K, 64K and 256K tokens: before 0.300 / 0.188 / 0.073, - / 0 / 0, - / 0 / 0 (no abstention at all);
with this rule 0.647 / 0.688 / 0.062, 1.000 / 0.562 / 0, 1.000 / 0.562 / 0. Recall@5 of every family is
unchanged (the rule never reorders). The false abstentions at 16K are all reworded questions with a weak
lead; the names alone never abstain on an answerable question there (1.000 / 0.562 / 0 at 16K). With
seed 1 (16K, 64K): before 0.400 / 0.250 / 0.062, 0.500 / 0.062 / 0.010; with this rule 0.571 / 0.500 /
0.062, 1.000 / 0.438 / 0.

What the rule cannot do: a question about a known person's fact that was never written down ("Which
tongue can Mateo converse in?" where Mateo's other facts are in memory) names only known words, and its
routing scores overlap those of answerable reworded questions (on the dev haystacks, neither the gap
between the best two documents nor the router's lead before fusion told them apart better than the
fused lead); the model's own "not found" is the last defence there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InvalidInput
from .lexical import STOP_WORDS, Matches
from .routing import RoutedDocument

# A word with its inner hyphens kept, so a code such as "AB-1234-XZ" can be looked up whole.
_KEY_WORD = re.compile(r"\w+(?:-\w+)*")


@dataclass(frozen=True)
class AbstentionConfig:
    """The product's abstention rule on the fused ranking (see the module docstring).

    Tuned with (the model's router; nothing runs the model once the eval cache holds the sets)::

        python -m memsa.evaluation.abstention_tuning --sizes 16384,65536 --seeds 0,1,2 \
            --squad DIR --questions 5000 --first 1000 --threads 1 --output abstention.json

    which scores every ``lead_factor`` and ``unknown_share`` on dev-template haystacks and SQuAD-dev's
    tuning articles and prints the rule that abstains on most absent facts while abstaining on at most
    1% of the answerable questions; the lead factor is relative to the router's own bar, so re-run it
    after training a router and copy the choice here.

    Attributes:
        lead_factor: the fused ranking's best relative score must reach ``lead_factor`` times the
            router's calibrated bar (``RouterSpec.abstain_below``), or the engine abstains.
        unknown_names: abstain when names or codes of the question are in no memory document.
        unknown_share: how many of the question's names and codes must be unknown for that, as a share
            of them (0.5: at least half; a misspelt name beside known ones does not abstain).
    """

    lead_factor: float = 0.9
    unknown_names: bool = True
    unknown_share: float = 0.5

    def __post_init__(self) -> None:
        if not self.lead_factor >= 0:
            raise InvalidInput(f"the abstention lead factor must be >= 0, got {self.lead_factor}")
        if not 0 < self.unknown_share <= 1:
            raise InvalidInput(f"the unknown share must be in (0, 1], got {self.unknown_share}")


DEFAULT_ABSTENTION = AbstentionConfig()
BAR_ONLY = AbstentionConfig(lead_factor=1.0, unknown_names=False)
"""The router's bar alone (the engine's rule before this one; the router-only harness row's)."""


def key_words(question: str) -> list[str]:
    """The question's names and codes, in order, without repeats.

    A key word holds a digit or a capital letter (not counting the capital that starts the question's
    first word, "Where" or "Tell"), and is not a stop word. Hyphenated words whose every part is a key
    word stay whole ("K4-381", "WJZ-TV"); otherwise their key parts count alone ("Bowl" of "Bowl-related").
    A question typed in capitals only has no key words: its capitals tell nothing.
    """
    if question.isupper():
        return []
    found: dict[str, str] = {}
    for index, match in enumerate(_KEY_WORD.finditer(question)):
        parts = match.group().split("-")
        marked = [_is_key(part, sentence_start=index == 0 and number == 0) for number, part in enumerate(parts)]
        if len(parts) > 1 and all(marked):
            parts, marked = [match.group()], [True]
        for word in (part for part, key in zip(parts, marked, strict=True) if key):
            found.setdefault(word.lower(), word)
    return list(found.values())


def unknown_words(question: str, matches: Matches) -> list[str]:
    """The question's key words that no memory document holds.

    Each is looked up as one FTS5 phrase whose last word may go on ("Bronco" finds "Broncos"); the
    index's porter stemmer matches word forms ("MVPs" finds "MVP"), so an inflected name is not taken
    for an unknown one.

    Args:
        matches: (expression, limit) -> (doc_id, score) pairs, e.g. ``MemoryBank.lexical_matches``.
    """
    return [word for word in key_words(question) if not matches(f'"{word}" *', 1)]


def abstains(
    question: str,
    ranking: Sequence[RoutedDocument],
    matches: Matches,
    bar: float,
    config: AbstentionConfig = DEFAULT_ABSTENTION,
) -> bool:
    """Whether the engine should answer "not found" without asking the model.

    Args:
        question: what the user asked.
        ranking: the fused ranking, best first (``MemoryEngine.retrieve``).
        matches: the memory's exact-words lookup (``MemoryBank.lexical_matches``).
        bar: the router's calibrated bar (``RouterSpec.abstain_below``).
    """
    if weak_lead(ranking, bar, config):
        return True
    if not config.unknown_names:
        return False
    named = key_words(question)
    unknown = unknown_words(question, matches) if named else []
    return bool(unknown) and len(unknown) >= config.unknown_share * len(named)


def weak_lead(ranking: Sequence[RoutedDocument], bar: float, config: AbstentionConfig = DEFAULT_ABSTENTION) -> bool:
    """Whether the best document stands out from the bank by less than ``lead_factor`` times ``bar`` (or
    there is none)."""
    return not ranking or ranking[0].relative_score < evidence_bar(bar, config)


def reading_bar(question: str, ranking: Sequence[RoutedDocument], matches: Matches, bar: float,
                config: AbstentionConfig = DEFAULT_ABSTENTION) -> float:
    """The least relative score of a document the engine reads for ``question``: infinite when it
    abstains (:func:`abstains`, nothing is read), else :func:`evidence_bar`."""
    return math.inf if abstains(question, ranking, matches, bar, config) else evidence_bar(bar, config)


def evidence_bar(bar: float, config: AbstentionConfig = DEFAULT_ABSTENTION) -> float:
    """The least relative score of a document worth reading once the engine has not abstained:
    ``lead_factor`` times the router's bar, so a question the rule lets through has documents to read."""
    return config.lead_factor * bar if config.lead_factor else float("-inf")


def _is_key(word: str, sentence_start: bool) -> bool:
    capitals = word[1:] if sentence_start else word
    return word.lower() not in STOP_WORDS and any(char.isdigit() or char.isupper() for char in capitals)
