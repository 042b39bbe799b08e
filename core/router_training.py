"""Train router projectors for a frozen backbone with MSA's auxiliary InfoNCE loss.

The backbone runs once over the training text; its normed layer inputs (question tokens, and chunk means
of passage tokens) are cached, and each router layer's projector pair is then fitted on those features.
Negatives are the other passages of the batch (in-batch negatives, as in MSA, temperature 0.1) plus, for
planted-fact pairs, the passage the fact was taken from (a hard negative).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from .decoder import Decoder
from .encoding import length_batches
from .pooling import chunk_mean
from .router import LayerRouter, RouterProjectors, RouterSpec
from .training_corpus import TrainingPair

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of ``memsa train-router`` (all recorded in the saved recipe)."""

    layers: tuple[int, ...]
    n_heads: int = 4
    head_dim: int = 64
    router_chunk_tokens: int = 16
    temperature: float = 0.1
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    max_steps: int = 600
    eval_every: int = 50
    patience: int = 6
    held_out: int = 400
    max_query_tokens: int = 48
    max_passage_tokens: int = 512
    seed: int = 0
    keep_layers: int | None = None


@dataclass
class StateSet:
    """Router-layer inputs of a set of texts, zero-padded.

    Attributes:
        states: layer -> [N, L, hidden] float16; L is tokens (queries) or P_r-chunks (passages).
        mask: [N, L] bool, real tokens or chunks; an all-False row stands for "no text".
    """

    states: dict[int, torch.Tensor]
    mask: torch.Tensor

    def subset(self, rows: torch.Tensor) -> StateSet:
        return StateSet({layer: tensor[rows] for layer, tensor in self.states.items()}, self.mask[rows])


@dataclass
class Features:
    """Cached backbone features of training pairs: query tokens, chunk-pooled passages and hard negatives."""

    queries: StateSet
    passages: StateSet
    negatives: StateSet

    def subset(self, rows: torch.Tensor) -> Features:
        return Features(self.queries.subset(rows), self.passages.subset(rows), self.negatives.subset(rows))


def extract_features(
    decoder: Decoder,
    tokenizer: object,
    pairs: Sequence[TrainingPair],
    config: TrainingConfig,
    progress: Callable[[int, int], None] | None = None,
) -> Features:
    """Run the frozen backbone over every query, passage and hard negative once; keep router-layer inputs."""
    texts = {
        "queries": [_tokens(tokenizer, pair.query, config.max_query_tokens) for pair in pairs],
        "passages": [_tokens(tokenizer, pair.passage, config.max_passage_tokens) for pair in pairs],
        "negatives": [_tokens(tokenizer, pair.hard_negative, config.max_passage_tokens) for pair in pairs],
    }
    total = sum(len(ids) for sequences in texts.values() for ids in sequences)
    done = 0

    def step(tokens: int) -> None:
        nonlocal done
        done += tokens
        if progress is not None:
            progress(done, total)

    pool = config.router_chunk_tokens
    # Passages and hard negatives share one width so a batch can stack them into one pool.
    chunks = math.ceil(max(len(ids) for ids in texts["passages"] + texts["negatives"]) / pool)
    return Features(
        queries=_states(decoder, texts["queries"], config, None, max(map(len, texts["queries"])), step),
        passages=_states(decoder, texts["passages"], config, pool, chunks, step),
        negatives=_states(decoder, texts["negatives"], config, pool, chunks, step),
    )


def _states(decoder: Decoder, sequences: list[list[int]], config: TrainingConfig, pool: int | None,
            slots: int, step: Callable[[int], None]) -> StateSet:
    """Normed router-layer inputs of token sequences, per token or chunk-mean pooled over ``pool`` tokens.

    Returns a StateSet with ``slots`` tokens or chunks per row.
    """
    device = decoder.device
    states = {
        layer: torch.zeros(len(sequences), slots, decoder.shape.hidden_size, dtype=torch.float16, device=device)
        for layer in config.layers
    }
    mask = torch.zeros(len(sequences), slots, dtype=torch.bool, device=device)
    present = [index for index, ids in enumerate(sequences) if ids]
    for batch in length_batches([len(sequences[i]) for i in present], 8192):
        rows = [present[i] for i in batch]
        longest = max(len(sequences[i]) for i in rows)
        input_ids = torch.zeros(len(rows), longest, dtype=torch.long)
        for row, index in enumerate(rows):
            input_ids[row, : len(sequences[index])] = torch.tensor(sequences[index])
        captured = decoder.capture(input_ids, config.layers)
        for row, index in enumerate(rows):
            length = len(sequences[index])
            for layer, capture in captured.items():
                token_states = capture.normed_input[row, :length]
                pooled = token_states if pool is None else chunk_mean(token_states, pool)
                states[layer][index, : pooled.shape[0]] = pooled.half()
            mask[index, : length if pool is None else math.ceil(length / pool)] = True
        step(sum(len(sequences[i]) for i in rows))
    return StateSet(states, mask)


