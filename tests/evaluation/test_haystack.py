"""Needles and haystacks: deterministic by seed, gold documents hold the facts, families behave."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from memsa.core.errors import InvalidInput
from memsa.evaluation.benchmark import load_benchmark, save_benchmark
from memsa.evaluation.haystack import HaystackRecipe, build_haystack
from memsa.evaluation.needle_templates import EXACT, LOOKALIKE, REWORDED, UPDATED, ExactTemplate
from memsa.evaluation.needles import NeedleCounts, TemplateSet, make_needles
from memsa.evaluation.text_sources import background_passages, troff_to_text

COUNTS = NeedleCounts(exact=4, lookalike_groups=2, lookalike_group=3, reworded=4, updated=3, absent=4, multihop=2)


def words(text: str) -> int:
    return len(text.split())


def filler(count: int = 400) -> list[tuple[str, str]]:
    """Background passages of 80 words, each different."""
    return [(f"doc {i}", "\n\n".join(f"Paragraph {j} of filler document {i} " + "lorem " * 15 for j in range(4)))
            for i in range(count)]


def haystack(seed: int, size: int = 3000, split: str = "eval"):  # type: ignore[no-untyped-def]
    recipe = HaystackRecipe(size, seed=seed, template_split=split, counts=COUNTS)
    return build_haystack(recipe, words, iter(filler()))


def test_same_seed_same_haystack_other_seed_other_needles() -> None:
    first, again, other = haystack(1), haystack(1), haystack(2)
    assert first.fingerprint() == again.fingerprint()
    assert first.fingerprint() != other.fingerprint()
    assert [q.question for q in first.queries] != [q.question for q in other.queries]


def test_every_family_is_present_and_gold_documents_hold_the_answer() -> None:
    built = haystack(3)
    families = {query.family for query in built.queries}
    assert families == {"exact", "lookalike", "reworded", "updated", "multihop", "absent"}
    assert built.size_tokens >= 3000
    for query in built.queries:
        if query.absent:
            assert not query.answers
            continue
        answer_doc = built.documents[query.gold[-1]]  # a chain's answer sits in its last hop
        assert query.answers[0] in answer_doc.text, query
    updated = [query for query in built.queries if query.family == "updated"]
    assert all(query.stale and query.stale[0] != query.gold[0] for query in updated)


def test_lookalike_keys_differ_by_one_character_and_sit_in_different_documents() -> None:
    built = haystack(4)
    group = [query for query in built.queries if query.qid.startswith("lookalike-0-")]
    keys = [next(word for word in query.question.split() if "-" in word).rstrip("?") for query in group]
    assert len(set(keys)) == 3
    for first, second in itertools.combinations(keys, 2):
        assert sum(a != b for a, b in zip(first, second, strict=True)) <= 2
    assert len({query.gold[0] for query in group}) == 3


def test_absent_questions_ask_about_what_was_never_planted() -> None:
    needles = make_needles(NeedleCounts(exact=6, reworded=12, absent=12), seed=8)
    facts = " ".join(needle.text for needle in needles.needles)
    absent = [probe for probe in needles.probes if probe.family == "absent"]
    answerable = {probe.question for probe in needles.probes if probe.family != "absent"}
    assert len(absent) == 12 and not any(probe.gold or probe.answers for probe in absent)
    assert not {probe.question for probe in absent} & answerable
    for probe in absent:
        for template in EXACT:
            prefix, _, suffix = template.question.partition("{key}")
            if probe.question.startswith(prefix) and probe.question.endswith(suffix):
                key = probe.question[len(prefix) : len(probe.question) - len(suffix)]
                assert key not in facts, probe


def test_template_splits_are_disjoint_and_change_the_questions() -> None:
    for templates in (EXACT, LOOKALIKE, REWORDED, UPDATED):
        splits = {template.split for template in templates}
        assert splits == {"eval", "dev"}
    eval_questions = {probe.question for probe in make_needles(COUNTS, 0, "eval").probes}
    dev_questions = {probe.question for probe in make_needles(COUNTS, 0, "dev").probes}
    assert not eval_questions & dev_questions
    with pytest.raises(InvalidInput):
        make_needles(COUNTS, 0, "test")


def test_too_little_text_is_a_clear_error() -> None:
    recipe = HaystackRecipe(50_000, counts=COUNTS)
    with pytest.raises(InvalidInput, match="only about"):
        build_haystack(recipe, words, iter(filler(20)))


def test_real_background_text_is_readable_and_in_a_seeded_order() -> None:
    first = list(itertools.islice(background_passages("eval", seed=7), 6))
    again = list(itertools.islice(background_passages("eval", seed=7), 6))
    assert first == again and len(first) == 6
    assert all(60 <= len(text.split()) <= 400 for _, text in first)
    assert not any("\\f" in text for _, text in first)


def test_troff_markup_becomes_paragraphs() -> None:
    markup = "\n".join([
        '.\\" a comment', ".TH LS 1", ".de XX", "ignored macro body", "..", ".SH NAME",
        "ls \\- list directory contents", ".SH DESCRIPTION", ".PP", "List \\fBinformation\\fR about the FILEs.",
        ".B \"bold words\"", ".IP \\(bu 2", "an item",
    ])
    text = troff_to_text(markup)
    assert text.split("\n\n") == ["NAME ls - list directory contents", "DESCRIPTION",
                                  "List information about the FILEs. bold words", "• an item"]


def test_a_saved_haystack_loads_back_identical(tmp_path: Path) -> None:
    built = haystack(6)
    save_benchmark(built, tmp_path / "h.json.gz")
    loaded = load_benchmark(tmp_path / "h.json.gz")
    assert loaded == built and loaded.fingerprint() == built.fingerprint()
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    with pytest.raises(InvalidInput, match="not a benchmark"):
        load_benchmark(tmp_path / "bad.json.gz")


def test_own_templates_make_an_unseen_set() -> None:
    own = TemplateSet(exact=(ExactTemplate("The hangar code of {key} is {code}.", "Hangar code of {key}?", "code"),))
    needles = make_needles(NeedleCounts(exact=3, lookalike_groups=0, reworded=0, updated=0, absent=0, multihop=0),
                           seed=1, templates=own)
    assert [probe.question.startswith("Hangar code of ") for probe in needles.probes] == [True] * 3
    assert all(needle.text.startswith("The hangar code of ") for needle in needles.needles)
    with pytest.raises(InvalidInput, match="no needle template"):
        make_needles(NeedleCounts(), seed=1, templates=TemplateSet(lookalike=()))  # look-alikes asked for, none


def test_no_question_has_two_planted_answers() -> None:
    """Each (template, person) pair is planted once, however many reworded and updated needles are asked for;
    beyond what the templates hold the request is refused."""
    needles = make_needles(NeedleCounts(reworded=120, updated=40, absent=0), seed=3)
    questions = [probe.question for probe in needles.probes if probe.family in ("reworded", "updated")]
    assert len(questions) == 160 and len(set(questions)) == 160
    with pytest.raises(InvalidInput, match="too many reworded needles"):
        make_needles(NeedleCounts(reworded=16 * 8 + 1), seed=3)
