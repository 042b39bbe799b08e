"""The MSA retrieval protocol at the token level: which documents a trained model asks to read.

A model trained with Memory Interleave names documents by writing their ids in brackets, ``[4][12]``,
then a delimiter token (``<|object_ref_end|>`` for Qwen): the engine reads those documents and routes
again. It ends retrieval with ``<End-of-Retrieve>`` and then writes the answer. Tokenizers cut ``[4][12]``
in different ways (``[``, ``4``, ``][``, ``1``, ``2``, ``]`` in Qwen; multi-digit tokens in others), so the
parser is given the ids of every token that may appear — brackets, the joined ``][``, digit tokens — and
never looks at decoded text. It is pure: token ids in, document ids out.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import InvalidInput

_SPACE_MARKS = ("Ġ", "▁", " ")


@dataclass(frozen=True)
class ProtocolTokens:
    """The token ids of the retrieval protocol in one tokenizer.

    Attributes:
        open: ids of tokens that are exactly ``[``.
        close: ids of tokens that are exactly ``]``.
        close_open: ids of tokens that are exactly ``][`` (one token in many vocabularies).
        digits: id -> the digits the token spells (``"7"``, or ``"123"`` in vocabularies with number tokens).
        delimiter: id of the token that ends one round's request (``<|object_ref_end|>`` in Qwen).
        end_of_retrieve: id of ``<End-of-Retrieve>``.
    """

    open: frozenset[int]
    close: frozenset[int]
    close_open: frozenset[int]
    digits: Mapping[int, str]
    delimiter: int
    end_of_retrieve: int

    def __post_init__(self) -> None:
        groups = [self.open, self.close, self.close_open, set(self.digits), {self.delimiter}, {self.end_of_retrieve}]
        seen: set[int] = set()
        for group in groups:
            if seen & set(group):
                raise InvalidInput(f"protocol token ids {sorted(seen & set(group))} have two roles")
            seen |= set(group)
        if not self.open or not self.close or not self.digits:
            raise InvalidInput("the protocol needs at least one '[' token, one ']' token and digit tokens")
        if any(not text.isdigit() or not text.isascii() for text in self.digits.values()):
            raise InvalidInput("digit tokens must spell ASCII digits only")


def protocol_tokens_from_vocab(vocab: Mapping[str, int], delimiter: str, end_of_retrieve: str) -> ProtocolTokens:
    """Find the protocol's tokens in a vocabulary (token string -> id), e.g. ``tokenizer.get_vocab()``.

    Tokens are matched by their vocabulary string; a leading word-start mark (``Ġ``, ``▁``) is allowed, so
    ``" [4]"`` parses too.

    Raises:
        InvalidInput: the delimiter or end token is not in the vocabulary.
    """
    missing = [name for name in (delimiter, end_of_retrieve) if name not in vocab]
    if missing:
        raise InvalidInput(f"the tokenizer has no token {', '.join(missing)}: it was not trained for interleave")
    opens, closes, joined, digits = set(), set(), set(), {}
    for token, token_id in vocab.items():
        bare = token[1:] if token[:1] in _SPACE_MARKS else token
        if bare == "[":
            opens.add(token_id)
        elif bare == "]":
            closes.add(token_id)
        elif bare == "][":
            joined.add(token_id)
        elif bare.isdigit() and bare.isascii():
            digits[token_id] = bare
    return ProtocolTokens(frozenset(opens), frozenset(closes), frozenset(joined), digits,
                          vocab[delimiter], vocab[end_of_retrieve])


class CallEnd(enum.Enum):
    """How a retrieval call ended."""

    DELIMITER = "delimiter"  # read the named documents, then route again
    END_OF_RETRIEVE = "end-of-retrieve"  # retrieval is over: the answer follows
    STRAY = "stray"  # a token outside the protocol: the model stopped naming documents (treated as the end)
    INCOMPLETE = "incomplete"  # the tokens ran out mid-call: feed more


@dataclass(frozen=True)
class RetrievalCall:
    """What one stretch of generated tokens asked for.

    Attributes:
        doc_ids: known documents named, in first-mention order, without repeats.
        unknown_ids: ids named that memory does not hold; ignored, reported here.
        ended_by: what ended the call.
        consumed: tokens read, up to and including the one that ended the call.
        malformed: positions (within the tokens read) of protocol tokens out of place, e.g. ``]`` without
            ``[``, ``[]``, digits outside brackets; they are skipped.
    """

    doc_ids: tuple[int, ...]
    unknown_ids: tuple[int, ...]
    ended_by: CallEnd
    consumed: int
    malformed: tuple[int, ...] = field(default=())


class RetrievalCallParser:
    """Reads generated token ids one at a time and reports the call once it ends.

    Use :func:`parse_retrieval_call` for a finished sequence; feed tokens here while decoding, to stop
    generating as soon as the delimiter or ``<End-of-Retrieve>`` arrives.
    """

    def __init__(self, tokens: ProtocolTokens, known_doc_ids: Collection[int]) -> None:
        self.tokens = tokens
        self.known = known_doc_ids
        self._digits: str | None = None  # digits of the id being written; None outside brackets
        self._named: list[int] = []
        self._malformed: list[int] = []
        self._position = 0

    def feed(self, token_id: int) -> RetrievalCall | None:
        """Take one token; return the call if this token ended it, else None."""
        tokens, position = self.tokens, self._position
        self._position += 1
        if token_id == tokens.delimiter:
            return self._finish(CallEnd.DELIMITER)
        if token_id == tokens.end_of_retrieve:
            return self._finish(CallEnd.END_OF_RETRIEVE)
        if token_id in tokens.open:
            if self._digits is not None:
                self._malformed.append(position)
            self._digits = ""
        elif token_id in tokens.close or token_id in tokens.close_open:
            self._close_id(position)
            self._digits = "" if token_id in tokens.close_open else None
        elif token_id in tokens.digits:
            if self._digits is None:
                self._malformed.append(position)
            else:
                self._digits += tokens.digits[token_id]
        else:
            return self._finish(CallEnd.STRAY)
        return None

    def incomplete(self) -> RetrievalCall:
        """The call so far, for when generation stopped before it ended (ids still being written are dropped)."""
        return self._result(CallEnd.INCOMPLETE)

    def _close_id(self, position: int) -> None:
        if not self._digits:
            self._malformed.append(position)
            return
        self._named.append(int(self._digits))

    def _finish(self, ended_by: CallEnd) -> RetrievalCall:
        if self._digits is not None:  # an id left open, e.g. "[4" then the delimiter
            self._malformed.append(self._position - 1)
            self._digits = None
        return self._result(ended_by)

    def _result(self, ended_by: CallEnd) -> RetrievalCall:
        named = list(dict.fromkeys(self._named))
        return RetrievalCall(
            doc_ids=tuple(doc for doc in named if doc in self.known),
            unknown_ids=tuple(doc for doc in named if doc not in self.known),
            ended_by=ended_by,
            consumed=self._position,
            malformed=tuple(self._malformed),
        )


def parse_retrieval_call(
    token_ids: Sequence[int] | Iterable[int], tokens: ProtocolTokens, known_doc_ids: Collection[int]
) -> RetrievalCall:
    """Parse the documents a model named, from its generated token ids.

    Reads up to the first token that ends a call (the delimiter, ``<End-of-Retrieve>``, or any token
    outside the protocol); ``consumed`` says how many tokens that took, so the caller can continue after.

    Args:
        token_ids: generated ids, starting where the model began naming documents.
        tokens: the protocol's ids in this tokenizer.
        known_doc_ids: the ids memory holds (anything else is reported in ``unknown_ids``).
    """
    parser = RetrievalCallParser(tokens, known_doc_ids)
    for token_id in token_ids:
        call = parser.feed(token_id)
        if call is not None:
            return call
    return parser.incomplete()
