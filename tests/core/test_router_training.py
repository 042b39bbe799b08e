"""Router training on a tiny random model: InfoNCE learns to find a query's passage far above chance."""

from __future__ import annotations

import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from memsa.core.decoder import Decoder
from memsa.core.router_training import TrainingConfig, abstention_threshold, recall_at, train_router
from memsa.core.training_corpus import TrainingPair, make_pairs, passages_of, sentences_of
from tests.support.tiny_models import WORDS, TinyModel


def _pairs(n: int, seed: int) -> list[TrainingPair]:
    rng = random.Random(seed)
    vocabulary = WORDS[:30]
    pairs = []
    for index in range(n):
        sentences = [" ".join(rng.choice(vocabulary) for _ in range(6)) + " ." for _ in range(5)]
        pairs.append(TrainingPair(query=rng.choice(sentences), passage=" ".join(sentences), group=index))
    return pairs


def test_training_beats_chance_and_records_its_recipe(tiny_llama: TinyModel) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_llama.path).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama.path)
    config = TrainingConfig(layers=(1, 2), n_heads=2, head_dim=16, router_chunk_tokens=4, batch_size=64,
                            max_steps=150, eval_every=25, held_out=100, learning_rate=5e-3)
    router = train_router(Decoder(model), tokenizer, _pairs(500, 0), config, "fp", {"command": "test"})
    results = router.spec.recipe["results"]
    chance_at_5 = 5 / config.held_out
    assert results["combined"]["recall@5"] > 6 * chance_at_5
    assert set(results["per_layer"]) == {"1", "2"}
    assert router.spec.recipe["command"] == "test" and router.spec.recipe["config"]["max_steps"] == 150
    assert router.spec.abstain_below > -1.0


def test_recall_and_threshold_helpers() -> None:
    scores = torch.tensor([[0.9, 0.1, 0.2], [0.5, 0.4, 0.1], [0.0, 0.1, 0.8]])
    assert recall_at(scores, 1) == pytest.approx(2 / 3)
    assert recall_at(scores, 2) == 1.0
    bar, shares = abstention_threshold(scores, keep_answerable=1.0)
    relative = scores - scores.median(dim=1, keepdim=True).values
    assert bar == pytest.approx(float(relative.diagonal().min()))
    assert shares["answerable_kept"] == 1.0 and 0.0 <= shares["unanswerable_rejected"] <= 1.0


def test_corpus_helpers_make_sensible_pairs() -> None:
    text = "\n\n".join(
        " ".join(f"This is sentence {i} of paragraph {p} and it has words." for i in range(8)) for p in range(6)
    )
    passages = passages_of(text, min_words=20, max_words=120)
    assert passages and all(20 <= len(p.split()) <= 120 for p in passages)
    assert sentences_of(passages[0])
    pairs = make_pairs(iter([text]), limit=10, seed=0)
    assert pairs and all(pair.query for pair in pairs)


def test_planted_pairs_move_the_sentence_and_keep_a_hard_negative() -> None:
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]
    texts = [
        "\n\n".join(
            " ".join(f"Topic {topic} sentence {word} of part {part} has many plain words." for word in names)
            for part in names[:3]
        )
        for topic in names[:4]
    ]
    pairs = make_pairs(iter(texts), limit=100, seed=1, question_share=0.0, planted_share=1.0)
    planted = [pair for pair in pairs if pair.hard_negative]
    assert planted
    for pair in planted:
        assert pair.query in pair.passage and pair.query not in pair.hard_negative
        topic = pair.query.split()[1]
        assert f"Topic {topic} " in pair.hard_negative
