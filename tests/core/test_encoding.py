"""Stage 1: batched encoding equals a naive per-document reference built from the HF model's own forward."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from memsa.core.decoder import Decoder
from memsa.core.encoding import EncodingConfig, TokenizedDocument, encode_documents, length_batches, tokenize_document
from memsa.core.errors import InvalidInput
from memsa.core.router import RouterProjectors, RouterSpec
from tests.support.tiny_models import TinyModel, random_text

LAYERS = (1, 3)


def _router(hidden: int, chunk: int) -> RouterProjectors:
    torch.manual_seed(1)
    spec = RouterSpec(layers=LAYERS, hidden_size=hidden, n_heads=2, head_dim=8, cosine=True,
                      router_chunk_tokens=chunk, model_fingerprint="test")
    router = RouterProjectors(spec)
    for layer in LAYERS:
        router.layer(layer).input_mean.normal_()
        router.layer(layer).input_std.uniform_(0.5, 2.0)
    return router


def _reference(model: torch.nn.Module, ids: np.ndarray, router: RouterProjectors, chunk: int, router_chunk: int):
    """Per document, through HF's forward and HF's own rotary helper; explicit per-chunk loops."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    input_ids = torch.from_numpy(ids)[None]
    output = model(input_ids, output_hidden_states=True)
    result = {}
    for layer in LAYERS:
        block = model.model.layers[layer]
        attention = block.self_attn
        normed = block.input_layernorm(output.hidden_states[layer])
        heads_kv = model.config.num_key_value_heads
        keys = attention.k_proj(normed).view(1, -1, heads_kv, model.config.head_dim)
        if hasattr(attention, "k_norm"):
            keys = attention.k_norm(keys)
        keys = keys.transpose(1, 2)
        cos, sin = model.model.rotary_emb(normed, torch.arange(ids.size)[None])
        _, keys = apply_rotary_pos_emb(keys, keys, cos, sin)
        keys = keys.transpose(1, 2).flatten(2)[0]
        values = attention.v_proj(normed)[0]
        n = ids.size
        pooled_k = torch.stack([keys[s : s + chunk].mean(0) for s in range(0, n, chunk)])
        pooled_v = torch.stack([values[s : s + chunk].mean(0) for s in range(0, n, chunk)])
        router_keys = torch.stack([
            router.router_keys(layer, normed[0, s : s + router_chunk].mean(0, keepdim=True))[0]
            for s in range(0, n, router_chunk)
        ])
        result[layer] = (router_keys, pooled_k, pooled_v)
    return result


@torch.no_grad()
def test_batched_encoding_matches_per_document_reference(tiny_model: TinyModel) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model.path).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model.path)
    rng = random.Random(0)
    texts = [random_text(rng, n) for n in (3, 17, 40, 64, 9, 33)]
    docs = [tokenize_document(tokenizer, text, 512) for text in texts]
    router = _router(tiny_model.hidden_size, chunk=4)
    config = EncodingConfig(chunk_tokens=8, max_document_tokens=128, batch_tokens=160)
    encoded = encode_documents(Decoder(model), router, docs, config)
    assert len(encoded) == len(docs)
    for doc, enc in zip(docs, encoded, strict=True):
        reference = _reference(model, doc.token_ids, router, chunk=8, router_chunk=4)
        assert enc.n_tokens == doc.n_tokens
        for layer in LAYERS:
            ref_router, ref_k, ref_v = reference[layer]
            torch.testing.assert_close(enc.router_keys[layer], ref_router, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(enc.pooled_keys[layer], ref_k, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(enc.pooled_values[layer], ref_v, rtol=1e-4, atol=1e-5)
        assert enc.router_chunk_spans.shape == (-(-doc.n_tokens // 4), 2)


def test_chunk_spans_point_at_the_chunk_text(tiny_llama: TinyModel) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama.path)
    text = "alpha bravo charlie delta echo foxtrot golf hotel india"
    doc = tokenize_document(tokenizer, text, 64)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama.path).eval()
    (encoded,) = encode_documents(Decoder(model), _router(64, chunk=4), [doc], EncodingConfig(chunk_tokens=4))
    starts_ends = [text[s:e] for s, e in encoded.router_chunk_spans]
    assert starts_ends == ["alpha bravo charlie delta", "echo foxtrot golf hotel", "india"]


def test_length_batches_respect_budget_and_cover_all() -> None:
    lengths = [5, 100, 7, 64, 64, 1, 99]
    batches = list(length_batches(lengths, batch_tokens=200))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert max(lengths[i] for i in batch) * len(batch) <= 200 or len(batch) == 1


def test_too_long_and_empty_documents_are_refused(tiny_llama: TinyModel) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama.path)
    with pytest.raises(InvalidInput, match="exceeds"):
        tokenize_document(tokenizer, "alpha " * 50, 10)
    with pytest.raises(InvalidInput, match="empty"):
        tokenize_document(tokenizer, "   ", 10)


def test_encoding_config_rejects_nonsense() -> None:
    with pytest.raises(InvalidInput):
        EncodingConfig(chunk_tokens=0)
    with pytest.raises(InvalidInput):
        EncodingConfig(max_document_tokens=4096, batch_tokens=100)


def test_tokenized_document_length() -> None:
    doc = TokenizedDocument(token_ids=np.arange(5), char_spans=np.zeros((5, 2), dtype=np.int64))
    assert doc.n_tokens == 5
