"""Router training on a tiny random model: InfoNCE learns to find a query's passage far above chance."""

from __future__ import annotations

import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from memsa.core.decoder import Decoder
from memsa.core.router_features import PassageStates, recall_at
from memsa.core.router_training import TrainingConfig, abstention_threshold, train_router
from memsa.core.training_corpus import TrainingSet, make_pairs, make_training_set, passages_of, sentences_of
from tests.support.tiny_models import WORDS, TinyModel


def _training_set(n: int, seed: int) -> TrainingSet:
    """``n`` passages of random words, one query (a sentence of it) each, one passage per source text."""
    rng = random.Random(seed)
    vocabulary = WORDS[:30]
    training = TrainingSet([], [], [], [], [], [])
    for index in range(n):
        sentences = [" ".join(rng.choice(vocabulary) for _ in range(6)) + " ." for _ in range(5)]
        training.passages.append(" ".join(sentences))
        training.groups.append(index)
        training.queries.append(rng.choice(sentences))
        training.positives.append(index)
        training.negatives.append([(index + 1) % n] if index % 4 == 0 else [])
        training.kinds.append("sentence")
    return training


@pytest.mark.parametrize("reduction", ["max", "mean", "weighted", "mixed"])
def test_training_beats_chance_and_records_its_recipe(tiny_llama: TinyModel, reduction: str) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_llama.path).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama.path)
    config = TrainingConfig(layers=(1, 2), n_heads=2, head_dim=16, router_chunk_tokens=4, batch_size=64,
                            max_steps=150, eval_every=25, held_out_share=0.2, learning_rate=5e-3,
                            query_reduction=reduction, router_mined=1 if reduction == "max" else 0)
    training = _training_set(500, 0)
    router = train_router(Decoder(model), tokenizer, training, config, "fp", {"command": "test"})
    results = router.spec.recipe["results"]
    chance_at_5 = 5 / len(training.passages)
    assert results["combined"]["recall@5"] > 6 * chance_at_5
    assert set(results["per_layer"]) == {"1", "2"}
    assert results["held_out_queries"] + results["train_queries"] == len(training)
    assert router.spec.recipe["command"] == "test" and router.spec.recipe["config"]["max_steps"] == 150
    assert router.spec.query_reduction == reduction
    assert router.spec.abstain_below > -1.0


def test_distillation_target_is_used(tiny_llama: TinyModel) -> None:
    """A teacher that agrees with the labels leaves training able to learn; one of the wrong width fails."""
    model = AutoModelForCausalLM.from_pretrained(tiny_llama.path).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama.path)
    training = _training_set(200, 1)
    teacher = torch.nn.functional.normalize(torch.randn(200, 8), dim=1)
    config = TrainingConfig(layers=(1,), n_heads=2, head_dim=16, router_chunk_tokens=4, batch_size=32,
                            max_steps=20, eval_every=10, held_out_share=0.2, distill_weight=1.0)
    router = train_router(Decoder(model), tokenizer, training, config, "fp", {}, teacher=(teacher, teacher))
    assert router.spec.recipe["config"]["distill_weight"] == 1.0
    with pytest.raises(RuntimeError):
        train_router(Decoder(model), tokenizer, training, config, "fp", {}, teacher=(teacher, teacher[:, :4]))


def test_recall_and_threshold_helpers() -> None:
    scores = torch.tensor([[0.9, 0.1, 0.2], [0.5, 0.4, 0.1], [0.0, 0.1, 0.8]])
    gold = torch.arange(3)
    assert recall_at(scores, gold, 1) == pytest.approx(2 / 3)
    assert recall_at(scores, gold, 2) == 1.0
    assert recall_at(scores, torch.tensor([1, 1, 1]), 1) == 0.0
    bar, shares = abstention_threshold(scores, gold, keep_answerable=1.0)
    relative = scores - scores.median(dim=1, keepdim=True).values
    assert bar == pytest.approx(float(relative.diagonal().min()))
    assert shares["answerable_kept"] == 1.0 and 0.0 <= shares["unanswerable_rejected"] <= 1.0


