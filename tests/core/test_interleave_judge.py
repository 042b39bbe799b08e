"""The model's yes/no check: one forward pass, the "Yes" and "No" logits compared, on a tiny tokenizer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from memsa.core.answering import Citation
from memsa.core.errors import InvalidInput
from memsa.core.interleave.judge import SufficiencyJudge
from tests.support.tiny_models import CHAT_TEMPLATE, SPECIALS, WORDS

CITATIONS = [Citation(doc_id=3, path="/notes/a.md", start=0, end=20, score=0.5, snippet="the manager is at the office")]


class FixedLogits(torch.nn.Module):
    """A stand-in model whose next-token logits favour one token id; records the prompt it was given."""

    def __init__(self, vocab: int, favoured: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.vocab, self.favoured = vocab, favoured
        self.prompts: list[torch.Tensor] = []

    def forward(self, input_ids: torch.Tensor) -> SimpleNamespace:
        self.prompts.append(input_ids)
        logits = torch.zeros(1, input_ids.shape[1], self.vocab)
        logits[0, -1, self.favoured] = 5.0
        return SimpleNamespace(logits=logits)


def word_tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    core = Tokenizer(models.WordLevel(vocab={word: index for index, word in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", eos_token="<|im_end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def test_the_check_follows_the_yes_and_no_logits() -> None:
    tokenizer = word_tokenizer(SPECIALS + WORDS + ["Yes", "No", "yes", "no"])
    vocab = len(tokenizer)
    probe = SufficiencyJudge(FixedLogits(vocab, 0), tokenizer)
    yes, no = probe.yes_ids[0], probe.no_ids[0]
    saying_yes, saying_no = FixedLogits(vocab, yes), FixedLogits(vocab, no)
    assert SufficiencyJudge(saying_yes, tokenizer)("where is the manager ?", CITATIONS) is True
    assert SufficiencyJudge(saying_no, tokenizer)("where is the manager ?", CITATIONS) is False
    assert SufficiencyJudge(saying_yes, tokenizer, margin=10.0)("where is the manager ?", CITATIONS) is False
    shown = tokenizer.decode(saying_yes.prompts[0][0])
    assert "the manager is at the office" in shown and "where is the manager ?" in shown


def test_a_tokenizer_without_yes_and_no_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Yes and No"):
        SufficiencyJudge(FixedLogits(10, 0), word_tokenizer(SPECIALS + WORDS))
