"""Train router projectors for a frozen backbone with MSA's auxiliary InfoNCE loss.

The backbone runs once over the training text (see ``router_features``); each router layer's projector
pair is then fitted on the cached features. A query's negatives are the other passages of its batch
(in-batch negatives, as in MSA, temperature 0.1) plus its hard negatives: planted-fact look-alikes,
BM25-mined passages and, optionally, passages the router itself ranks too high after a first fit
(router-mined). A dense teacher's scores over the same columns can be distilled as a second target.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from .decoder import Decoder
from .router import LayerRouter, RouterProjectors, RouterSpec
from .router_features import (
    PassageStates,
    QueryStates,
    passage_states,
    query_states,
    recall_at,
    score_all,
    score_block,
    token_ids,
)
from .training_corpus import TrainingSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of ``memsa train-router`` (all recorded in the saved recipe)."""

    layers: tuple[int, ...]
    n_heads: int = 4
    head_dim: int = 64
    router_chunk_tokens: int = 16
    query_reduction: str = "max"
    temperature: float = 0.1
    batch_size: int = 256
    hard_negatives: int = 2
    router_mined: int = 0
    distill_weight: float = 0.0
    teacher_temperature: float = 0.05
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    max_steps: int = 600
    eval_every: int = 50
    patience: int = 6
    held_out_share: float = 0.08
    max_query_tokens: int = 48
    max_passage_tokens: int = 512
    seed: int = 0
    keep_layers: int | None = None


@dataclass
class TrainingFeatures:
    """Cached backbone features of a training set.

    Attributes:
        queries: per-token query states [N, ...]; passages: the pool's chunk states [M, ...].
        positives: [N] int64 pool index of each query's passage.
        negatives: [N, K] int64 pool indices of hard negatives, -1 where a query has fewer.
        groups: [M] int64 source text of each passage.
        teacher_queries, teacher_passages: [N, E] / [M, E] unit teacher embeddings, or None.
    """

    queries: QueryStates
    passages: PassageStates
    positives: torch.Tensor
    negatives: torch.Tensor
    groups: torch.Tensor
    teacher_queries: torch.Tensor | None = None
    teacher_passages: torch.Tensor | None = None


def extract_features(decoder: Decoder, tokenizer: object, training: TrainingSet, layers: tuple[int, ...],
                     chunk_tokens: int, config: TrainingConfig,
                     progress: Callable[[int, int], None] | None = None) -> TrainingFeatures:
    """Run the frozen backbone over every query and pool passage once; keep router-layer inputs."""
    device = decoder.device
    queries = token_ids(tokenizer, training.queries, config.max_query_tokens)
    passages = token_ids(tokenizer, training.passages, config.max_passage_tokens)
    total, done = sum(map(len, queries)) + sum(map(len, passages)), 0

    def step(tokens: int) -> None:
        nonlocal done
        done += tokens
        if progress is not None:
            progress(done, total)

    width = max(1, max(map(len, training.negatives), default=0))
    negatives = torch.full((len(training), width), -1, dtype=torch.long)
    for row, found in enumerate(training.negatives):
        negatives[row, : len(found)] = torch.tensor(found, dtype=torch.long)
    return TrainingFeatures(
        queries=query_states(decoder, queries, layers, step),
        passages=passage_states(decoder, passages, layers, chunk_tokens, step),
        positives=torch.tensor(training.positives, dtype=torch.long, device=device),
        negatives=negatives.to(device),
        groups=torch.tensor(training.groups, dtype=torch.long, device=device),
    )


def fit_standardisation(module: LayerRouter, layer: int, features: TrainingFeatures, rows: torch.Tensor) -> None:
    """Set the layer's input mean/std from the training queries' real tokens and the pool's real chunks."""
    queries = features.queries.subset(rows)
    states = torch.cat([
        queries.states[layer][queries.mask].float(),
        features.passages.states[layer][features.passages.mask].float(),
    ])
    module.input_mean.copy_(states.mean(dim=0))
    module.input_std.copy_(states.std(dim=0).clamp_min(1e-4))