def _tokens(tokenizer: object, text: str, limit: int) -> list[int]:
    """Token ids of ``text`` (at most ``limit``); an empty text gives no tokens."""
    if not text:
        return []
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    return list(ids[:limit]) or [0]


def pairwise_scores(
    router: RouterProjectors,
    layer: int,
    queries: torch.Tensor,
    query_mask: torch.Tensor,
    passages: torch.Tensor,
    passage_mask: torch.Tensor,
) -> torch.Tensor:
    """MSA routing scores of every query against every passage.

    Args:
        queries: [Nq, Tq, hidden]; query_mask: [Nq, Tq].
        passages: [Np, C, hidden]; passage_mask: [Np, C].

    Returns:
        [Nq, Np] float32: max over query tokens and passage chunks of the head-mean dot product.
    """
    query_vectors = router.router_queries(layer, queries)
    key_vectors = router.router_keys(layer, passages)
    similarity = torch.einsum("itd,jcd->ijtc", query_vectors, key_vectors)
    mask = query_mask[:, None, :, None] & passage_mask[None, :, None, :]
    return similarity.masked_fill(~mask, float("-inf")).amax(dim=(2, 3))


def retrieval_scores(router: RouterProjectors, layer: int, features: Features, block: int = 64) -> torch.Tensor:
    """Scores of every query against every passage, then every hard negative, in query blocks.

    Returns:
        [N, N + M] float32; column i < N is query i's own passage, the M columns after are the hard
        negatives that exist (a pool where planted facts compete with their topical look-alikes).
    """
    has_negative = features.negatives.mask.any(dim=1)
    pool = torch.cat([features.passages.states[layer], features.negatives.states[layer][has_negative]]).float()
    pool_mask = torch.cat([features.passages.mask, features.negatives.mask[has_negative]])
    queries = features.queries
    rows = []
    with torch.no_grad():
        for start in range(0, queries.mask.shape[0], block):
            stop = start + block
            rows.append(pairwise_scores(router, layer, queries.states[layer][start:stop].float(),
                                        queries.mask[start:stop], pool, pool_mask))
    return torch.cat(rows)


def recall_at(scores: torch.Tensor, k: int) -> float:
    """Fraction of queries whose own passage (column i of row i) ranks in the top ``k``."""
    gold = scores.diagonal().unsqueeze(1)
    rank = (scores > gold).sum(dim=1)
    return float((rank < k).float().mean())


def fit_standardisation(module: LayerRouter, layer: int, features: Features) -> None:
    """Set the layer's input mean/std from the real (unpadded) query tokens and passage chunks."""
    states = torch.cat([
        features.queries.states[layer][features.queries.mask].float(),
        features.passages.states[layer][features.passages.mask].float(),
    ])
    module.input_mean.copy_(states.mean(dim=0))
    module.input_std.copy_(states.std(dim=0).clamp_min(1e-4))


