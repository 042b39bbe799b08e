"""The model's own say on stopping: one constrained yes/no question after a round, read from two logits.

Generating a free-text verdict would cost a decode loop and need parsing; instead the passages read so far
and the question go through one forward pass, and the next-token logits of "Yes" and "No" are compared.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..answering import Citation
from ..errors import InvalidInput

CHECK_PROMPT = (
    "Read the numbered memory passages. Do they state everything needed to answer the question, "
    "including every intermediate person or thing it depends on? Reply Yes or No."
)


class SufficiencyJudge:
    """``judge(question, citations) -> bool``: whether the model says the passages answer the question.

    Args:
        model: a causal LM returning ``.logits`` [1, T, V].
        tokenizer: its tokenizer, with a chat template.
        margin: how much the "Yes" logit must exceed the "No" logit (0: plain argmax between the two).
    """

    def __init__(self, model: torch.nn.Module, tokenizer: object, margin: float = 0.0) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.margin = margin
        self.yes_ids = _first_token_ids(tokenizer, ("Yes", " Yes", "yes"))
        self.no_ids = _first_token_ids(tokenizer, ("No", " No", "no"))
        if set(self.yes_ids) & set(self.no_ids):
            raise InvalidInput("this tokenizer spells Yes and No with the same token; the model check cannot work")

    @torch.inference_mode()
    def __call__(self, question: str, citations: Sequence[Citation]) -> bool:
        passages = "\n\n".join(f"[{citation.doc_id}] {citation.snippet}" for citation in citations)
        messages = [
            {"role": "system", "content": CHECK_PROMPT},
            {"role": "user", "content": f"Memory passages:\n\n{passages}\n\nQuestion: {question}"},
        ]
        prompt = self.tokenizer.apply_chat_template(  # type: ignore[attr-defined]
            messages, tokenize=False, add_generation_prompt=True
        )
        ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]  # type: ignore[operator]
        device = next(self.model.parameters()).device
        logits = self.model(input_ids=ids.to(device)).logits[0, -1].float()
        return float(logits[self.yes_ids].max() - logits[self.no_ids].max()) > self.margin


def _first_token_ids(tokenizer: object, spellings: Sequence[str]) -> list[int]:
    """The first token id of each spelling (a word may be one token or start with one)."""
    ids = {tokenizer(text, add_special_tokens=False)["input_ids"][0] for text in spellings}  # type: ignore[operator]
    return sorted(ids)
