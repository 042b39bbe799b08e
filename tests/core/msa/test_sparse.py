"""Sparse generation on a tiny MSA checkpoint: the fast path equals the reference path token for token."""

from __future__ import annotations

from pathlib import Path

import torch

from memsa.core.encoding import encode_documents
from memsa.core.engine import DocumentText, MemoryEngine
from memsa.core.memory.records import RouterKeyMatrix, SourceInfo
from memsa.core.msa.memory_text import marked_document
from memsa.core.msa.prompt import TokenRole, chat_frame, question_positions, question_prompt
from memsa.core.msa.reference import generate_reference, visibility_mask
from memsa.core.msa.router import MsaRouter
from memsa.core.msa.selection import MemorySource
from memsa.core.msa.tensor_memory import TensorMemory
from memsa.core.settings import EngineSettings
from tests.core.msa.tiny_msa import NOTES, TinyMsa

QUESTION = "what is the wifi password at the cabin ?"
NEW_TOKENS = 10


def _router(engine: MemoryEngine) -> MsaRouter:
    assert isinstance(engine.router, MsaRouter)
    return engine.router


def test_fast_path_matches_the_reference_token_for_token(any_engine: MemoryEngine) -> None:
    engine = any_engine
    generator = engine.sparse_generator
    prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
    fast = generator.generate(prompt, engine.bank, NEW_TOKENS)
    slow = generate_reference(engine.decoder, _router(engine), generator.frame, prompt, engine.bank,
                              generator.top_k, NEW_TOKENS)
    assert fast.token_ids == slow.token_ids
    assert len(set(fast.token_ids)) > 2  # a real continuation, not one token repeated
    assert set(fast.selections) == set(slow.selections) == set(engine.router.spec.layers)
    for layer, selection in fast.selections.items():
        assert selection.doc_ids == slow.selections[layer].doc_ids
        assert len(selection.doc_ids) == engine.settings.top_k
        torch.testing.assert_close(torch.tensor(selection.scores), torch.tensor(slow.selections[layer].scores))


def test_prefill_logits_match_the_reference(engine: MemoryEngine) -> None:
    from memsa.core.msa.reference import _full_forward

    generator = engine.sparse_generator
    prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
    fast_logits, _ = generator.prefill(prompt, engine.bank, 1)
    slow_logits, _ = _full_forward(engine.decoder, _router(engine), generator.frame, prompt, [], engine.bank,
                                   generator.top_k, generator.selected_count(engine.bank))
    torch.testing.assert_close(fast_logits, slow_logits, rtol=1e-4, atol=1e-4)