def batch_loss(router: RouterProjectors, layer: int, features: TrainingFeatures, rows: torch.Tensor,
               config: TrainingConfig) -> torch.Tensor:
    """InfoNCE over the batch's passages and hard negatives, plus the distilled teacher target.

    Columns are the distinct pool passages of the batch, so two queries of one passage share a column
    and never count it as each other's negative.
    """
    negatives = features.negatives[rows, : config.hard_negatives]
    candidates = torch.cat([features.positives[rows], negatives[negatives >= 0]])
    columns, inverse = torch.unique(candidates, return_inverse=True)
    target = inverse[: len(rows)]
    scores = score_block(router, layer, features.queries.subset(rows), features.passages.subset(columns))
    logits = scores / config.temperature
    loss = F.cross_entropy(logits, target)
    if config.distill_weight > 0 and features.teacher_queries is not None and features.teacher_passages is not None:
        teacher = features.teacher_queries[rows] @ features.teacher_passages[columns].T
        target_distribution = F.softmax(teacher / config.teacher_temperature, dim=1)
        distilled = F.kl_div(F.log_softmax(logits, dim=1), target_distribution, reduction="batchmean")
        loss = loss + config.distill_weight * distilled
    return loss


def held_out_recall(router: RouterProjectors, layer: int, features: TrainingFeatures,
                    held_rows: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Scores of held-out queries against the whole pool, and their recall@1/@5."""
    scores = score_all(router, layer, features.queries.subset(held_rows), features.passages)
    gold = features.positives[held_rows]
    return scores, {"recall@1": recall_at(scores, gold, 1), "recall@5": recall_at(scores, gold, 5)}


def train_layer(router: RouterProjectors, layer: int, features: TrainingFeatures, train_rows: torch.Tensor,
                held_rows: torch.Tensor, config: TrainingConfig, steps: int,
                start_from: RouterProjectors | None = None) -> dict[str, float]:
    """Fit one layer's projector pair; keep the weights of the best held-out recall@5.

    Args:
        start_from: continue from these projectors' weights and standardisation instead of a random start.

    Returns:
        the held-out recall@1/@5 and the step it was reached at.
    """
    generator = torch.Generator().manual_seed(config.seed + layer)
    module = router.layer(layer)
    if start_from is not None:
        module.load_state_dict(start_from.layer(layer).state_dict())
    else:
        fit_standardisation(module, layer, features, train_rows)
        for projection in (module.router_q_proj, module.router_k_proj):
            weight = torch.randn(projection.weight.shape, generator=generator) / math.sqrt(router.spec.hidden_size)
            projection.weight.data.copy_(weight)
        if module.router_q_weight is not None:
            module.router_q_weight.weight.data.zero_()  # starts as the plain mean
    parameters = [module.router_q_proj.weight, module.router_k_proj.weight]
    if module.router_q_weight is not None:
        parameters.append(module.router_q_weight.weight)
    optimiser = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    _, best = held_out_recall(router, layer, features, held_rows)
    best["step"] = 0
    best_state = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    strikes = 0
    for step in range(1, steps + 1):
        pick = torch.randperm(len(train_rows), generator=generator)[: config.batch_size]
        loss = batch_loss(router, layer, features, train_rows[pick.to(train_rows.device)], config)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % config.eval_every == 0 or step == steps:
            _, recall = held_out_recall(router, layer, features, held_rows)
            log.info("layer %d step %d loss %.3f held-out recall@1 %.3f @5 %.3f", layer, step, loss.item(),
                     recall["recall@1"], recall["recall@5"])
            if recall["recall@5"] > best["recall@5"]:
                best, strikes = {**recall, "step": step}, 0
                best_state = {name: tensor.clone() for name, tensor in module.state_dict().items()}
            else:
                strikes += 1
                if strikes >= config.patience:
                    break
    module.load_state_dict(best_state)
    return best


def mine_router_negatives(router: RouterProjectors, layer: int, features: TrainingFeatures,
                          train_rows: torch.Tensor, per_query: int) -> None:
    """Append to each training query's negatives the passages this layer ranks highest wrongly.

    Passages of the query's own source text are skipped (likely right answers too), as are planted
    copies of its sentence (they share its positive's group only by chance, never its text).
    """
    scores = score_all(router, layer, features.queries.subset(train_rows), features.passages)
    own_group = features.groups[features.positives[train_rows]]
    scores = scores.masked_fill(features.groups[None, :] == own_group[:, None], float("-inf"))
    mined = scores.topk(per_query, dim=1).indices
    current = features.negatives[train_rows]
    merged = torch.full((len(features.positives), current.shape[1] + per_query), -1, dtype=torch.long,
                        device=current.device)
    merged[:, : features.negatives.shape[1]] = features.negatives
    merged[train_rows] = torch.cat([mined, current], dim=1)
    features.negatives = merged


def relative_scores(scores: torch.Tensor) -> torch.Tensor:
    """Scores minus each query's median score over all passages: how far a passage stands out.

    Args:
        scores: [Nq, Np] combined scores.
    """
    return scores - scores.median(dim=1, keepdim=True).values


def abstention_threshold(combined: torch.Tensor, gold: torch.Tensor,
                         keep_answerable: float = 0.95) -> tuple[float, dict[str, float]]:
    """A bar on the *relative* score under which a question is judged to have no memory.

    Relative scores (see :func:`relative_scores`) carry over from training queries to real questions
    better than raw scores, whose level shifts with a query's length and wording. The bar keeps
    ``keep_answerable`` of the held-out questions whose passage is present: a wrong abstention hides a
    memory the user has, while a wrong answer attempt is still caught by the reader, which is told to
    say it found nothing.

    Args:
        combined: [Nq, Np] combined scores of held-out queries against the pool.
        gold: [Nq] the column of each query's own passage.
        keep_answerable: share of answerable held-out questions that must clear the bar.

    Returns:
        the bar, and the shares of answerable questions kept and unanswerable ones (gold passage removed)
        rejected at that bar.
    """
    relative = relative_scores(combined)
    present = relative.gather(1, gold.view(-1, 1)).squeeze(1)
    absent = relative.scatter(1, gold.view(-1, 1), float("-inf")).amax(dim=1)
    bar = float(torch.quantile(present.float(), 1.0 - keep_answerable))
    return bar, {
        "answerable_kept": float((present >= bar).float().mean()),
        "unanswerable_rejected": float((absent < bar).float().mean()),
    }


def select_layers(held_scores: dict[int, torch.Tensor], gold: torch.Tensor, keep: int) -> tuple[int, ...]:
    """Greedy forward selection of the ``keep`` layers whose mean score ranks held-out passages best.

    Fewer router layers mean less storage and faster routing; the layers a frozen backbone routes well
    with are measured, not assumed (see DESIGN.md §2).

    Args:
        held_scores: layer -> [Nq, Np] held-out scores.
        gold: [Nq] gold columns.
        keep: how many layers to keep.
    """
    chosen: list[int] = []
    remaining = sorted(held_scores)
    while remaining and len(chosen) < keep:
        def quality(layer: int) -> tuple[float, float]:
            mean = torch.stack([held_scores[other] for other in [*chosen, layer]]).mean(0)
            return recall_at(mean, gold, 5), recall_at(mean, gold, 1)

        best = max(remaining, key=quality)
        chosen.append(best)
        remaining.remove(best)
    return tuple(sorted(chosen))


def fit_router(features: TrainingFeatures, config: TrainingConfig, spec: RouterSpec, train_rows: torch.Tensor,
               held_rows: torch.Tensor, start_from: RouterProjectors | None = None
               ) -> tuple[RouterProjectors, dict[str, object]]:
    """Train every layer of ``spec`` on cached features; select layers; measure and calibrate.

    Returns:
        the router (kept layers only, abstention bar set, not yet carrying a recipe) and its results.
    """
    device = features.positives.device
    router = RouterProjectors(spec).to(device)
    per_layer = {}
    for layer in spec.layers:
        steps = config.max_steps if config.router_mined == 0 else config.max_steps // 2
        per_layer[layer] = train_layer(router, layer, features, train_rows, held_rows, config, steps, start_from)
        if config.router_mined:
            saved = features.negatives
            mine_router_negatives(router, layer, features, train_rows, config.router_mined)
            per_layer[layer] = train_layer(router, layer, features, train_rows, held_rows, config,
                                           config.max_steps - steps, router)
            features.negatives = saved
    gold = features.positives[held_rows]
    held_scores = {layer: held_out_recall(router, layer, features, held_rows)[0] for layer in spec.layers}
    layers = select_layers(held_scores, gold, config.keep_layers or len(spec.layers))
    combined = torch.stack([held_scores[layer] for layer in layers]).mean(0)
    bar, abstention = abstention_threshold(combined, gold)
    results: dict[str, object] = {
        "abstention": abstention,
        "per_layer": {str(layer): value for layer, value in per_layer.items()},
        "combined": {"recall@1": recall_at(combined, gold, 1), "recall@5": recall_at(combined, gold, 5)},
        "held_out_queries": len(held_rows),
        "train_queries": len(train_rows),
        "pool_passages": int(features.passages.counts.shape[0]),
    }
    kept = RouterProjectors(replace(spec, layers=layers, abstain_below=bar))
    prefixes = tuple(f"per_layer.{layer}." for layer in layers)
    kept.load_state_dict({name: tensor.cpu() for name, tensor in router.state_dict().items()
                          if name.startswith(prefixes)})
    return kept.eval().requires_grad_(False), results


def train_router(
    decoder: Decoder,
    tokenizer: object,
    training: TrainingSet,
    config: TrainingConfig,
    model_fingerprint: str,
    recipe: dict[str, object],
    progress: Callable[[int, int], None] | None = None,
    start_from: RouterProjectors | None = None,
    teacher: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> RouterProjectors:
    """Train projectors for every layer in ``config.layers`` and record how they were made.

    Queries of a held-out share of the source texts (``config.held_out_share``) are never trained on;
    they pick each layer's best step, measure recall against the whole pool and calibrate abstention.

    Args:
        teacher: unit teacher embeddings of the queries [N, E] and passages [M, E] to distil from.
    """
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    # TF32 matrix products on GPUs that have them: late-interaction scoring multiplies every question token
    # with every chunk, and full float32 would make training several times slower for no measured gain.
    torch.backends.cuda.matmul.allow_tf32 = True
    features = extract_features(decoder, tokenizer, training, config.layers, config.router_chunk_tokens, config,
                                progress)
    if teacher is not None:
        features.teacher_queries, features.teacher_passages = (part.to(decoder.device) for part in teacher)
    train_list, held_list = training.split_by_group(config.held_out_share, config.seed)
    if not train_list or not held_list:
        raise ValueError("the held-out share must leave queries both to train on and to measure")
    train_rows = torch.tensor(train_list, dtype=torch.long, device=decoder.device)
    held_rows = torch.tensor(held_list, dtype=torch.long, device=decoder.device)
    spec = RouterSpec(
        layers=config.layers, hidden_size=decoder.shape.hidden_size, n_heads=config.n_heads,
        head_dim=config.head_dim, cosine=True, router_chunk_tokens=config.router_chunk_tokens,
        model_fingerprint=model_fingerprint, query_reduction=config.query_reduction,
    )
    if start_from is not None:
        start_from = start_from.to(decoder.device)
        missing = set(config.layers) - set(start_from.spec.layers)
        if missing or start_from.spec.key_dim != spec.key_dim:
            raise ValueError(f"the starting router lacks layers {sorted(missing)} or has another width")
    router, results = fit_router(features, config, spec, train_rows, held_rows, start_from)
    results["seconds"] = round(time.perf_counter() - started, 1)
    final = RouterProjectors(replace(router.spec, recipe={**recipe, "config": asdict(config), "results": results}))
    final.load_state_dict(router.state_dict())
    return final.eval().requires_grad_(False)


def calibrate_abstention(router: RouterProjectors, decoder: Decoder, tokenizer: object, training: TrainingSet,
                         config: TrainingConfig) -> RouterProjectors:
    """Recompute an existing router's abstention bar on ``training``'s queries and record it in its recipe."""
    spec = router.spec
    features = extract_features(decoder, tokenizer, training, spec.layers, spec.router_chunk_tokens, config)
    router = router.to(decoder.device)
    rows = torch.arange(len(training), device=decoder.device)
    combined = torch.stack([score_all(router, layer, features.queries, features.passages)
                            for layer in spec.layers]).mean(0)
    bar, abstention = abstention_threshold(combined, features.positives[rows])
    recipe = {**spec.recipe, "calibration": {"queries": len(training), **abstention}}
    calibrated = RouterProjectors(replace(spec, abstain_below=bar, recipe=recipe))
    calibrated.load_state_dict({name: tensor.cpu() for name, tensor in router.state_dict().items()})
    return calibrated.eval().requires_grad_(False)