def train_layer(router: RouterProjectors, layer: int, train: Features, held_out: Features,
                config: TrainingConfig, start_from: RouterProjectors | None = None) -> dict[str, float]:
    """Fit one layer's projector pair with InfoNCE; keep the weights of the best held-out recall@5.

    Args:
        start_from: continue from these projectors' weights and standardisation (fine-tuning) instead of
            a random start.

    Returns:
        the held-out recall@1/@5 and the step it was reached at.
    """
    generator = torch.Generator().manual_seed(config.seed + layer)
    device = train.queries.mask.device
    module = router.layer(layer)
    if start_from is not None:
        module.load_state_dict(start_from.layer(layer).state_dict())
    else:
        fit_standardisation(module, layer, train)
        for projection in (module.router_q_proj, module.router_k_proj):
            weight = torch.randn(projection.weight.shape, generator=generator) / math.sqrt(router.spec.hidden_size)
            projection.weight.data.copy_(weight)
    parameters = [module.router_q_proj.weight, module.router_k_proj.weight]
    optimiser = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    best = {"recall@5": -1.0, "recall@1": 0.0, "step": 0}
    best_state = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    strikes, n_train = 0, train.queries.mask.shape[0]
    for step in range(1, config.max_steps + 1):
        rows = torch.randint(0, n_train, (min(config.batch_size, n_train),), generator=generator).to(device)
        # Columns: the batch's passages (in-batch negatives), then its hard negatives; a pair without
        # one has an all-masked row there, which scores -inf and drops out of the softmax.
        pool = torch.cat([train.passages.states[layer][rows], train.negatives.states[layer][rows]]).float()
        pool_mask = torch.cat([train.passages.mask[rows], train.negatives.mask[rows]])
        scores = pairwise_scores(router, layer, train.queries.states[layer][rows].float(), train.queries.mask[rows],
                                 pool, pool_mask)
        # Duplicate draws of one pair are both positives; mask the off-diagonal copies out of the negatives.
        duplicates = (rows[:, None] == rows[None, :]) & ~torch.eye(len(rows), dtype=torch.bool, device=device)
        duplicates = torch.cat([duplicates, torch.zeros_like(duplicates)], dim=1)
        logits = scores.masked_fill(duplicates, float("-inf")) / config.temperature
        loss = F.cross_entropy(logits, torch.arange(len(rows), device=device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % config.eval_every == 0 or step == config.max_steps:
            held = retrieval_scores(router, layer, held_out)
            recall5, recall1 = recall_at(held, 5), recall_at(held, 1)
            log.info("layer %d step %d loss %.3f held-out recall@1 %.3f @5 %.3f", layer, step, loss.item(),
                     recall1, recall5)
            if recall5 > best["recall@5"]:
                best = {"recall@5": recall5, "recall@1": recall1, "step": step}
                best_state = {name: tensor.clone() for name, tensor in module.state_dict().items()}
                strikes = 0
            else:
                strikes += 1
                if strikes >= config.patience:
                    break
    module.load_state_dict(best_state)
    return best


def relative_scores(scores: torch.Tensor) -> torch.Tensor:
    """Scores minus each query's median score over all passages: how far a passage stands out.

    Args:
        scores: [Nq, Np] combined scores.
    """
    return scores - scores.median(dim=1, keepdim=True).values


def abstention_threshold(combined: torch.Tensor, keep_answerable: float = 0.95) -> tuple[float, dict[str, float]]:
    """A bar on the *relative* score under which a question is judged to have no memory.

    Relative scores (see :func:`relative_scores`) carry over from training pairs to real questions
    better than raw scores, whose level shifts with a query's length and wording. The bar keeps
    ``keep_answerable`` of the held-out questions whose passage is present: a wrong abstention hides a
    memory the user has, while a wrong answer attempt is still caught by the reader, which is told to
    say it found nothing.

    Args:
        combined: [N, N + M] combined scores of held-out queries against the held-out pool (see
            :func:`retrieval_scores`).
        keep_answerable: share of answerable held-out questions that must clear the bar.

    Returns:
        the bar, and the shares of answerable questions kept and unanswerable ones (gold passage removed)
        rejected at that bar.
    """
    relative = relative_scores(combined)
    present = relative.diagonal()
    gold = torch.eye(*combined.shape, dtype=torch.bool, device=combined.device)
    absent = relative.masked_fill(gold, float("-inf")).amax(dim=1)
    bar = float(torch.quantile(present.float(), 1.0 - keep_answerable))
    return bar, {
        "answerable_kept": float((present >= bar).float().mean()),
        "unanswerable_rejected": float((absent < bar).float().mean()),
    }


def calibrate_abstention(
    router: RouterProjectors, decoder: Decoder, tokenizer: object, pairs: Sequence[TrainingPair],
    config: TrainingConfig,
) -> RouterProjectors:
    """Recompute an existing router's abstention bar on ``pairs`` and record it in its recipe."""
    features = extract_features(decoder, tokenizer, pairs, replace(config, layers=router.spec.layers))
    router = router.to(decoder.device)
    with torch.no_grad():
        combined = torch.stack([retrieval_scores(router, layer, features) for layer in router.spec.layers]).mean(0)
    bar, abstention = abstention_threshold(combined)
    recipe = {**router.spec.recipe, "calibration": {"pairs": len(pairs), **abstention}}
    calibrated = RouterProjectors(replace(router.spec, abstain_below=bar, recipe=recipe))
    calibrated.load_state_dict({name: tensor.cpu() for name, tensor in router.state_dict().items()})
    return calibrated.eval().requires_grad_(False)


def select_layers(held_scores: dict[int, torch.Tensor], keep: int) -> tuple[int, ...]:
    """Greedy forward selection of the ``keep`` layers whose mean score ranks held-out passages best.

    Fewer router layers mean less storage and faster routing; the layers a frozen backbone routes well
    with are measured, not assumed (see DESIGN.md §2).

    Args:
        held_scores: layer -> [N, N] held-out scores.
        keep: how many layers to keep.
    """
    chosen: list[int] = []
    remaining = sorted(held_scores)
    while remaining and len(chosen) < keep:
        def quality(layer: int) -> tuple[float, float]:
            mean = torch.stack([held_scores[other] for other in [*chosen, layer]]).mean(0)
            return recall_at(mean, 5), recall_at(mean, 1)

        best = max(remaining, key=quality)
        chosen.append(best)
        remaining.remove(best)
    return tuple(sorted(chosen))


def train_router(
    decoder: Decoder,
    tokenizer: object,
    pairs: Sequence[TrainingPair],
    config: TrainingConfig,
    model_fingerprint: str,
    recipe: dict[str, object],
    progress: Callable[[int, int], None] | None = None,
    start_from: RouterProjectors | None = None,
) -> RouterProjectors:
    """Train projectors for every layer in ``config.layers`` and record how they were made.

    The last ``config.held_out`` pairs are never trained on; they pick each layer's best step, measure
    recall and calibrate the abstention bar.
    """
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    features = extract_features(decoder, tokenizer, pairs, config, progress)
    n_pairs = len(pairs)
    if not 0 < config.held_out < n_pairs:
        raise ValueError("held_out must leave some pairs to train on")
    held_rows = torch.arange(n_pairs - config.held_out, n_pairs, device=decoder.device)
    train_rows = torch.arange(0, n_pairs - config.held_out, device=decoder.device)
    train, held_out = features.subset(train_rows), features.subset(held_rows)
    spec = RouterSpec(
        layers=config.layers, hidden_size=decoder.shape.hidden_size, n_heads=config.n_heads,
        head_dim=config.head_dim, cosine=True, router_chunk_tokens=config.router_chunk_tokens,
        model_fingerprint=model_fingerprint,
    )
    router = RouterProjectors(spec).to(decoder.device)
    if start_from is not None:
        start_from = start_from.to(decoder.device)
        missing = set(config.layers) - set(start_from.spec.layers)
        if missing or start_from.spec.key_dim != spec.key_dim:
            raise ValueError(f"the starting router lacks layers {sorted(missing)} or has another width")
    per_layer = {
        layer: train_layer(router, layer, train, held_out, config, start_from) for layer in config.layers
    }
    with torch.no_grad():
        held_scores = {layer: retrieval_scores(router, layer, held_out) for layer in config.layers}
    layers = select_layers(held_scores, config.keep_layers or len(config.layers))
    combined = torch.stack([held_scores[layer] for layer in layers]).mean(0)
    bar, abstention = abstention_threshold(combined)
    results = {
        "abstention": abstention,
        "per_layer": {str(layer): value for layer, value in per_layer.items()},
        "combined": {"recall@1": recall_at(combined, 1), "recall@5": recall_at(combined, 5)},
        "held_out_pairs": config.held_out,
        "train_pairs": n_pairs - config.held_out,
        "seconds": round(time.perf_counter() - started, 1),
    }
    final_spec = RouterSpec(**{**asdict(spec), "layers": layers, "abstain_below": bar,
                               "recipe": {**recipe, "config": asdict(config), "results": results}})
    trained = RouterProjectors(final_spec)
    kept = {f"per_layer.{layer}." for layer in layers}
    trained.load_state_dict({
        name: tensor.cpu() for name, tensor in router.state_dict().items()
        if any(name.startswith(prefix) for prefix in kept)
    })
    trained.eval()
    trained.requires_grad_(False)
    return trained