class _BlankedMemory:
    """The same routing, but every K̄/V̄ row zeroed: what the model would see if it ignored memory contents."""

    def __init__(self, memory: MemorySource) -> None:
        self.memory = memory

    def router_keys(self, layer: int) -> RouterKeyMatrix:
        return self.memory.router_keys(layer)

    def pooled_kv(self, layer: int, doc_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.memory.pooled_kv(layer, doc_id)
        return torch.zeros_like(keys), torch.zeros_like(values)


def test_the_answer_reads_the_selected_memory(engine: MemoryEngine) -> None:
    generator = engine.sparse_generator
    prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
    with_memory, state = generator.prefill(prompt, engine.bank, 1)
    blanked, _ = generator.prefill(prompt, _BlankedMemory(engine.bank), 1)
    assert not torch.allclose(with_memory, blanked, atol=1e-3)
    n_prefix, n_question = generator.frame.prefix.numel(), prompt.token_ids.numel()
    for layer, cache in enumerate(state.caches):
        if layer in state.selections:
            chunks = sum(engine.bank.pooled_kv(layer, doc)[0].shape[0] for doc in state.selections[layer].doc_ids)
            assert cache.length == n_prefix + chunks + n_question
        else:  # lower layers see the template prefix and the question only
            assert cache.length == n_prefix + n_question
    assert state.next_position == n_prefix + engine.settings.top_k + n_question


def test_a_stop_token_ends_the_answer(engine: MemoryEngine) -> None:
    generator = engine.sparse_generator
    prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
    free = generator.generate(prompt, engine.bank, NEW_TOKENS).token_ids
    stop = free[3]
    stopped = generator.generate(prompt, engine.bank, NEW_TOKENS, stop_token_ids={stop}).token_ids
    assert stopped == free[: free.index(stop) + 1]


def test_an_in_memory_copy_answers_like_the_bank(engine: MemoryEngine) -> None:
    tokenizer, config = engine.loaded.tokenizer, engine.settings.encoding
    # Memory documents carry their ids (1..6, the order they were stored in).
    documents = [marked_document(tokenizer, text, doc_id, config.max_document_tokens)
                 for doc_id, text in enumerate(NOTES, start=1)]
    memory = TensorMemory.from_encodings(encode_documents(engine.decoder, engine.router, documents, config))
    generator = engine.sparse_generator
    prompt = question_prompt(tokenizer, generator.frame, QUESTION)
    in_memory = generator.generate(prompt, memory, NEW_TOKENS)
    banked = generator.generate(prompt, engine.bank, NEW_TOKENS)
    assert in_memory.token_ids == banked.token_ids
    bank_ids = engine.bank.document_ids("/notes/0.md") + engine.bank.document_ids("/notes/5.md")
    assert bank_ids == [1, 6]  # documents were stored in order, so ids agree across the two memories
    assert {layer: s.doc_ids for layer, s in in_memory.selections.items()} == {
        layer: s.doc_ids for layer, s in banked.selections.items()
    }


def test_fewer_documents_than_k_leave_fewer_slots(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    settings = EngineSettings(data_dir=tmp_path, model=str(tiny_cosine_msa.path))
    with MemoryEngine.open(settings) as engine:
        engine.remember(SourceInfo("/one.md", "1", 1, 5), [DocumentText(NOTES[0], 0, len(NOTES[0]))])
        generator = engine.sparse_generator
        assert generator.top_k == 2 and generator.selected_count(engine.bank) == 1
        prompt = question_prompt(engine.loaded.tokenizer, generator.frame, QUESTION)
        fast = generator.generate(prompt, engine.bank, 4)
        slow = generate_reference(engine.decoder, _router(engine), generator.frame, prompt, engine.bank, 2, 4)
        assert fast.token_ids == slow.token_ids
        assert all(selection.doc_ids == (1,) for selection in fast.selections.values())


def test_the_prompt_is_built_from_the_chat_template(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    from memsa.core.models import load_model, resolve_model

    tokenizer = load_model(resolve_model(tiny_cosine_msa.path), cache_dir=tmp_path).tokenizer
    frame = chat_frame(tokenizer)
    ids = tokenizer.convert_tokens_to_ids
    assert frame.prefix.tolist() == [ids("<|im_start|>"), ids("user")]
    assert frame.tail.tolist() == [ids("<|im_end|>"), ids("<|im_start|>"), ids("assistant")]
    prompt = question_prompt(tokenizer, frame, "wifi password ?")
    assert prompt.roles == (TokenRole.QUERY,) * 3 + (TokenRole.TEMPLATE,) * 3
    assert prompt.query_mask.tolist() == [True] * 3 + [False] * 3
    assert question_positions(n_prefix=2, n_selected=16, n_tokens=3).tolist() == [18, 19, 20]


def test_visibility_mask_spells_out_who_sees_what() -> None:
    mask = visibility_mask(n_prefix=2, n_memory=3, n_rest=2).int()
    assert mask.tolist() == [
        [1, 0, 0, 0, 0, 0, 0],  # prefix token 0: itself
        [1, 1, 0, 0, 0, 0, 0],  # prefix token 1: the prefix so far, no memory
        [1, 1, 1, 1, 1, 1, 0],  # question token 0: prefix, every memory slot, itself
        [1, 1, 1, 1, 1, 1, 1],
    ]
