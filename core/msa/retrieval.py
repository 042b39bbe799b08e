"""One interleave round of a model trained with the MSA protocol, run over sparse generation.

The model reads memory through a routed prefill, then writes the ids of the documents it wants
(``[4][12]`` + ``<|object_ref_end|>``) or ``<End-of-Retrieve>``. Its tokens are fed one by one to the
interleave package's token-level parser (``interleave.protocol``), so decoding stops on the very token
that ends the call. The next round's prompt is built with ``prompt.question_prompt(..., rounds=...)``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import torch

from ..interleave.protocol import ProtocolTokens, RetrievalCall, RetrievalCallParser, protocol_tokens_from_vocab
from .prompt import QuestionPrompt
from .selection import MemorySource
from .sparse import SparseGenerator, SparseState

DELIMITER = "<|object_ref_end|>"
END_OF_RETRIEVE = "<End-of-Retrieve>"


@dataclass
class ModelCall:
    """What the model asked for in one round, and where decoding stands.

    Attributes:
        call: the parsed request (documents named, unknown ids, how it ended).
        token_ids: the tokens the model wrote this round, the ending token included.
        state: the compact cache after the routed prefill and those tokens except the last; the answer
            continues from here once the call ended with ``<End-of-Retrieve>``.
    """

    call: RetrievalCall
    token_ids: list[int]
    state: SparseState


def msa_protocol_tokens(tokenizer: object) -> ProtocolTokens:
    """The protocol's token ids in an MSA checkpoint's tokenizer.

    Raises:
        InvalidInput: the tokenizer lacks the delimiter or ``<End-of-Retrieve>``.
    """
    vocab = tokenizer.get_vocab()  # type: ignore[attr-defined]
    return protocol_tokens_from_vocab(vocab, DELIMITER, END_OF_RETRIEVE)


def read_retrieval_call(generator: SparseGenerator, prompt: QuestionPrompt, memory: MemorySource,
                        tokens: ProtocolTokens, known_doc_ids: Collection[int], max_new_tokens: int) -> ModelCall:
    """Prefill ``prompt`` over ``memory`` and decode greedily until the model's retrieval call ends.

    Args:
        generator: sparse generation for the model.
        prompt: the question (and earlier rounds).
        memory: what the router layers read.
        tokens: the protocol's ids in this tokenizer (:func:`msa_protocol_tokens`).
        known_doc_ids: ids memory holds; others are reported as unknown and ignored.
        max_new_tokens: decoding budget for the call; past it the call is INCOMPLETE.
    """
    logits, state = generator.prefill(prompt, memory, max_new_tokens)
    parser = RetrievalCallParser(tokens, known_doc_ids)
    written: list[int] = []
    for token in generator.greedy(state, logits, max_new_tokens):
        written.append(token)
        call = parser.feed(token)
        if call is not None:
            return ModelCall(call=call, token_ids=written, state=state)
    return ModelCall(call=parser.incomplete(), token_ids=written, state=state)


def continue_answer(generator: SparseGenerator, model_call: ModelCall, max_new_tokens: int,
                    stop_token_ids: Collection[int] = ()) -> list[int]:
    """The greedy answer after a call, decoded over the same compact cache (memory is not read again)."""
    with torch.inference_mode():
        logits = generator.decode_step(model_call.state, model_call.token_ids[-1])
    return list(generator.greedy(model_call.state, logits, max_new_tokens, stop_token_ids))
