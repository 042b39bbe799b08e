"""An MSA model's memory carries each document's id: the id encoded is the id stored, and ids never repeat."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from memsa.core.encoding import encode_documents, tokenize_document
from memsa.core.engine import DocumentText, MemoryEngine
from memsa.core.errors import InvalidInput
from memsa.core.memory.records import NewDocument, SourceInfo
from memsa.core.msa.memory_text import marked_document, memory_document
from tests.core.msa.conftest import msa_settings, open_with_notes
from tests.core.msa.tiny_msa import NOTES, TinyMsa

TEXT = "the wifi password at the lake cabin is tango 4 2 ."


def _encoded_as(engine: MemoryEngine, text: str, doc_id: int) -> dict[int, torch.Tensor]:
    """K̄ per router layer of ``text`` encoded inside the marker of ``doc_id``, as the bank stores it (float16)."""
    tokens = marked_document(engine.loaded.tokenizer, text, doc_id, engine.settings.encoding.max_document_tokens)
    encoding = encode_documents(engine.decoder, engine.router, [tokens], engine.settings.encoding)[0]
    return {layer: keys.half() for layer, keys in encoding.pooled_keys.items()}


def _stored(engine: MemoryEngine, doc_id: int) -> dict[int, torch.Tensor]:
    return {layer: engine.bank.pooled_kv(layer, doc_id)[0] for layer in engine.router.spec.layers}


def _matches(stored: dict[int, torch.Tensor], expected: dict[int, torch.Tensor]) -> bool:
    return all(
        stored[layer].shape == expected[layer].shape and torch.allclose(stored[layer].float(), expected[layer].float(),
                                                                        atol=2e-3)
        for layer in stored
    )


def _remember(engine: MemoryEngine, path: str, text: str) -> int:
    source = SourceInfo(path=path, content_hash=text, mtime_ns=1, size=len(text))
    (doc_id,) = engine.remember(source, [DocumentText(text=text, start=0, end=len(text))]).doc_ids
    return doc_id


def test_the_marker_wraps_the_text_and_offsets_stay_in_it(engine: MemoryEngine) -> None:
    tokenizer = engine.loaded.tokenizer
    marked = marked_document(tokenizer, TEXT, 7, 64)
    ids = tokenizer.convert_tokens_to_ids
    assert marked.token_ids[:4].tolist() == [ids("<|im_start|>"), ids("["), ids("7"), ids("]")]
    assert marked.token_ids[-4:].tolist() == [ids("["), ids("7"), ids("]"), ids("<|im_end|>")]
    bare = tokenize_document(tokenizer, TEXT, 64)
    inner = slice(5, 5 + bare.n_tokens)  # after "<|im_start|>", "[", "7", "]", "."
    assert marked.token_ids[inner].tolist() == bare.token_ids.tolist()
    assert marked.char_spans[inner].tolist() == bare.char_spans.tolist()
    assert marked.char_spans.min() >= 0 and marked.char_spans.max() <= len(TEXT)
    with pytest.raises(InvalidInput, match="with its id"):
        marked_document(tokenizer, TEXT, 7, bare.n_tokens)
    assert memory_document(tokenizer, TEXT, 64, None).token_ids.tolist() == bare.token_ids.tolist()


def test_the_id_encoded_is_the_id_stored_also_after_forget_and_remember(tiny_cosine_msa: TinyMsa,
                                                                       tmp_path: Path) -> None:
    with open_with_notes(tiny_cosine_msa, tmp_path) as engine:
        for doc_id, text in enumerate(NOTES, start=1):
            stored = _stored(engine, doc_id)
            assert _matches(stored, _encoded_as(engine, text, doc_id))
            assert not _matches(stored, _encoded_as(engine, text, doc_id % len(NOTES) + 1))
        assert engine.forget("/notes/5.md") == 1  # document 6
        again = _remember(engine, "/notes/5.md", NOTES[5])
        assert again == 7 and _matches(_stored(engine, again), _encoded_as(engine, NOTES[5], 7))
        # A reservation that is never stored is skipped, never handed out again.
        assert engine.bank.reserve_document_ids(1) == [8]
    with MemoryEngine.open(msa_settings(tiny_cosine_msa, tmp_path)) as reopened:
        assert _remember(reopened, "/notes/new.md", TEXT) == 9
        assert _matches(_stored(reopened, 9), _encoded_as(reopened, TEXT, 9))


def test_reencoding_writes_each_document_its_own_id(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    with open_with_notes(tiny_cosine_msa, tmp_path) as engine:
        before = {doc_id: _stored(engine, doc_id) for doc_id in range(1, len(NOTES) + 1)}
    with MemoryEngine.open(msa_settings(tiny_cosine_msa, tmp_path), adopt_identity=True) as engine:
        engine.bank._index.clear_encodings()  # as adopting another model's bank does
        assert engine.reencode() == len(NOTES)
        for doc_id, keys in before.items():
            assert _matches(_stored(engine, doc_id), keys)


def test_the_bank_stores_only_ids_it_reserved(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    with MemoryEngine.open(msa_settings(tiny_cosine_msa, tmp_path)) as engine:
        bank = engine.bank
        source = SourceInfo(path="/notes/x.md", content_hash="x", mtime_ns=1, size=1)
        with pytest.raises(InvalidInput, match="not reserved"):
            bank.put_source(source, [NewDocument(text=TEXT, start=0, end=1, title="", encoding=None, doc_id=5)])
        first, second = bank.reserve_document_ids(2)
        assert bank.put_source(source, [NewDocument(text=TEXT, start=0, end=1, title="", encoding=None,
                                                    doc_id=second)]) == [second]
        with pytest.raises(InvalidInput, match="not reserved"):  # stored ids are no longer reserved
            bank.put_source(source, [NewDocument(text=TEXT, start=0, end=1, title="", encoding=None,
                                                 doc_id=second)])
        # Without an id the bank assigns the next one past every reservation.
        assert bank.put_source(source, [NewDocument(text=TEXT, start=0, end=1, title="", encoding=None)]) == [
            second + 1]
        assert first < second


def test_the_memory_format_is_part_of_the_bank_identity(engine: MemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    router = engine.router
    assert engine.bank.identity.router_fingerprint == router.fingerprint()
    monkeypatch.setattr("memsa.core.msa.router.MEMORY_FORMAT", "bare-text")
    assert router.fingerprint() != engine.bank.identity.router_fingerprint
