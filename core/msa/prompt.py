"""The token layout of a sparse-generation prompt: template prefix, memory slots, question, template tail.

Prompts are built as token spans with a role per token and never re-parsed from decoded text:

    TEMPLATE prefix  the head of a user turn (``<|im_start|>user\\n`` for Qwen), encoded once per model;
                     its keys/values are what every question sees first, as in the reference.
    MEMORY           one position slot per selected document (their K̄/V̄ are keys, not tokens).
    QUERY            the question's tokens: the only ones whose router queries score memory.
    TEMPLATE tail    the end of the user turn and the assistant's head; read, but not used for routing
                     (the reference routes with the question tokens alone).
    GENERATED        the answer.

Head and tail come from the tokenizer's own chat template, split around the user message.
"""

from __future__ import annotations

import enum
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
        token_ids: [Tq] ids of the question followed by the template tail.
        roles: one role per token (QUERY, then TEMPLATE for the tail).
    """

    token_ids: torch.Tensor
    roles: tuple[TokenRole, ...]

    @property
    def query_mask(self) -> torch.Tensor:
        """[Tq] bool: the tokens whose router queries score memory."""
        return torch.tensor([role is TokenRole.QUERY for role in self.roles], dtype=torch.bool)


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


def question_prompt(tokenizer: object, frame: ChatFrame, question: str) -> QuestionPrompt:
    """Tokenize ``question`` and append the template tail.

    Raises:
        InvalidInput: the question is empty once tokenized.
    """
    query = _ids(tokenizer, question)
    if query.numel() == 0:
        raise InvalidInput("the question is empty")
    roles = (TokenRole.QUERY,) * query.numel() + (TokenRole.TEMPLATE,) * frame.tail.numel()
    return QuestionPrompt(token_ids=torch.cat([query, frame.tail]), roles=roles)


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
