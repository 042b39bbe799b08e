"""Stage 1: encode memory documents, each alone from position 0, into pooled router-layer tensors.

Batching packs several documents into one forward pass as rows of similar length, right-padded. With
causal attention a padded row is exactly a block of its own, so this equals block-diagonal packing of
the same documents while keeping the fused ``is_causal`` attention path; sorting by length keeps the
padding small, where one long packed row with an explicit block-diagonal mask would make the CPU
attention kernel compute (and discard) every cross-document score.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .decoder import Decoder, LayerCapture
from .errors import InvalidInput
from .memory.records import EncodedDocument
from .pooling import chunk_count, chunk_mean
from .router import RouterProjectors


@dataclass(frozen=True)
class EncodingConfig:
    """How documents are cut and batched for stage 1.

    Attributes:
        chunk_tokens: P, tokens per pooled K̄/V̄ row (MSA uses 64). Router keys use the router's own
            P_r (``RouterSpec.router_chunk_tokens``), finer for a frozen backbone whose planted sentence
            would be averaged away in 64-token chunks.
        max_document_tokens: longest document encoded; longer ones are refused (split them first).
        batch_tokens: padded tokens per forward pass (B * longest row), bounding activation memory.
    """

    chunk_tokens: int = 64
    max_document_tokens: int = 4096
    batch_tokens: int = 8192

    def __post_init__(self) -> None:
        for name in ("chunk_tokens", "max_document_tokens", "batch_tokens"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{name} must be a positive number of tokens")
        if self.batch_tokens < self.max_document_tokens:
            raise InvalidInput("batch_tokens must be at least max_document_tokens")


@dataclass(frozen=True)
class TokenizedDocument:
    """A document's token ids and each token's character span in its text.

    Attributes:
        token_ids: [T] int64.
        char_spans: [T, 2] int64, [start, end) of each token in the text.
    """

    token_ids: np.ndarray
    char_spans: np.ndarray

    @property
    def n_tokens(self) -> int:
        return int(self.token_ids.shape[0])


def tokenize_document(tokenizer: object, text: str, max_tokens: int) -> TokenizedDocument:
    """Tokenize ``text`` without special tokens, keeping character offsets for citations.

    Raises:
        InvalidInput: the text is empty or longer than ``max_tokens``.
    """
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)  # type: ignore[operator]
    token_ids = np.asarray(encoded["input_ids"], dtype=np.int64)
    if token_ids.size == 0:
        raise InvalidInput("cannot encode an empty document")
    if token_ids.size > max_tokens:
        raise InvalidInput(f"document of {token_ids.size} tokens exceeds the {max_tokens}-token limit")
    return TokenizedDocument(token_ids=token_ids, char_spans=np.asarray(encoded["offset_mapping"], dtype=np.int64))


def length_batches(lengths: Sequence[int], batch_tokens: int) -> Iterator[list[int]]:
    """Group document indices into batches of similar length whose padded size fits ``batch_tokens``.

    Sorting by length keeps right-padding waste small; order inside the output is by length.
    """
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    batch: list[int] = []
    for index in order:
        longest = max(lengths[index], max((lengths[i] for i in batch), default=0))
        if batch and longest * (len(batch) + 1) > batch_tokens:
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def encode_documents(
    decoder: Decoder,
    router: RouterProjectors,
    documents: Sequence[TokenizedDocument],
    config: EncodingConfig,
) -> list[EncodedDocument]:
    """Encode each document alone (document-wise RoPE) and pool its router-layer tensors.

    Args:
        decoder: the frozen backbone.
        router: projectors for every router layer (their layers are the layers captured).
        documents: tokenized documents, each at most ``config.max_document_tokens`` long.
        config: pooling sizes and batch budget.

    Returns:
        One EncodedDocument per input, in input order.
    """
    layers = router.spec.layers
    results: list[EncodedDocument | None] = [None] * len(documents)
    pad_id = 0
    for batch in length_batches([doc.n_tokens for doc in documents], config.batch_tokens):
        longest = max(documents[i].n_tokens for i in batch)
        input_ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
        for row, index in enumerate(batch):
            tokens = documents[index].token_ids
            input_ids[row, : tokens.size] = torch.from_numpy(tokens)
        captured = decoder.capture(input_ids, layers)
        for row, index in enumerate(batch):
            document = documents[index]
            results[index] = _pool_document(
                {layer: _row(capture_item, row, document.n_tokens) for layer, capture_item in captured.items()},
                document,
                router,
                config,
            )
    return [result for result in results if result is not None]


def _row(capture: LayerCapture, row: int, n_tokens: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    normed, keys, values = capture.normed_input, capture.keys, capture.values
    return normed[row, :n_tokens], keys[row, :n_tokens].flatten(1), values[row, :n_tokens].flatten(1)


def _pool_document(
    per_layer: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    document: TokenizedDocument,
    router: RouterProjectors,
    config: EncodingConfig,
) -> EncodedDocument:
    """Pool one document's captured tensors: ``per_layer[layer] = (h [T, hidden], K [T, kv], V [T, kv])``."""
    # P_r belongs to the router: its projectors were trained on chunks of exactly that size.
    router_chunk_tokens = router.spec.router_chunk_tokens
    router_keys, pooled_keys, pooled_values = {}, {}, {}
    for layer, (normed, keys, values) in per_layer.items():
        router_keys[layer] = router.router_keys(layer, chunk_mean(normed, router_chunk_tokens)).cpu()
        pooled_keys[layer] = chunk_mean(keys, config.chunk_tokens).cpu()
        pooled_values[layer] = chunk_mean(values, config.chunk_tokens).cpu()
    return EncodedDocument(
        n_tokens=document.n_tokens,
        router_keys=router_keys,
        pooled_keys=pooled_keys,
        pooled_values=pooled_values,
        router_chunk_spans=chunk_char_spans(document.char_spans, router_chunk_tokens),
    )


def chunk_char_spans(token_spans: np.ndarray, chunk_tokens: int) -> np.ndarray:
    """``token_spans: [T, 2]`` -> ``[ceil(T / P), 2]`` character span of each chunk."""
    n_chunks = chunk_count(token_spans.shape[0], chunk_tokens)
    starts = token_spans[::chunk_tokens, 0]
    last_tokens = np.minimum(np.arange(1, n_chunks + 1) * chunk_tokens, token_spans.shape[0]) - 1
    ends = token_spans[last_tokens, 1]
    return np.stack([starts, ends], axis=1).astype(np.int64)
