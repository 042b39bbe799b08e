"""The interleave state machine of one question: named states, every legal transition in one table.

::

    START --begin--> ROUTING --chose--> READING --follow_up--> ROUTING   (a new round, up to the cap)
                        |                  |
                        +--found_nothing---+--enough--> ANSWERING --answered--> DONE

ROUTING picks the documents of the current round (by the router's scores, or by the ids a model trained
for interleave writes); READING puts their original text in front of the model; then the engine either
routes again with the question plus the latest evidence, or answers. The machine enforces the caps (rounds
per question, documents per round) and refuses any other move, so a driver bug cannot loop or skip reading.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidInput, MemsaError


class State(enum.Enum):
    START = "start"
    ROUTING = "routing"
    READING = "reading"
    ANSWERING = "answering"
    DONE = "done"


class Step(enum.Enum):
    BEGIN = "begin"
    CHOSE = "chose"
    FOUND_NOTHING = "found-nothing"
    FOLLOW_UP = "follow-up"
    ENOUGH = "enough"
    ANSWERED = "answered"


TRANSITIONS: dict[tuple[State, Step], State] = {
    (State.START, Step.BEGIN): State.ROUTING,
    (State.ROUTING, Step.CHOSE): State.READING,
    (State.ROUTING, Step.FOUND_NOTHING): State.ANSWERING,
    (State.READING, Step.FOLLOW_UP): State.ROUTING,
    (State.READING, Step.ENOUGH): State.ANSWERING,
    (State.ANSWERING, Step.ANSWERED): State.DONE,
}


class IllegalTransition(MemsaError):
    """A move the machine does not allow from its current state (a bug in the driver)."""


@dataclass(frozen=True)
class InterleaveLimits:
    """Caps of one question's interleave.

    Attributes:
        max_rounds: routing rounds at most (1 = single-round routing).
        max_documents: documents read per round at most.
        candidates: ranked documents a round looks through for those naming what the query names.
        model_check: after each round, ask the model whether it has what it needs (see ``judge``).
    """

    max_rounds: int = 3
    max_documents: int = 3
    candidates: int = 64
    model_check: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_rounds <= 16:
            raise InvalidInput("rounds must be between 1 and 16")
        if self.max_documents < 1 or self.candidates < self.max_documents:
            raise InvalidInput("documents per round must be at least 1, and candidates at least as many")


class InterleaveMachine:
    """Tracks one question's state, round number and documents read; every move goes through :meth:`_move`."""

    def __init__(self, limits: InterleaveLimits) -> None:
        self.limits = limits
        self.state = State.START
        self.round = 0
        self.read: list[int] = []

    @property
    def can_follow_up(self) -> bool:
        """Whether another round is allowed after the current one."""
        return self.round < self.limits.max_rounds

    def begin(self) -> int:
        """Start round 1; returns the round number."""
        self._move(Step.BEGIN)
        self.round = 1
        return self.round

    def chose(self, doc_ids: Sequence[int]) -> None:
        """The round picked ``doc_ids`` (1..max_documents new documents) to read."""
        if not 1 <= len(doc_ids) <= self.limits.max_documents:
            raise IllegalTransition(f"a round reads 1 to {self.limits.max_documents} documents, not {len(doc_ids)}")
        again = sorted((set(doc_ids) & set(self.read)) | {doc for doc in doc_ids if doc_ids.count(doc) > 1})
        if again:
            raise IllegalTransition(f"documents {again} were already read (or named twice)")
        self._move(Step.CHOSE)
        self.read.extend(doc_ids)

    def found_nothing(self) -> None:
        """The round found no new document worth reading: answer from what was read."""
        self._move(Step.FOUND_NOTHING)

    def follow_up(self) -> int:
        """Route again with the latest evidence; returns the new round number."""
        if not self.can_follow_up:
            raise IllegalTransition(f"the round cap ({self.limits.max_rounds}) is reached")
        self._move(Step.FOLLOW_UP)
        self.round += 1
        return self.round

    def enough(self) -> None:
        """What was read suffices (or nothing is left to follow): answer."""
        self._move(Step.ENOUGH)

    def answered(self) -> None:
        self._move(Step.ANSWERED)

    def _move(self, step: Step) -> None:
        target = TRANSITIONS.get((self.state, step))
        if target is None:
            raise IllegalTransition(f"cannot {step.value} while {self.state.value}")
        self.state = target
