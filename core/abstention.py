"""When memory holds no answer: the rule that makes the engine say "not found" on the fused ranking.

Why. The router's calibrated bar (``RouterSpec.abstain_below``) was set on router-only scores, where it
kept 0.95 of answerable training queries but turned away almost none of the unanswerable ones; and the
exact-words bonus (``lexical.fuse``) lifts a question's best relative score by up to ``weight * R``, so on
the fused ranking the bar alone abstained on 0 of 16 absent facts at 64K and 256K memory tokens.

What tells an absent fact apart in a personal archive is mostly its names and codes: a question about
the "Velhundor guesthouse" or parcel "K4-381" asks about a word that the memory either holds or does not,
and the exact-words index knows which at no cost. So the rule abstains when either holds:

1. unknown name: a *key word* of the question (a word with a digit, or with a capital letter anywhere
   but at the start of the question's first word, e.g. ``Velhundor``, ``K4-381``, ``iPhone``; stop
   words never count) is in no memory document. Each key word is looked up in the FTS5 index as one
   phrase (``K4-381`` as the adjacent words ``k4 381``), so a code is known only when it occurs whole;
2. weak lead: the fused ranking's best relative score is under ``lead_factor`` times the router's bar
   (``lead_factor`` 1 is the rule the engine had before; kept because the tuning did not find a factor
   that helped, see below).

Measured with ``python -m memsa.evaluation.abstention_tuning`` on haystacks built with the "dev" needle
templates only (seeds 0-2 at 16K tokens, seeds 0-1 at 64K; the reported sets use the "eval" templates):
see ``AbstentionConfig`` for the numbers behind the defaults. What the rule cannot do: a question about
a known person's fact that was never written down ("Which tongue can Mateo converse in?" where Mateo's
other facts are in memory) names only known words, and its routing scores overlap those of answerable
reworded questions; only the lead test catches some of those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InvalidInput
from .lexical import STOP_WORDS, Matches
from .routing import RoutedDocument

# A word with its inner joiners kept, so a code such as "AB-1234/7" is looked up whole.
_KEY_WORD = re.compile(r"\w+(?:[-/.:]\w+)*")


@dataclass(frozen=True)
class AbstentionConfig:
    """The product's abstention rule on the fused ranking (see the module docstring).

    Tuned with ``python -m memsa.evaluation.abstention_tuning --sizes 16384,65536 --seeds 0,1,2
    --output abstention.json`` (dev needle templates only), which scores every ``lead_factor`` with and
    without the unknown-name test and prints the choice that abstains most on absent facts while
    abstaining on at most 1% of answerable questions.

    Attributes:
        lead_factor: the fused ranking's best relative score must reach ``lead_factor`` times the
            router's calibrated bar (``RouterSpec.abstain_below``), or the engine abstains.
        unknown_names: abstain when a name or code of the question is in no memory document.
    """

    lead_factor: float = 1.0
    unknown_names: bool = True

    def __post_init__(self) -> None:
        if not self.lead_factor >= 0:
            raise InvalidInput(f"the abstention lead factor must be >= 0, got {self.lead_factor}")


DEFAULT_ABSTENTION = AbstentionConfig()


def key_words(question: str) -> list[str]:
    """The question's names and codes, in order, without repeats: words holding a digit or a capital
    letter, except the capital that starts the question's first word ("Where" or "Tell")."""
    found: dict[str, str] = {}
    for index, match in enumerate(_KEY_WORD.finditer(question)):
        word = match.group()
        capitals = word[1:] if index == 0 else word
        if word.lower() in STOP_WORDS or not any(char.isdigit() or char.isupper() for char in capitals):
            continue
        found.setdefault(word.lower(), word)
    return list(found.values())


def unknown_words(question: str, matches: Matches) -> list[str]:
    """The question's key words that no memory document holds (each looked up as one FTS5 phrase).

    Args:
        matches: (expression, limit) -> (doc_id, score) pairs, e.g. ``MemoryBank.lexical_matches``.
    """
    return [word for word in key_words(question) if not matches(f'"{word}"', 1)]


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
    return weak_lead(ranking, bar, config) or (config.unknown_names and bool(unknown_words(question, matches)))


def weak_lead(ranking: Sequence[RoutedDocument], bar: float, config: AbstentionConfig = DEFAULT_ABSTENTION) -> bool:
    """Whether the best document stands out from the bank by less than ``lead_factor`` times ``bar`` (or
    there is none)."""
    threshold = config.lead_factor * bar if config.lead_factor else float("-inf")
    return not ranking or ranking[0].relative_score < threshold
