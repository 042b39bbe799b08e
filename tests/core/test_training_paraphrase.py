"""WordNet look-ups and paraphrase-style training queries, over a small database in WordNet's own format."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from memsa.core.training_corpus import TrainingSet
from memsa.core.training_paraphrase import RewordingConfig, is_content_word, reword, with_reworded_queries
from memsa.core.wordnet import WordNet, WordNetMissing

LICENCE_LINE = "  1 This software and database is being provided to you, the LICENSEE, by  \n"

# offset -> (part of speech, lemmas, hypernym offsets); offsets are opaque keys in this small database.
SYNSETS = {
    100: ("noun", ["flat", "apartment"], [300]),
    300: ("noun", ["housing", "lodging"], []),
    200: ("noun", ["brother"], [400]),
    400: ("noun", ["sibling", "sib"], []),
    500: ("noun", ["lease", "rental"], []),
    600: ("verb", ["rent", "lease", "hire"], [700]),
    700: ("verb", ["pay"], []),
    800: ("adj", ["flat", "level", "plane"], []),
    900: ("noun", ["Born", "Max_Born"], []),
}
# lemma -> part of speech -> synset offsets, most frequent sense first
INDEX = {
    "noun": {"flat": [100], "apartment": [100], "housing": [300], "lodging": [300], "brother": [200],
             "sibling": [400], "sib": [400], "lease": [500], "rental": [500], "born": [900]},
    "verb": {"rent": [600], "lease": [600], "hire": [600], "pay": [700]},
    "adj": {"flat": [800, 800, 800], "level": [800], "plane": [800]},
    "adv": {},
}
EXCEPTIONS = {"noun": ["brethren brother"], "verb": ["paid pay"], "adj": [], "adv": []}
SS_TYPE = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}


def write_database(root: Path) -> Path:
    """A WordNet 3.0 database (wndb(5WN) line formats) holding ``SYNSETS``."""
    root.mkdir(parents=True, exist_ok=True)
    for pos, ss_type in SS_TYPE.items():
        lines = [LICENCE_LINE]
        for offset, (synset_pos, lemmas, parents) in SYNSETS.items():
            if synset_pos != pos:
                continue
            words = " ".join(f"{lemma} 0" for lemma in lemmas)
            pointers = " ".join(f"@ {parent:08d} {ss_type} 0000" for parent in parents)
            lines.append(f"{offset:08d} 03 {ss_type} {len(lemmas):02x} {words} {len(parents):03d} {pointers} "
                         f"| a gloss; \"an example\"  \n")
        (root / f"data.{pos}").write_text("".join(lines), encoding="utf-8")
        index_lines = [LICENCE_LINE] + [
            f"{lemma} {ss_type} {len(offsets)} 1 @ {len(offsets)} 0 {' '.join(f'{o:08d}' for o in offsets)}  \n"
            for lemma, offsets in sorted(INDEX[pos].items())
        ]
        (root / f"index.{pos}").write_text("".join(index_lines), encoding="utf-8")
        (root / f"{pos}.exc").write_text("".join(line + "\n" for line in EXCEPTIONS[pos]), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def wordnet(tmp_path_factory: pytest.TempPathFactory) -> WordNet:
    return WordNet(write_database(tmp_path_factory.mktemp("wordnet")))


def test_synonyms_and_broader_words_come_from_the_most_frequent_sense(wordnet: WordNet) -> None:
    brother = wordnet.alternatives("brother")
    assert brother.synonyms == ()
    assert brother.broader == ("sibling", "sib")
    flat = wordnet.alternatives("flat", "noun")
    assert flat.synonyms == ("apartment",)
    assert flat.broader == ("housing", "lodging")


def test_the_part_of_speech_with_most_senses_is_the_default(wordnet: WordNet) -> None:
    assert wordnet.parts_of_speech("flat") == ["adj", "noun"]
    assert wordnet.alternatives("flat").synonyms == ("level", "plane")
    assert wordnet.parts_of_speech("lease") == ["noun", "verb"]  # a tie goes to the noun


def test_inflected_forms_and_exceptions_find_their_base(wordnet: WordNet) -> None:
    assert wordnet.base_forms("flats", "noun") == ["flat"]
    assert wordnet.base_forms("rented", "verb") == ["rent"]
    assert wordnet.base_forms("brethren", "noun") == ["brother"]
    assert wordnet.base_forms("paid", "verb") == ["pay"]
    assert wordnet.alternatives("Rented").synonyms == ("lease", "hire")


def test_proper_names_and_unknown_words_offer_nothing(wordnet: WordNet) -> None:
    assert not wordnet.alternatives("born")  # its only lemmas are a person's name
    assert not wordnet.alternatives("quokka")


def test_a_missing_database_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(WordNetMissing, match="wordnet-base"):
        WordNet(tmp_path)


def test_reworded_sentence_keeps_names_and_punctuation_and_changes_content_words(wordnet: WordNet) -> None:
    config = RewordingConfig(replace=1.0, broader=0.0, drop=0.0, question=0.0, min_changed=2)
    sentence = "Priya's brother rented the flat on Birch Lane."
    reworded = reword(sentence, wordnet, random.Random(0), config)
    assert reworded is not None
    assert reworded.startswith("Priya's ") and reworded.endswith("on Birch Lane.")
    assert "rented" not in reworded and " flat " not in reworded
    assert "apartment" in reworded  # "the" before "flat" makes it a noun


def test_reword_gives_up_when_too_few_words_can_change(wordnet: WordNet) -> None:
    config = RewordingConfig(replace=1.0, drop=0.0, min_changed=2)
    assert reword("Priya visited Oslo in 2019.", wordnet, random.Random(0), config) is None


def test_dropped_words_leave_single_spaces(wordnet: WordNet) -> None:
    config = RewordingConfig(replace=0.0, drop=1.0, question=1.0, min_changed=1)
    reworded = reword("Ingrid sold the old quokka farm.", wordnet, random.Random(1), config)
    assert reworded is not None
    assert "  " not in reworded and reworded.endswith("Ingrid the?")


def test_content_words_exclude_names_numbers_and_function_words() -> None:
    assert is_content_word("brother", 3)
    assert is_content_word("Brother", 0)
    assert not is_content_word("Priya", 2)
    assert not is_content_word("2019", 4)
    assert not is_content_word("the", 1)
    assert not is_content_word("Priya's", 0)


def test_reworded_queries_point_at_the_passage_holding_their_sentence(wordnet: WordNet) -> None:
    passages = [f"Note {i}. My brother rented a flat near the station last year. Nothing else happened then."
                for i in range(20)]
    training = TrainingSet(passages, list(range(20)), ["q"], [0], [[]], ["sentence"])
    grown = with_reworded_queries(training, share=1.0, seed=3, wordnet=wordnet)
    added = [i for i, kind in enumerate(grown.kinds) if kind == "reworded"]
    assert len(added) == 20
    assert sorted(grown.positives[i] for i in added) == list(range(20))
    assert all(grown.negatives[i] == [] for i in added)
    again = with_reworded_queries(TrainingSet(passages, list(range(20)), ["q"], [0], [[]], ["sentence"]),
                                  share=1.0, seed=3, wordnet=wordnet)
    assert again.queries == grown.queries
