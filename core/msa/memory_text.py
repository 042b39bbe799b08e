"""How a document is written into an MSA model's memory: inside its id marker, so the model can name it.

A model trained with the MSA protocol saw every memory document as a chat turn of its own carrying its id
before and after the text, ``<|im_start|>[17]. text[17]<|im_end|>``; to have a document read, it writes the
id back (``[17]`` then the delimiter, see ``retrieval.py``). The id is part of what is encoded, so it must be
known before encoding, while the bank assigns ids when it stores documents. The engine therefore takes the
ids first: ``MemoryBank.reserve_document_ids`` advances the documents' AUTOINCREMENT sequence past them, the
documents are encoded with their markers, and ``put_source`` stores each under exactly the id it was
encoded with (``NewDocument.doc_id``). An id is never given out twice: not after a forget (AUTOINCREMENT
never goes back), and not after an encoding that failed between reservation and storage (its id is
skipped). Re-encoding a stored document (after a model change) writes its own stored id.

Models not trained with the protocol (the default) encode the text alone; :func:`memory_document` is the
one switch. Token offsets stay in the document text's coordinates: the marker's tokens map to its edges, so
chunk spans and citations point into the text as they do without a marker.
"""

from __future__ import annotations

import numpy as np

from ..encoding import TokenizedDocument, tokenize_document
from ..errors import InvalidInput

TURN_START = "<|im_start|>"
TURN_END = "<|im_end|>"
# Names how documents are written into memory; part of an MSA bank's identity (``MsaRouter.fingerprint``).
MEMORY_FORMAT = "turn-with-id-marker"


def marker_head(doc_id: int) -> str:
    """What precedes a document's text in memory: the turn start and ``[id]. ``."""
    return f"{TURN_START}[{doc_id}]. "


def marker_tail(doc_id: int) -> str:
    """What follows a document's text in memory: ``[id]`` and the turn end."""
    return f"[{doc_id}]{TURN_END}"


def marked_document(tokenizer: object, text: str, doc_id: int, max_tokens: int) -> TokenizedDocument:
    """Tokenize ``text`` inside the id marker of document ``doc_id``, as one string (as the model read it).

    Character spans are offsets into ``text``: marker tokens get empty spans at its start or end.

    Raises:
        InvalidInput: the text is empty, or the marked document exceeds ``max_tokens``.
    """
    if not text:
        raise InvalidInput("cannot encode an empty document")
    head = marker_head(doc_id)
    encoded = tokenizer(  # type: ignore[operator]
        head + text + marker_tail(doc_id), add_special_tokens=False, return_offsets_mapping=True
    )
    token_ids = np.asarray(encoded["input_ids"], dtype=np.int64)
    if token_ids.size > max_tokens:
        raise InvalidInput(f"document of {token_ids.size} tokens (with its id) exceeds the {max_tokens}-token limit")
    spans = np.clip(np.asarray(encoded["offset_mapping"], dtype=np.int64) - len(head), 0, len(text))
    return TokenizedDocument(token_ids=token_ids, char_spans=spans)


def memory_document(tokenizer: object, text: str, max_tokens: int, doc_id: int | None) -> TokenizedDocument:
    """The tokens a document is encoded from: marked with ``doc_id`` for an MSA model, the bare text when
    ``doc_id`` is None (models not trained to name documents)."""
    if doc_id is None:
        return tokenize_document(tokenizer, text, max_tokens)
    return marked_document(tokenizer, text, doc_id, max_tokens)
