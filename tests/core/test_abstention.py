"""The abstention rule on the fused ranking: unknown names and codes, a weak lead, and the engine using it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memsa.core.abstention import BAR_ONLY, AbstentionConfig, abstains, key_words, unknown_words, weak_lead
from memsa.core.encoding import EncodingConfig
from memsa.core.engine import DocumentText, Finished, MemoryEngine
from memsa.core.errors import InvalidInput
from memsa.core.lexical import Matches
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import NewDocument, SourceInfo
from memsa.core.routing import RoutedDocument
from memsa.core.settings import EngineSettings
from tests.support.tiny_models import TinyModel, install_router

TEXTS = [
    "Flight K4-381 boards at gate 12; flight K4-318 was cancelled.",
    "The wifi password at the Velhundor guesthouse is amber-falcon-42.",
    "Priya's daughter is a pupil at Hillcrest. Priya drives an old Volvo.",
    "Notes about the weather: rain on Tuesday, sun on the weekend.",
    "The Broncos were the MVP's favourite team in the 70s.",
]


@pytest.fixture
def matches(tmp_path: Path) -> Iterator[Matches]:
    """The exact-words lookup of an index holding ``TEXTS``."""
    index = MemoryIndex.open(tmp_path / "index.sqlite3")
    with index.transaction():
        source_id = index.upsert_source(SourceInfo("/notes/all.txt", "h", 0, 0))
        for number, text in enumerate(TEXTS):
            index.insert_document(source_id, NewDocument(text, 0, len(text), str(number), None), None, None)
    yield lambda expression, limit: index.lexical_matches(expression, limit, encoded_only=False)
    index.close()


def _ranking(*relative: float) -> list[RoutedDocument]:
    return [RoutedDocument(number, 1.0 + score, {}, 0, score) for number, score in enumerate(relative)]


@pytest.mark.parametrize(("question", "expected"), [
    ("What is the wifi password at the Velhundor guesthouse?", ["Velhundor"]),
    ("Which gate does flight K4-381 board at?", ["K4-381"]),
    ("Where does Priya's kid study?", ["Priya"]),
    ("Tell me where Priya and PRIYA met Tomasz in 2019", ["Priya", "Tomasz", "2019"]),
    ("Where did I put my iPhone charger?", ["iPhone"]),
    ("Velhundor guesthouse wifi?", []),  # the first word's capital may only start the sentence
    ("what is the wifi password?", []),
    ("What did The Who play?", []),  # stop words never count, whatever their case
    ("When did WJZ-TV air Super Bowl-related shows in Miami/Dade?", ["WJZ-TV", "Super", "Bowl", "Miami", "Dade"]),
    ("WHERE IS THE WIFI PASSWORD OF K4-381?", []),
])
def test_key_words_are_names_and_codes(question: str, expected: list[str]) -> None:
    assert key_words(question) == expected


def test_unknown_words_are_looked_up_whole(matches: Matches) -> None:
    assert unknown_words("What is the wifi password at the Velhundor guesthouse?", matches) == []
    assert unknown_words("What is the wifi password at the Fiopax guesthouse?", matches) == ["Fiopax"]
    assert unknown_words("Which gate does flight K4-381 board at?", matches) == []
    # Every part of "K4-813" is in memory, but not as one code.
    assert unknown_words("Which gate does flight K4-813 board at?", matches) == ["K4-813"]
    assert unknown_words("Where does Priya's kid study, and does Mateo know?", matches) == ["Mateo"]
    # Inflected names are known: the index stems word forms and the last word may go on.
    assert unknown_words("Did the Bronco MVPs win in the 70s?", matches) == []


@pytest.mark.parametrize("question", ['What is "K4-381"?', "Who is ² or ⅷ or _X_?", "AB-*-^", "NEAR-OR-AND"])
def test_odd_key_words_never_break_the_lookup(matches: Matches, question: str) -> None:
    assert set(unknown_words(question, matches)) <= set(key_words(question))


def test_abstains_on_an_unknown_name_even_when_the_ranking_leads(matches: Matches) -> None:
    strong = _ranking(0.6, 0.1, 0.0)
    assert abstains("What is the wifi password at the Fiopax guesthouse?", strong, matches, bar=0.15)
    assert not abstains("What is the wifi password at the Velhundor guesthouse?", strong, matches, bar=0.15)
    names_off = AbstentionConfig(unknown_names=False)
    assert not abstains("What is the wifi password at the Fiopax guesthouse?", strong, matches, 0.15, names_off)


def test_a_misspelt_name_beside_known_ones_does_not_abstain(matches: Matches) -> None:
    strong = _ranking(0.6, 0.1, 0.0)
    assert not abstains("Did Priya and Tomasz sell the Volvo?", strong, matches, bar=0.15)  # 1 of 3 unknown
    assert abstains("Did Priya meet Tomasz?", strong, matches, bar=0.15)  # half unknown
    assert not abstains("Did Priya meet Tomasz?", strong, matches, 0.15, AbstentionConfig(unknown_share=1.0))


def test_abstains_on_a_weak_lead_or_no_documents(matches: Matches) -> None:
    question = "Where does Priya's kid study?"
    assert abstains(question, _ranking(0.1, 0.05), matches, bar=0.15)
    assert abstains(question, [], matches, bar=0.15)
    assert not abstains(question, _ranking(0.2, 0.05), matches, bar=0.15)
    assert abstains(question, _ranking(0.2, 0.05), matches, 0.15, AbstentionConfig(lead_factor=1.5))
    assert weak_lead(_ranking(0.14), 0.15, BAR_ONLY) and not weak_lead(_ranking(0.14), 0.15)  # default: 0.9 x bar
    assert not weak_lead(_ranking(-5.0), float("-inf"), AbstentionConfig(lead_factor=0.0))
    assert weak_lead([], float("-inf"))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InvalidInput, match="lead factor"):
        AbstentionConfig(lead_factor=-1.0)
    with pytest.raises(InvalidInput, match="unknown share"):
        AbstentionConfig(unknown_share=0.0)


def test_engine_abstains_on_a_code_no_note_holds(tiny_llama: TinyModel, data_dir: Path) -> None:
    install_router(tiny_llama, data_dir)  # bar -1: every lead clears it, only the names decide
    settings = EngineSettings(data_dir=data_dir, model=str(tiny_llama.path), encoding=EncodingConfig(chunk_tokens=8))
    with MemoryEngine.open(settings) as engine:
        for number, text in enumerate(["the locker QX4471 opens with 12 .", "red green blue . alpha bravo ."]):
            engine.remember(SourceInfo(f"/notes/{number}.md", str(number), 1, len(text)),
                            [DocumentText(text, 0, len(text))])
        *_, unknown = engine.ask("what opens the locker QX9000 ?")
        assert isinstance(unknown, Finished) and unknown.answer.abstained and not unknown.answer.citations
        known = engine.interleave("what opens the locker QX4471 ?")
        while True:
            try:
                next(known)
            except StopIteration as stop:
                assert stop.value.citations and stop.value.ranking
                break
