"""Ablation of router-training choices, measured on held-out text and on SQuAD-dev paragraphs.

Run (GPU machine or CPU; the training set from `memsa train-router --export-pairs set.json.gz`):
    python bench/router_ablation.py --training-set set.json.gz --squad squaddev_v1.1.json.gz \
        [--teacher-model MINILM_FOLDER] [--archive archive.json] [--out DIR]

Every variant changes one choice of the baseline recipe and trains the same few layers with the same
steps; each is scored on (a) held-out queries of source texts never trained on, against the whole
passage pool, and (b) SQuAD-dev questions against all 2,067 paragraphs, split by article into a
validation half (which picks winners) and a test half (reported only). SQuAD questions are never
trained on. The winners of each axis are then combined, trained on every candidate layer, and saved.
Prints the table; writes ablation.json (and the final router) to --out.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import torch

from memsa.core.decoder import Decoder
from memsa.core.models import load_model, resolve_model
from memsa.core.router import RouterProjectors, RouterSpec
from memsa.core.router_features import (
    PassageStates,
    QueryStates,
    passage_states,
    query_states,
    recall_at,
    score_all,
    token_ids,
)
from memsa.core.router_training import TrainingConfig, TrainingFeatures, extract_features, fit_router, select_layers
from memsa.core.training_corpus import TrainingSet
from memsa.core.training_mining import teacher_checked_negatives, teacher_embeddings

CANDIDATE_LAYERS = (2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22)
ABLATION_LAYERS = (4, 10, 18)
BASE_POOL = 4

# Round 1 (changes against MSA's recipe, the first shipped router's) and round 2 (against round 1's winners).
# axis -> option name -> settings; an option naming no setting is the base recipe.
ROUNDS: dict[str, dict[str, object]] = {
    "1": {},
    "2": {"query_reduction": "mean", "router_chunk_tokens": 8},
    "3": {"query_reduction": "mean", "router_chunk_tokens": 8, "n_heads": 8, "distill_weight": 0.3},
    "4": {"query_reduction": "weighted", "router_chunk_tokens": 8, "n_heads": 8},
    "5": {"query_reduction": "weighted", "router_chunk_tokens": 8, "n_heads": 8},
}
AXES: dict[str, dict[str, dict[str, dict[str, object]]]] = {
    "1": {
        "negatives": {"planted only": {}, "+ BM25-mined": {"bm25": 3},
                      "+ BM25 + router-mined": {"bm25": 3, "router_mined": 1}},
        "distillation": {"none": {}, "MiniLM scores, weight 1": {"distill_weight": 1.0}},
        "query reduction": {"max over tokens": {}, "mean of tokens": {"query_reduction": "mean"}},
        "projector width": {"4 x 64": {}, "8 x 64": {"n_heads": 8}, "2 x 64": {"n_heads": 2}},
        "router chunk P_r": {"16": {}, "8": {"router_chunk_tokens": 8}, "32": {"router_chunk_tokens": 32}},
    },
    "2": {
        "negatives": {"planted only": {}, "+ BM25-mined": {"bm25": 3},
                      "+ BM25 + router-mined": {"bm25": 3, "router_mined": 1}},
        "distillation": {"none": {}, "MiniLM, weight 0.3": {"distill_weight": 0.3},
                         "MiniLM, weight 1, teacher T 0.02": {"distill_weight": 1.0, "teacher_temperature": 0.02}},
        "temperature": {"0.1": {}, "0.05": {"temperature": 0.05}},
        "projector width": {"4 x 64": {}, "8 x 64": {"n_heads": 8}},
        "router chunk P_r": {"8": {}, "4": {"router_chunk_tokens": 4}, "16": {"router_chunk_tokens": 16}},
    },
    "3": {
        "query reduction": {"mean": {}, "learned weighted mean": {"query_reduction": "weighted"}},
    },
    "4": {
        "query reduction": {"learned weighted mean": {}, "late interaction": {"query_reduction": "late"}},
    },
    "5": {
        "late interaction": {"late, temperature 0.05": {"query_reduction": "late", "temperature": 0.05},
                             "mixed (half pooled, half late)": {"query_reduction": "mixed"},
                             "mixed, temperature 0.05": {"query_reduction": "mixed", "temperature": 0.05}},
    },
}
KEEP_LAYERS = (2, 4, 6, 8)


def load_squad(path: Path, articles: int = 0) -> tuple[list[str], list[tuple[str, int, int]]]:
    """SQuAD-dev paragraphs and (question, gold paragraph, article) triples (of the first ``articles``)."""
    data = json.loads(gzip.decompress(path.read_bytes()))["data"][: articles or None]
    paragraphs: list[str] = []
    questions: list[tuple[str, int, int]] = []
    for article, entry in enumerate(data):
        for paragraph in entry["paragraphs"]:
            for qa in paragraph["qas"]:
                questions.append((qa["question"], len(paragraphs), article))
            paragraphs.append(paragraph["context"])
    return paragraphs, questions


class Measure:
    """Scores routers on held-out training queries and on SQuAD validation / test questions."""

    def __init__(self, decoder: Decoder, tokenizer: object, layers: tuple[int, ...], squad: Path, per_split: int,
                 archive: Path | None, articles: int) -> None:
        paragraphs, questions = load_squad(squad, articles)
        generator = torch.Generator().manual_seed(0)
        n_articles = max(article for _, _, article in questions) + 1
        self.splits: dict[str, tuple[QueryStates, torch.Tensor]] = {}
        self.paragraphs = passage_states(decoder, token_ids(tokenizer, paragraphs, 512), layers,
                                         BASE_POOL)
        halves = {"squad-val": range(0, n_articles // 2), "squad-test": range(n_articles // 2, n_articles)}
        for name, half in halves.items():
            chosen = [q for q in questions if q[2] in half]
            order = torch.randperm(len(chosen), generator=generator)[:per_split].tolist()
            chosen = [chosen[i] for i in order]
            states = query_states(decoder, token_ids(tokenizer, [q for q, _, _ in chosen], 48), layers)
            self.splits[name] = (states, torch.tensor([g for _, g, _ in chosen], device=decoder.device))
        self.archive = None
        if archive is not None:
            documents = json.loads(archive.read_text())
            self.archive = planted_archive(decoder, tokenizer, documents, layers)

    def __call__(self, router: RouterProjectors, features: TrainingFeatures, held_rows: torch.Tensor
                 ) -> dict[str, object]:
        layers = router.spec.layers
        pool = router.spec.router_chunk_tokens
        result: dict[str, object] = {}
        held = torch.stack([score_all(router, layer, features.queries.subset(held_rows),
                                      features.passages.pooled(pool)) for layer in layers]).mean(0)
        gold = features.positives[held_rows]
        result["held@1"], result["held@5"] = recall_at(held, gold, 1), recall_at(held, gold, 5)
        paragraphs = self.paragraphs.pooled(pool)
        for name, (states, gold) in self.splits.items():
            scores = torch.stack([score_all(router, layer, states, paragraphs) for layer in layers]).mean(0)
            for k in (1, 5, 16):
                result[f"{name}@{k}"] = recall_at(scores, gold, k)
        if self.archive is not None:
            states, documents, gold = self.archive
            scores = torch.stack([score_all(router, layer, states, documents.pooled(pool)) for layer in layers]).mean(0)
            ranks = (scores > scores.gather(1, gold.view(-1, 1))).sum(dim=1)
            result["archive ranks"] = ranks.tolist()
        return result


PLANTED = [("The wifi password at the lake cabin is pinecone-harbor-42.",
            "What is the wifi password at the lake cabin?"),
           ("Aunt Margarethe's birthday is on the 17th of October, and she loves lilies.",
            "When is Aunt Margarethe's birthday?"),
           ("The spare key for the garden shed is hidden under the blue flowerpot by the door.",
            "Where is the spare key for the garden shed hidden?")]


def planted_archive(decoder: Decoder, tokenizer: object, documents: list[list[str]], layers: tuple[int, ...]
                    ) -> tuple[QueryStates, PassageStates, torch.Tensor]:
    """The integration test's archive: 50 notes, three with a planted fact; its three questions."""
    texts, gold = [], []
    for index, (title, text) in enumerate(documents):
        if index in (7, 23, 41):
            fact = PLANTED[(7, 23, 41).index(index)][0]
            middle = text.find("\n\n", len(text) // 2)
            text = text[:middle] + f"\n\n{fact}" + text[middle:] if middle > 0 else f"{text}\n\n{fact}"
            gold.append(index)
        texts.append(f"# {title}\n\n{text}\n")
    passages = passage_states(decoder, token_ids(tokenizer, texts, 4096), layers, BASE_POOL)
    questions = query_states(decoder, token_ids(tokenizer, [q for _, q in PLANTED], 48), layers)
    return questions, passages, torch.tensor(gold, device=decoder.device)


def variant_features(base: TrainingFeatures, planted_only: torch.Tensor, config: TrainingConfig,
                     bm25: int) -> TrainingFeatures:
    """The shared features with this variant's pool size and hard negatives (planted, then BM25-mined)."""
    negatives = base.negatives[:, : 1 + bm25] if bm25 else planted_only
    return replace(base, passages=base.passages.pooled(config.router_chunk_tokens), negatives=negatives)


def run(args: argparse.Namespace) -> None:
    torch.backends.cuda.matmul.allow_tf32 = True
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    spec = resolve_model(args.model)
    loaded = load_model(spec, cache_dir=args.cache_dir)
    loaded.model.to(args.device)
    decoder = Decoder(loaded.model)
    training = TrainingSet.load(args.training_set)
    if args.limit:
        training = training.head(args.limit)
    candidates, ablation_layers = parse(args.layers), parse(args.ablation_layers)
    base_config = TrainingConfig(layers=ablation_layers, max_steps=args.steps)
    features = extract_features(decoder, loaded.tokenizer, training, candidates, BASE_POOL, base_config)
    train_list, held_list = training.split_by_group(base_config.held_out_share, base_config.seed)
    train_rows = torch.tensor(train_list, dtype=torch.long, device=args.device)
    held_rows = torch.tensor(held_list, dtype=torch.long, device=args.device)
    planted_only = features.negatives.clone()
    planted_only[:, 1:] = -1
    kinds = torch.tensor([kind == "planted" for kind in training.kinds], device=args.device)
    planted_only[~kinds, 0] = -1
    if args.teacher_model is not None:
        features.teacher_queries = teacher_embeddings(training.queries, args.teacher_model, args.device)
        features.teacher_passages = teacher_embeddings(training.passages, args.teacher_model, args.device)
        kept = teacher_checked_negatives(training, features.teacher_queries, features.teacher_passages)
        for index, found in enumerate(kept):
            features.negatives[index] = -1
            features.negatives[index, : len(found)] = torch.tensor(found, dtype=torch.long)
    measure = Measure(decoder, loaded.tokenizer, candidates, args.squad, args.questions, args.archive,
                      args.squad_articles)
    print(f"features ready in {time.perf_counter() - started:.0f}s: {len(training)} queries "
          f"({len(train_list)} train, {len(held_list)} held out), {len(training.passages)} passages", flush=True)
    table: list[dict[str, object]] = []
    for path in args.shipped:
        shipped = RouterProjectors.load(path).to(args.device)
        table.append({"axis": "reference", "option": f"{path.name}, layers {list(shipped.spec.layers)}",
                      **measure(shipped, features, held_rows)})
        print_row(table[-1])
    if args.score_only:
        (out / "ablation.json").write_text(json.dumps({"rows": table}, indent=1))
        return

    def train(changes: dict[str, object], layers: tuple[int, ...], steps: int, keep: int | None
              ) -> tuple[RouterProjectors, dict[str, object], TrainingConfig]:
        options = {key: value for key, value in {**ROUNDS[args.round], **changes}.items() if key != "bm25"}
        config = replace(base_config, layers=layers, max_steps=steps, keep_layers=keep, **options)
        router_spec = RouterSpec(layers=layers, hidden_size=decoder.shape.hidden_size, n_heads=config.n_heads,
                                 head_dim=config.head_dim, cosine=True, router_chunk_tokens=config.router_chunk_tokens,
                                 model_fingerprint=loaded.fingerprint, query_reduction=config.query_reduction)
        variant = variant_features(features, planted_only, config, int(changes.get("bm25", 0)))  # type: ignore[call-overload]
        router, results = fit_router(variant, config, router_spec, train_rows, held_rows)
        return router.to(args.device), results, config

    winners: dict[str, object] = {}
    for axis, options in AXES[args.round].items():
        best_name, best_score = "", -1.0
        for name, changes in options.items():
            if "distill_weight" in changes and features.teacher_queries is None:
                continue
            began = time.perf_counter()
            router, _, _ = train(changes, ablation_layers, args.steps, None)
            row = {"axis": axis, "option": name, **measure(router, features, held_rows),
                   "seconds": round(time.perf_counter() - began, 1)}
            table.append(row)
            print_row(row)
            score = _selection_score(row)
            if score > best_score:
                best_name, best_score = name, score
        winners.update(options[best_name])
        (out / "ablation.json").write_text(json.dumps({"rows": table, "winners": winners}, indent=1))
    print(f"combined winners: {winners}", flush=True)
    if args.no_final:
        return
    router, results, config = train(winners, candidates, args.final_steps, None)
    held = {layer: score_all(router, layer, features.queries.subset(held_rows),
                             features.passages.pooled(router.spec.router_chunk_tokens)) for layer in candidates}
    best_keep, best_score = len(candidates), -1.0
    for keep in (*KEEP_LAYERS, len(candidates)):
        layers = select_layers(held, features.positives[held_rows], keep)
        subset = RouterProjectors(replace(router.spec, layers=layers))
        prefixes = tuple(f"per_layer.{layer}." for layer in layers)
        subset.load_state_dict({name: t for name, t in router.state_dict().items() if name.startswith(prefixes)})
        row = {"axis": "final: layers kept", "option": f"{keep}: {list(layers)}",
               **measure(subset.to(args.device), features, held_rows)}
        table.append(row)
        print_row(row)
        score = _selection_score(row)
        if score > best_score + 0.01:  # another layer must earn its storage
            best_keep, best_score = keep, score
    (out / "ablation.json").write_text(json.dumps({"rows": table, "winners": winners, "keep": best_keep},
                                                  indent=1))
    settings = {**ROUNDS[args.round], **winners}
    (out / "train_flags.txt").write_text(train_flags(settings, candidates, best_keep, args.final_steps) + "\n")
    print(f"done in {time.perf_counter() - started:.0f}s")


def _selection_score(row: dict[str, object]) -> float:
    """What picks winners: SQuAD validation recall@5 plus held-out recall@5 (never the test half)."""
    return float(row["squad-val@5"]) + float(row["held@5"])  # type: ignore[arg-type]


def parse(text: str) -> tuple[int, ...]:
    return tuple(sorted({int(part) for part in text.split(",")}))


def train_flags(settings: dict[str, object], candidates: tuple[int, ...], keep: int, steps: int) -> str:
    """The ``memsa train-router`` options that train the recipe ``settings`` (TrainingConfig fields + bm25)."""
    flags = {"--layers": ",".join(map(str, candidates)), "--keep-layers": keep, "--steps": steps,
             "--query-reduction": settings.get("query_reduction", "max"),
             "--router-chunk-tokens": settings.get("router_chunk_tokens", 16),
             "--heads": settings.get("n_heads", 4), "--bm25-negatives": settings.get("bm25", 0),
             "--router-mined": settings.get("router_mined", 0), "--distill": settings.get("distill_weight", 0.0),
             "--temperature": settings.get("temperature", 0.1),
             "--teacher-temperature": settings.get("teacher_temperature", 0.05)}
    return " ".join(f"{name} {value}" for name, value in flags.items())


COLUMNS = ("held@1", "held@5", "squad-val@1", "squad-val@5", "squad-val@16", "squad-test@1", "squad-test@5",
           "squad-test@16")


HEADER = f"{'axis':<18} {'option':<44} " + " ".join(f"{name.replace('squad-', ''):>7}" for name in COLUMNS) + \
    "  archive ranks"


def print_row(row: dict[str, object]) -> None:
    values = " ".join(f"{row[name]:>7.3f}" for name in COLUMNS if name in row)
    print(f"{str(row['axis'])[:18]:<18} {str(row['option'])[:44]:<44} {values}  {row.get('archive ranks', '')}",
          flush=True)


def print_results(path: Path) -> None:
    """Print the tables recorded in ``path`` (see bench/results/router_ablation.json)."""
    recorded = json.loads(path.read_text())
    print(f"measured on: {recorded['machine']}")
    for name in [key for key in recorded if key.startswith("round")]:
        part = recorded[name]
        print(f"\n{name}: {part['command']}")
        if part.get("note"):
            print(part["note"])
        if part.get("base"):
            print(f"base recipe: {part['base']}")
        if "lines" in part:  # a round measured with the harness prints its own table
            print("\n".join(part["lines"]))
            continue
        print(HEADER)
        for row in part["rows"]:
            print_row(row)
        if "winners" in part:
            print(f"winners: {part['winners']}" + (f", layers kept: {part['keep']}" if part.get("keep") else ""))
    for name, title in (("harness", "memsa eval"), ("routing", "routing time"), ("re-reading", "re-reading")):
        if name in recorded:
            part = recorded[name]
            print(f"\n{title}: {part['command']}\n{part['note']}")
            print("\n".join(part["lines"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", type=Path, default=None, metavar="RESULTS",
                        help="only print recorded tables (bench/results/router_ablation.json)")
    parser.add_argument("--training-set", type=Path)
    parser.add_argument("--squad", type=Path)
    parser.add_argument("--teacher-model", type=Path, default=None)
    parser.add_argument("--archive", type=Path, default=None)
    parser.add_argument("--shipped", type=Path, action="append", default=[],
                        help="a router file to score as a reference row (repeatable)")
    parser.add_argument("--score-only", action="store_true", help="only score the --shipped routers")
    parser.add_argument("--model", default=None, help="GGUF file or model folder (default: the embedded model)")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "memsa")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", default=",".join(map(str, CANDIDATE_LAYERS)),
                        help="candidate layers (the final router picks among them)")
    parser.add_argument("--ablation-layers", default=",".join(map(str, ABLATION_LAYERS)),
                        help="layers every ablation variant trains")
    parser.add_argument("--round", choices=sorted(ROUNDS), default="2", help="which base recipe and axes")
    parser.add_argument("--no-final", action="store_true", help="stop after the ablation rows")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--final-steps", type=int, default=1200)
    parser.add_argument("--keep-layers", type=int, default=4)
    parser.add_argument("--questions", type=int, default=2000, help="SQuAD questions per split")
    parser.add_argument("--recipe-command", default="python bench/router_ablation.py")
    parser.add_argument("--squad-articles", type=int, default=0, help="use only the first N articles")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N passages (a quick check)")
    parser.add_argument("--out", type=Path, default=Path(".bench-out"))
    args = parser.parse_args()
    if args.print is not None:
        print_results(args.print)
        return
    if args.training_set is None or args.squad is None:
        parser.error("--training-set and --squad are required to run the ablation")
    print(HEADER)
    logging.basicConfig(level=logging.WARNING)
    run(args)


if __name__ == "__main__":
    main()