def test_coarser_pooling_is_exact() -> None:
    """Chunk means at P=2 pooled to P=4 equal chunk means taken at P=4 directly, ragged tail included."""
    tokens = torch.randn(7, 3)
    fine = torch.stack([tokens[i : i + 2].mean(0) for i in range(0, 7, 2)])
    coarse = torch.stack([tokens[i : i + 4].mean(0) for i in range(0, 7, 4)])
    states = PassageStates({0: fine[None].half()}, torch.tensor([[2, 2, 2, 1]], dtype=torch.int32), 2)
    pooled = states.pooled(4)
    torch.testing.assert_close(pooled.states[0][0].float(), coarse, atol=2e-3, rtol=2e-3)
    assert pooled.counts.tolist() == [[4, 3]]
    with pytest.raises(ValueError):
        states.pooled(3)


def test_corpus_helpers_make_sensible_pairs() -> None:
    text = "\n\n".join(
        " ".join(f"This is sentence {i} of paragraph {p} and it has words." for i in range(8)) for p in range(6)
    )
    passages = passages_of(text, min_words=20, max_words=120)
    assert passages and all(20 <= len(p.split()) <= 120 for p in passages)
    assert sentences_of(passages[0])
    pairs = make_pairs(iter([text]), limit=10, seed=0)
    assert pairs and all(pair.query for pair in pairs)


def test_training_set_plants_facts_with_their_host_as_hard_negative(tmp_path) -> None:  # type: ignore[no-untyped-def]
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]
    texts = [
        "\n\n".join(
            " ".join(f"Topic {topic} sentence {word} of part {part} has many plain words." for word in names)
            for part in names[:3]
        )
        for topic in names[:6]
    ]
    training = make_training_set(iter(texts), seed=1, planted_share=1.0)
    planted = [i for i, kind in enumerate(training.kinds) if kind == "planted"]
    assert planted and len(training) > len(planted)
    for index in planted:
        query, positive = training.queries[index], training.passages[training.positives[index]]
        (negative,) = [training.passages[n] for n in training.negatives[index]]
        assert query in positive and query not in negative
        assert positive.replace("\n\n" + query, "").replace(query + "\n\n", "") == negative
    for index, kind in enumerate(training.kinds):
        if kind == "topical":
            assert training.queries[index] not in training.passages[training.positives[index]]
    train, held = training.split_by_group(0.3, seed=0)
    held_groups = {training.groups[training.positives[i]] for i in held}
    assert held and not held_groups & {training.groups[training.positives[i]] for i in train}
    training.save(tmp_path / "set.json.gz")
    assert TrainingSet.load(tmp_path / "set.json.gz") == training


def test_source_negatives_are_neighbours_without_the_query_words() -> None:
    pytest.importorskip("bm25s")
    from memsa.core.training_mining import source_negatives

    passages = [
        "The Rhine flows north through Basel. Barges carry coal on the Rhine.",          # 0: group 0
        "The Rhine delta lies in the Netherlands. Rotterdam is its port on the Rhine.",  # 1: group 0
        "Salmon returned to the Rhine after the river was cleaned of its coal dust.",    # 2: group 0
        "The Rhine flows north through Basel, as the Rhine guide says.",                 # 3: group 0, holds query 0
        "Barges carry coal on the Danube too.",                                          # 4: group 1
    ]
    training = TrainingSet(passages, [0, 0, 0, 0, 1],
                           ["The Rhine flows north through Basel.", "Where Rotterdam is its port on the Rhine?",
                            "Why did salmon come back?"],
                           [0, 1, 2], [[], [], []], ["sentence", "question", "topical"])
    mined = source_negatives(training, per_query=3)
    assert 3 not in mined[0] and 4 not in mined[0]  # holds the query's words; another source text
    assert mined[0] and set(mined[0]) <= {1, 2}
    assert mined[1] and set(mined[1]) <= {0, 2, 3}  # a pseudo-question: its run of words is in passage 1
    assert mined[2] == []  # the query's words are not in its passage: its neighbours may answer it
