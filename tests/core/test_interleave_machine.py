"""Every transition of the interleave state machine, the legal ones and the refused ones, and its caps."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memsa.core.errors import InvalidInput
from memsa.core.interleave.machine import (
    TRANSITIONS,
    IllegalTransition,
    InterleaveLimits,
    InterleaveMachine,
    State,
    Step,
)

Move = Callable[[InterleaveMachine], object]
MOVES: dict[Step, Move] = {
    Step.BEGIN: lambda machine: machine.begin(),
    Step.CHOSE: lambda machine: machine.chose([100 + machine.round]),
    Step.FOUND_NOTHING: lambda machine: machine.found_nothing(),
    Step.FOLLOW_UP: lambda machine: machine.follow_up(),
    Step.ENOUGH: lambda machine: machine.enough(),
    Step.ANSWERED: lambda machine: machine.answered(),
}
# The shortest way to reach each state from a fresh machine.
PATHS: dict[State, list[Step]] = {
    State.START: [],
    State.ROUTING: [Step.BEGIN],
    State.READING: [Step.BEGIN, Step.CHOSE],
    State.ANSWERING: [Step.BEGIN, Step.FOUND_NOTHING],
    State.DONE: [Step.BEGIN, Step.FOUND_NOTHING, Step.ANSWERED],
}


def machine_in(state: State, limits: InterleaveLimits | None = None) -> InterleaveMachine:
    machine = InterleaveMachine(limits or InterleaveLimits(max_rounds=3, max_documents=2))
    for step in PATHS[state]:
        MOVES[step](machine)
    assert machine.state is state
    return machine


@pytest.mark.parametrize("state,step", sorted(TRANSITIONS, key=lambda pair: (pair[0].value, pair[1].value)))
def test_each_legal_transition_reaches_its_target(state: State, step: Step) -> None:
    machine = machine_in(state)
    MOVES[step](machine)
    assert machine.state is TRANSITIONS[(state, step)]


@pytest.mark.parametrize(
    "state,step", [(state, step) for state in State for step in Step if (state, step) not in TRANSITIONS]
)
def test_every_other_transition_is_refused_and_changes_nothing(state: State, step: Step) -> None:
    machine = machine_in(state)
    with pytest.raises(IllegalTransition):
        MOVES[step](machine)
    assert machine.state is state


def test_rounds_are_counted_and_capped() -> None:
    machine = InterleaveMachine(InterleaveLimits(max_rounds=2, max_documents=2))
    assert machine.begin() == 1
    machine.chose([4, 9])
    assert machine.can_follow_up and machine.follow_up() == 2
    machine.chose([5])
    assert not machine.can_follow_up
    with pytest.raises(IllegalTransition, match="round cap"):
        machine.follow_up()
    assert machine.state is State.READING and machine.read == [4, 9, 5]
    machine.enough()
    machine.answered()
    assert machine.state is State.DONE


@pytest.mark.parametrize("documents", [[], [1, 2, 3], [6, 6]])
def test_a_round_reads_one_to_max_new_documents(documents: list[int]) -> None:
    machine = machine_in(State.ROUTING)
    with pytest.raises(IllegalTransition):
        machine.chose(documents)
    assert machine.state is State.ROUTING and machine.read == []


def test_a_document_is_never_read_twice() -> None:
    machine = machine_in(State.READING)  # read document 101
    machine.follow_up()
    with pytest.raises(IllegalTransition, match="already read"):
        machine.chose([101])


def test_single_round_goes_straight_to_answering() -> None:
    machine = InterleaveMachine(InterleaveLimits(max_rounds=1))
    machine.begin()
    machine.chose([3])
    assert not machine.can_follow_up


@pytest.mark.parametrize("rounds,documents", [(0, 2), (17, 2), (2, 0)])
def test_limits_are_validated(rounds: int, documents: int) -> None:
    with pytest.raises(InvalidInput):
        InterleaveLimits(max_rounds=rounds, max_documents=documents)
