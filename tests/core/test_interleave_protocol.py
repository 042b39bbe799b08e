"""The MSA retrieval protocol parsed from synthetic token ids: `[4][12]` + delimiter, `<End-of-Retrieve>`."""

from __future__ import annotations

import pytest

from memsa.core.errors import InvalidInput
from memsa.core.interleave.protocol import (
    CallEnd,
    ProtocolTokens,
    RetrievalCallParser,
    parse_retrieval_call,
    protocol_tokens_from_vocab,
)

# A synthetic vocabulary: single digits 0-9 are ids 10-19, "12" is a two-digit token (id 30).
OPEN, CLOSE, JOINED, DELIMITER, END, WORD, SPACED_OPEN = 1, 2, 3, 4, 5, 6, 7
DIGITS = {10 + digit: str(digit) for digit in range(10)} | {30: "12"}
TOKENS = ProtocolTokens(
    open=frozenset({OPEN, SPACED_OPEN}), close=frozenset({CLOSE}), close_open=frozenset({JOINED}), digits=DIGITS,
    delimiter=DELIMITER, end_of_retrieve=END,
)
KNOWN = {4, 7, 12, 40}


def digits(number: int) -> list[int]:
    return [10 + int(char) for char in str(number)]


def test_ids_then_the_delimiter_name_documents_in_order() -> None:
    ids = [OPEN, *digits(4), CLOSE, OPEN, *digits(12), CLOSE, DELIMITER, WORD]  # "[4][12]<delim>" then text
    call = parse_retrieval_call(ids, TOKENS, KNOWN)
    assert call.doc_ids == (4, 12)
    assert call.ended_by is CallEnd.DELIMITER and call.consumed == 8 and call.unknown_ids == () and not call.malformed


def test_joined_bracket_and_multi_digit_tokens() -> None:
    ids = [SPACED_OPEN, *digits(7), JOINED, 30, JOINED, *digits(40), CLOSE, DELIMITER]  # " [7][12][40]"
    assert parse_retrieval_call(ids, TOKENS, KNOWN).doc_ids == (7, 12, 40)


def test_unknown_ids_are_ignored_and_reported_and_repeats_dropped() -> None:
    ids = [OPEN, *digits(99), CLOSE, OPEN, *digits(4), CLOSE, OPEN, *digits(4), CLOSE, OPEN, 10, 10, CLOSE, DELIMITER]
    call = parse_retrieval_call(ids, TOKENS, KNOWN)
    assert call.doc_ids == (4,) and call.unknown_ids == (99, 0)


def test_end_of_retrieve_ends_retrieval() -> None:
    call = parse_retrieval_call([END, WORD, WORD], TOKENS, KNOWN)
    assert call.ended_by is CallEnd.END_OF_RETRIEVE and call.doc_ids == () and call.consumed == 1
    named_then_end = parse_retrieval_call([OPEN, *digits(7), CLOSE, END], TOKENS, KNOWN)
    assert named_then_end.ended_by is CallEnd.END_OF_RETRIEVE and named_then_end.doc_ids == (7,)


def test_a_token_outside_the_protocol_ends_the_call_as_stray() -> None:
    call = parse_retrieval_call([OPEN, *digits(4), CLOSE, WORD, OPEN, *digits(7), CLOSE, DELIMITER], TOKENS, KNOWN)
    assert call.ended_by is CallEnd.STRAY and call.doc_ids == (4,) and call.consumed == 4


@pytest.mark.parametrize(
    "ids,malformed",
    [
        ([CLOSE, OPEN, 14, CLOSE, DELIMITER], (0,)),  # "]" with nothing open
        ([OPEN, CLOSE, OPEN, 14, CLOSE, DELIMITER], (1,)),  # "[]"
        ([14, OPEN, 14, CLOSE, DELIMITER], (0,)),  # digits outside brackets
        ([OPEN, OPEN, 14, CLOSE, DELIMITER], (1,)),  # "[[4]"
        ([OPEN, 17, CLOSE, OPEN, 14, DELIMITER], (5,)),  # "[7][4" then the delimiter: 4 is dropped
    ],
)
def test_misplaced_protocol_tokens_are_skipped_and_reported(ids: list[int], malformed: tuple[int, ...]) -> None:
    call = parse_retrieval_call(ids, TOKENS, KNOWN)
    assert call.malformed == malformed and call.ended_by is CallEnd.DELIMITER
    assert call.doc_ids in {(4,), (7,)}


def test_running_out_of_tokens_is_incomplete_and_streaming_matches() -> None:
    call = parse_retrieval_call([OPEN, *digits(4), CLOSE, OPEN, 11], TOKENS, KNOWN)
    assert call.ended_by is CallEnd.INCOMPLETE and call.doc_ids == (4,) and call.consumed == 5
    parser = RetrievalCallParser(TOKENS, KNOWN)
    results = [parser.feed(token) for token in [OPEN, *digits(12), CLOSE, DELIMITER]]
    assert results[:-1] == [None] * 4 and results[-1] is not None and results[-1].doc_ids == (12,)


def test_tokens_found_in_a_vocabulary_by_their_strings() -> None:
    vocab = {"[": 1, "]": 2, "][": 3, "Ġ[": 4, "7": 5, "12": 6, "x7": 7}
    vocab |= {"<|object_ref_end|>": 8, "<End-of-Retrieve>": 9}
    tokens = protocol_tokens_from_vocab(vocab, "<|object_ref_end|>", "<End-of-Retrieve>")
    assert tokens.open == {1, 4} and tokens.close == {2} and tokens.close_open == {3}
    assert dict(tokens.digits) == {5: "7", 6: "12"} and (tokens.delimiter, tokens.end_of_retrieve) == (8, 9)
    assert parse_retrieval_call([4, 6, 3, 5, 2, 8], tokens, {7, 12}).doc_ids == (12, 7)
    with pytest.raises(InvalidInput, match="End-of-Retrieve"):
        protocol_tokens_from_vocab({"[": 1, "]": 2, "<|object_ref_end|>": 8}, "<|object_ref_end|>", "<End-of-Retrieve>")


def test_a_token_id_with_two_roles_is_refused() -> None:
    with pytest.raises(InvalidInput, match="two roles"):
        ProtocolTokens(open=frozenset({1}), close=frozenset({2}), close_open=frozenset(), digits={2: "2"},
                       delimiter=4, end_of_retrieve=5)
