"""The multi-hop chain set: facts of a chain in different documents, invented names, reproducible from a seed."""

from __future__ import annotations

import re

import pytest

from memsa.evaluation.multihop import HaystackDocument, build_multihop_set, stdlib_haystack


@pytest.fixture(scope="module")
def haystack() -> list[HaystackDocument]:
    return stdlib_haystack(80_000)


def test_the_haystack_is_real_text_in_uniquely_named_documents(haystack: list[HaystackDocument]) -> None:
    assert sum(len(doc.text) for doc in haystack) >= 80_000
    assert len({doc.name for doc in haystack}) == len(haystack)
    assert all(300 <= len(doc.text) <= 4000 for doc in haystack)


def test_chains_spread_their_facts_over_different_documents(haystack: list[HaystackDocument]) -> None:
    dataset = build_multihop_set(haystack, n_chains=12, seed=3)
    by_name = {doc.name: doc.text for doc in dataset.documents}
    original = {doc.name: doc.text for doc in haystack}
    holders = [name for chain in dataset.chains for name in chain.documents]
    assert len(holders) == len(set(holders))  # one fact per document, so every hop is its own document
    assert {chain.hops for chain in dataset.chains} == {2, 3}
    for chain in dataset.chains:
        for fact, name in zip(chain.facts, chain.documents, strict=True):
            assert f"\n\n{fact}" in by_name[name] or by_name[name].endswith(fact)
            assert by_name[name].replace(f"\n\n{fact}", "", 1) == original[name]
        assert chain.answer in chain.facts[-1] and chain.answer not in chain.question
        assert chain.question.endswith("?")


def test_a_question_names_only_the_first_person(haystack: list[HaystackDocument]) -> None:
    dataset = build_multihop_set(haystack, n_chains=12, seed=5)
    for chain in dataset.chains:
        first = _names(chain.facts[0]) & _names(chain.question)
        assert first, chain
        for later in chain.facts[1:]:
            assert not (_names(later) - first) & _names(chain.question), chain


def test_invented_names_never_occur_in_the_haystack(haystack: list[HaystackDocument]) -> None:
    dataset = build_multihop_set(haystack, n_chains=12, seed=7)
    text = "\n".join(doc.text for doc in haystack).lower()
    invented = {name for chain in dataset.chains for fact in chain.facts for name in _names(fact)}
    assert invented and not {name for name in invented if name.lower() in text}


def test_the_same_seed_gives_the_same_set_and_another_seed_another(haystack: list[HaystackDocument]) -> None:
    assert build_multihop_set(haystack, 8, seed=1) == build_multihop_set(haystack, 8, seed=1)
    assert build_multihop_set(haystack, 8, seed=1).chains != build_multihop_set(haystack, 8, seed=2).chains
    templates = {re.sub(r"[A-Z]\w+", "X", chain.question) for chain in build_multihop_set(haystack, 20, 1).chains}
    assert len(templates) >= 6  # varied phrasings, not one template


def test_too_small_a_haystack_is_refused(haystack: list[HaystackDocument]) -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        build_multihop_set(haystack[:5], n_chains=4, seed=0)


def _names(text: str) -> set[str]:
    """Capitalised words other than a question's or sentence's first word."""
    words = re.findall(r"[A-Z][a-z]+", text)
    return {word for word in words if word not in {"In", "Where", "What", "At", "The"}}
