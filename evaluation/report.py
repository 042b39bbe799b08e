"""Write an evaluation's results: ``report.json`` (everything), ``report.md`` (tables), ``recall.png``."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .metrics import RECALL_AT
from .runner import BenchmarkResult

FAMILY_ORDER = ("exact", "lookalike", "reworded", "updated", "multihop")


def result_json(result: BenchmarkResult, with_rankings: bool = True) -> dict[str, Any]:
    """One benchmark's results as plain JSON values."""
    benchmark = result.benchmark
    systems: dict[str, Any] = {}
    for run in result.runs:
        systems[run.system] = {
            "index_seconds": round(run.index_seconds, 3),
            "index_tokens_per_s": round(run.index_tokens / run.index_seconds, 1) if run.index_seconds else None,
            "query_ms": round(run.query_ms, 2),
            "retrieval": {family: asdict(scores) for family, scores in result.retrieval[run.system].items()},
            "abstention": asdict(result.abstention[run.system]) if run.system in result.abstention else None,
        }
        if with_rankings:
            systems[run.system]["rankings"] = run.rankings
    return {
        "name": benchmark.name,
        "size_tokens": benchmark.size_tokens,
        "documents": len(benchmark.documents),
        "queries": len(benchmark.queries),
        "queries_by_family": _count_families(result),
        "fingerprint": benchmark.fingerprint(),
        "recipe": benchmark.recipe,
        "tokens_encoded_this_run": result.encoded_tokens,
        "seconds": round(result.seconds, 1),
        "systems": systems,
        "answers": result.answers,
    }


def write_report(results: Sequence[BenchmarkResult], folder: Path, context: dict[str, Any]) -> list[Path]:
    """Write the JSON report, the Markdown tables and (with two or more haystack sizes) the plot.

    Args:
        context: what the run was (command, model, routers, device); stored at the top of both reports.

    Returns:
        the files written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    context = {**context, "machine": {"platform": platform.platform(), "python": platform.python_version()}}
    payload = {**context, "benchmarks": [result_json(result) for result in results]}
    written = [folder / "report.json", folder / "report.md"]
    written[0].write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
    written[1].write_text(markdown(results, context), encoding="utf-8")
    haystacks = [result for result in results if result.benchmark.name.startswith("haystack")]
    if len(haystacks) >= 2:
        written.append(plot_recall(haystacks, folder / "recall.png"))
    return written


def markdown(results: Sequence[BenchmarkResult], context: dict[str, Any]) -> str:
    """Tables per benchmark: recall@1/5/16 and per-family recall@5 per system, abstention, times."""
    lines = ["# memsa retrieval evaluation", ""]
    lines += [f"- {key}: {_plain(value)}" for key, value in context.items()]
    for result in results:
        benchmark = result.benchmark
        families = [f for f in (*FAMILY_ORDER, *sorted(_families(result))) if f in _families(result)]
        families = list(dict.fromkeys(families))
        counts = _count_families(result)
        lines += ["", f"## {benchmark.name}: {benchmark.size_tokens:,} tokens, {len(benchmark.documents):,} "
                      f"documents, {len(benchmark.queries)} questions "
                      f"({', '.join(f'{f} {n}' for f, n in counts.items())})", ""]
        ks = sorted(result.retrieval[result.runs[0].system]["all"].recall) or list(RECALL_AT)
        focus = 5 if 5 in ks else ks[-1]
        header = ["system", *(f"R@{k}" for k in ks), *(f"{f} R@{focus}" for f in families),
                  "current>stale", "abstain P/R", "index tok/s", "query ms"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for run in result.runs:
            scores = result.retrieval[run.system]
            overall = scores["all"]
            updated = scores.get("updated")
            abstention = result.abstention.get(run.system)
            row = [run.system, *(f"{overall.recall.get(k, 0):.3f}" for k in ks),
                   *(f"{scores[f].recall.get(focus, 0):.3f}" for f in families),
                   f"{updated.current_first:.2f}" if updated and updated.current_first is not None else "",
                   (f"{_fmt(abstention.precision)}/{_fmt(abstention.recall)}" if abstention else "n/a"),
                   f"{run.index_tokens / run.index_seconds:,.0f}" if run.index_seconds else "",
                   f"{run.query_ms:.1f}"]
            lines.append("| " + " | ".join(row) + " |")
        if result.answers:
            lines += ["", "Answers (exact match / F1 / answer contained), by condition:", "",
                      "| condition | questions | EM | F1 | contains | abstained |", "|---|---|---|---|---|---|"]
            for condition, by_family in result.answers.items():
                answered = by_family["all"]
                lines.append(f"| {condition} | {answered['questions']:.0f} | {answered['exact_match']:.3f} | "
                             f"{answered['f1']:.3f} | {answered['contains']:.3f} | {answered['abstained']:.3f} |")
    lines += ["", "memsa: the product's ranking, the router's fused with the exact-words index (memsa.core.lexical), "
              "its first documents re-read by the sentence model (memsa.core.rerank); memsa fused: before "
              "re-reading; memsa router: the router alone; memsa layer N: one router layer alone.",
              "R@k: share of gold documents in a system's top k (absent-fact questions excluded). "
              "current>stale: share of updated facts whose current document ranks above the stale one. "
              "abstain P/R: precision and recall of abstention on absent facts (memsa: the engine's rule, "
              "memsa.core.abstention; memsa router: the router's bar alone). index tok/s: "
              "memory tokens per second to encode (memsa: as recorded when the cache was filled) or index. "
              "query ms: per question, encoding it and ranking.", ""]
    return "\n".join(lines)


def plot_recall(results: Sequence[BenchmarkResult], path: Path, k: int = 5) -> Path:
    """Recall@k vs haystack size per system: one panel for all questions, one per needle family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(results, key=lambda result: result.benchmark.size_tokens)
    panels = ["all", *[f for f in FAMILY_ORDER if any(f in _families(r) for r in ordered)]]
    k = k if k in ordered[0].retrieval[ordered[0].runs[0].system]["all"].recall else max(
        ordered[0].retrieval[ordered[0].runs[0].system]["all"].recall)
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.6 * rows), sharey=True, squeeze=False)
    systems = [run.system for run in ordered[0].runs]
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    for axis, panel in zip(axes.flat, panels, strict=False):
        for system in systems:
            sizes = [r.benchmark.size_tokens for r in ordered if panel in r.retrieval.get(system, {})]
            values = [r.retrieval[system][panel].recall[k] for r in ordered if panel in r.retrieval.get(system, {})]
            style = "-" if "layer" not in system else ":"
            axis.plot(sizes, values, style, marker="o", label=system, linewidth=1.2 if "layer" in system else 2)
        axis.set_xscale("log")
        axis.set_title(f"{panel}: recall@{k}")
        axis.set_xlabel("memory tokens")
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel(f"recall@{k}")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _families(result: BenchmarkResult) -> set[str]:
    return {query.family for query in result.benchmark.queries if not query.absent}


def _count_families(result: BenchmarkResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for query in result.benchmark.queries:
        counts[query.family] = counts.get(query.family, 0) + 1
    return counts


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _plain(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
