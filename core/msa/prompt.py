"""The token layout of a sparse-generation prompt: template prefix, memory slots, question, template tail.

Prompts are built as token spans with a role per token and never re-parsed from decoded text:

    TEMPLATE prefix  the head of a user turn (``<|im_start|>user\\n`` for Qwen), encoded once per model;
                     its keys/values are what every question sees first, as in the reference.
    MEMORY           one position slot per selected document (their K̄/V̄ are keys, not tokens).
    QUERY            the question's tokens: their router queries score memory.
    TEMPLATE tail    the end of the user turn and the assistant's head; read, but not used for routing
                     (the reference routes with the question tokens alone).
    GENERATED        what the model wrote: a retrieval call (``[4][12]`` + delimiter) or the answer.
    EVIDENCE         the original text of the documents a call named (``[4]. text``), then the delimiter;
                     the latest round's evidence routes together with the question, so a second hop can
                     be found through an entity the first one named.

Head and tail come from the tokenizer's own chat template, split around the user message. The question
text is the caller's: the published model was trained with an instruction around the question (answer from
the documents above, name the related ones), which belongs to whoever drives the interleave rounds.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..errors import InvalidInput

_MARK = "\x00memsa-question\x00"


class TokenRole(enum.Enum):
    """What a position of a sparse-generation prompt holds."""

    TEMPLATE = "template"
    MEMORY = "memory"
    QUERY = "query"
    EVIDENCE = "evidence"
    GENERATED = "generated"


@dataclass(frozen=True)
class ChatFrame:
    """The chat template around a user message, as token ids.

    Attributes:
        prefix: [P] ids before the user's text (the template prefix).
        tail: [T] ids after it, up to where the assistant starts writing.
    """

    prefix: torch.Tensor
    tail: torch.Tensor


@dataclass(frozen=True)
class QuestionPrompt:
    """The question side of a sparse prefill.

    Attributes:
        token_ids: [Tq] ids: the question, the template tail, then any earlier rounds' calls and evidence.
        roles: one role per token.
        routes: one flag per token: whether its router query scores memory.
    """

    token_ids: torch.Tensor
    roles: tuple[TokenRole, ...]
    routes: tuple[bool, ...]

    def __post_init__(self) -> None:
        if not self.token_ids.numel() == len(self.roles) == len(self.routes):
            raise InvalidInput("a prompt needs exactly one role and one routing flag per token")
        if not any(self.routes):
            raise InvalidInput("a prompt needs at least one token that routes")

    @property
    def query_mask(self) -> torch.Tensor:
        """[Tq] bool: the tokens whose router queries score memory."""
        return torch.tensor(self.routes, dtype=torch.bool)


@dataclass(frozen=True)
class EvidenceRound:
    """One earlier interleave round: what the model wrote, and the documents that were then read to it.

    Attributes:
        call_token_ids: the model's retrieval call as it wrote it (ids, then the delimiter).
        documents: (document id, original text) of each document read, in the order shown.
    """

    call_token_ids: tuple[int, ...]
    documents: tuple[tuple[int, str], ...]


def chat_frame(tokenizer: object) -> ChatFrame:
    """Split the tokenizer's chat template around one user message.

    Raises:
        InvalidInput: the tokenizer has no chat template, or the template loses the message.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidInput("the model's tokenizer has no chat template; sparse generation needs one")
    text = tokenizer.apply_chat_template(  # type: ignore[attr-defined]
        [{"role": "user", "content": _MARK}], tokenize=False, add_generation_prompt=True
    )
    if text.count(_MARK) != 1:
        raise InvalidInput("the model's chat template does not place the user message once")
    head, tail = text.split(_MARK)
    return ChatFrame(prefix=_ids(tokenizer, head), tail=_ids(tokenizer, tail))


def question_prompt(tokenizer: object, frame: ChatFrame, question: str, rounds: Sequence[EvidenceRound] = (),
                    delimiter: int | None = None) -> QuestionPrompt:
    """Tokenize ``question``, append the template tail, then every earlier round's call and evidence.

    Args:
        rounds: earlier interleave rounds, oldest first; each one's evidence is shown as ``[id]. text``
            lines followed by ``delimiter``. Only the latest round's evidence routes with the question.
        delimiter: the token closing a round's evidence (``<|object_ref_end|>``); needed with ``rounds``.

    Raises:
        InvalidInput: the question is empty once tokenized, or rounds come without a delimiter.
    """
    query = _ids(tokenizer, question)
    if query.numel() == 0:
        raise InvalidInput("the question is empty")
    if rounds and delimiter is None:
        raise InvalidInput("evidence rounds need the delimiter token that closes them")
    pieces = [query, frame.tail]
    roles = [TokenRole.QUERY] * query.numel() + [TokenRole.TEMPLATE] * frame.tail.numel()
    routes = [True] * query.numel() + [False] * frame.tail.numel()
    for number, evidence_round in enumerate(rounds, start=1):
        call = torch.tensor(evidence_round.call_token_ids, dtype=torch.long)
        shown = "".join(f"[{doc_id}]. {text}\n" for doc_id, text in evidence_round.documents)
        evidence = torch.cat([_ids(tokenizer, shown), torch.tensor([delimiter], dtype=torch.long)])
        pieces += [call, evidence]
        roles += [TokenRole.GENERATED] * call.numel() + [TokenRole.EVIDENCE] * evidence.numel()
        routes += [False] * call.numel() + [number == len(rounds)] * evidence.numel()
    return QuestionPrompt(token_ids=torch.cat(pieces), roles=tuple(roles), routes=tuple(routes))


def question_positions(n_prefix: int, n_selected: int, n_tokens: int, start: int = 0) -> torch.Tensor:
    """RoPE positions of question tokens: after the prefix plus one slot per selected document.

    Args:
        n_prefix: template prefix tokens (positions 0..n_prefix-1).
        n_selected: documents each router layer selects.
        n_tokens: question-side tokens to place.
        start: how many question-side tokens precede these (for decoding).

    Returns:
        [n_tokens] int64.
    """
    first = n_prefix + n_selected + start
    return torch.arange(first, first + n_tokens)


def _ids(tokenizer: object, text: str) -> torch.Tensor:
    encoded = tokenizer(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    return torch.tensor(encoded, dtype=torch.long)
