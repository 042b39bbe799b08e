"""Choosing the abstention rule: the grid, and the choice under a cap on false abstentions."""

from __future__ import annotations

import pytest

from memsa.core.abstention import AbstentionConfig
from memsa.evaluation.abstention_tuning import RuleScore, choose, describe, rules
from memsa.evaluation.metrics import AbstentionScores


def _scored(factor: float, share: float | None, recall: float, false: float,
            squad: float | None = None) -> RuleScore:
    rule = AbstentionConfig(lead_factor=factor, unknown_names=share is not None, unknown_share=share or 1.0)
    return RuleScore(rule, AbstentionScores(precision=1.0, recall=recall, false_abstentions=false), squad)


def test_grid_covers_every_factor_with_and_without_the_name_test() -> None:
    grid = rules(factors=(0.0, 1.0), shares=(None, 0.5))
    assert [(rule.lead_factor, rule.unknown_names, rule.unknown_share) for rule in grid] == [
        (0.0, False, 1.0), (1.0, False, 1.0), (0.0, True, 0.5), (1.0, True, 0.5)]
    assert describe(grid[-1]) == "lead 1 x bar, names >= 50%"


def test_choice_has_most_recall_within_the_cap_on_every_set() -> None:
    scored = [
        _scored(2.0, 0.5, recall=0.9, false=0.20),  # abstains on too many answerable questions
        _scored(1.0, 0.5, recall=0.7, false=0.005, squad=0.03),  # too many on SQuAD
        _scored(0.9, 0.5, recall=0.6, false=0.005, squad=0.007),
        _scored(0.9, 0.01, recall=0.6, false=0.005, squad=0.007),  # a tie: the cautious share wins
        _scored(0.5, 0.5, recall=0.6, false=0.0, squad=0.007),  # a tie: the smaller factor wins
        _scored(1.0, None, recall=0.2, false=0.01),
    ]
    chosen = choose(scored, max_false=0.01)
    assert (chosen.rule.lead_factor, chosen.rule.unknown_share) == (0.5, 0.5)
    assert choose(scored[:4], max_false=0.01).rule.unknown_share == 0.5
    with pytest.raises(ValueError, match="at most"):
        choose(scored[:2], max_false=0.01)
