"""What each ``memsa`` sub-command does; parsing and error reporting live in ``cli``."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from memsa.core.engine import Answer, Finished, MemoryEngine, Retrieved, TextDelta
from memsa.core.errors import InvalidInput
from memsa.core.settings import EngineSettings
from memsa.ingest.pipeline import FileOutcome, IngestProgress, ingest_paths
from memsa.ingest.watching import QueueProgress, WatchedRoot, WatchService

SAMPLE_QUESTION = "When is the dentist appointment?"


def ingest(settings: EngineSettings, args: argparse.Namespace) -> int:
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        raise InvalidInput(f"no such file or folder: {', '.join(missing)}")
    with MemoryEngine.open(settings) as engine:
        outcomes = _ingest_with_progress(engine, args.paths)
    if args.json:
        print(json.dumps([asdict(outcome) for outcome in outcomes], ensure_ascii=False))
    else:
        _print_ingest_summary(outcomes)
    return 0 if all(outcome.status != "failed" for outcome in outcomes) else 1


def _ingest_with_progress(engine: MemoryEngine, paths: list[Path]) -> list[FileOutcome]:
    bar = tqdm(total=0, unit="file", desc="remembering", file=sys.stderr, disable=not sys.stderr.isatty())

    def report(progress: IngestProgress) -> None:
        bar.total = progress.total
        bar.set_postfix(tokens=progress.tokens, refresh=False)
        bar.update(1)

    try:
        return ingest_paths(engine, paths, report)
    finally:
        bar.close()


def _print_ingest_summary(outcomes: list[FileOutcome]) -> None:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    tokens = sum(outcome.tokens for outcome in outcomes)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "no files found"
    print(f"{summary}; {tokens:,} tokens encoded")
    for outcome in outcomes:
        if outcome.status == "failed":
            print(f"  failed: {outcome.path}: {outcome.reason}")


def ask(settings: EngineSettings, args: argparse.Namespace) -> int:
    if not args.question.strip():
        raise InvalidInput("the question is empty")
    if args.top_k is not None and args.top_k < 1:
        raise InvalidInput("--top-k must be at least 1")
    if args.rounds is not None and not 1 <= args.rounds <= 16:
        raise InvalidInput("--rounds must be between 1 and 16")
    with MemoryEngine.open(settings) as engine:
        answer = _stream_answer(engine, args.question, args.top_k, quiet=args.json, rounds=args.rounds)
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        print_citations(answer)
        print_rounds(answer)
    return 0


def _stream_answer(
    engine: MemoryEngine, question: str, top_k: int | None, quiet: bool, rounds: int | None = None
) -> Answer:
    for event in engine.ask(question, top_k, rounds=rounds):
        if isinstance(event, TextDelta) and not quiet:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Finished):
            if not quiet:
                sys.stdout.write("\n")
            return event.answer
        elif isinstance(event, Retrieved):
            continue
    raise AssertionError("the engine's answer stream ended without a Finished event")


def answer_json(answer: Answer) -> dict[str, object]:
    """The ``ask --json`` object: {answer, citations, timings, rounds}."""
    return {
        "answer": answer.text,
        "citations": [
            {"doc_id": c.doc_id, "path": c.path, "start": c.start, "end": c.end, "score": round(c.score, 4),
             "snippet": c.snippet, "anchor": c.anchor}
            for c in answer.citations
        ],
        "timings": answer.timings,
        "rounds": rounds_json(answer),
    }


def rounds_json(answer: Answer) -> list[dict[str, object]]:
    """Every interleave round: its routing query, the documents it read with their scores, its outcome."""
    rounds = []
    for record in answer.rounds:
        paths = {citation.doc_id: citation.path for citation in record.citations}
        documents = [
            {"doc_id": doc.doc_id, "path": paths.get(doc.doc_id, ""), "score": round(doc.score, 4),
             "relative_score": round(doc.relative_score, 4)}
            for doc in record.documents
        ]
        rounds.append({"round": record.index, "query": record.query, "documents": documents,
                       "ignored_ids": list(record.ignored_ids), "outcome": record.outcome.value})
    return rounds


def print_rounds(answer: Answer) -> None:
    """One line per round, when the engine routed more than once."""
    if len(answer.rounds) < 2:
        return
    print("\nRounds:")
    for record in answer.rounds:
        read = ", ".join(f"[{doc.doc_id}] {doc.score:.3f}" for doc in record.documents) or "nothing new"
        print(f"  {record.index}. read {read}; then {record.outcome.value}")


def print_citations(answer: Answer) -> None:
    if not answer.citations:
        return
    print("\nSources:")
    for citation in answer.citations:
        snippet = " ".join(citation.snippet.split())
        snippet = snippet if len(snippet) <= 160 else snippet[:157] + "..."
        anchor = f"  ({citation.anchor})" if citation.anchor else ""
        print(f"  [{citation.doc_id}] {citation.path}:{citation.start}-{citation.end}{anchor}"
              f"  score {citation.score:.3f}")
        print(f"      {snippet}")


def status(settings: EngineSettings, args: argparse.Namespace) -> int:
    with MemoryEngine.open(settings) as engine:
        stats = engine.status()
        report = {
            "data_dir": str(settings.data_dir),
            "model": engine.loaded.spec.name,
            "model_path": str(engine.loaded.spec.path),
            "router_layers": list(engine.router.spec.layers),
            "sources": stats.sources,
            "documents": stats.documents,
            "tokens": stats.tokens,
            "router_chunks": stats.router_chunks,
            "kv_chunks": stats.kv_chunks,
            "bytes_on_disk": stats.bytes_on_disk,
            "answers_by": "llama.cpp" if engine.answers_with_llama_cpp else "torch",
        }
        files = engine.bank.ledger.counts()
        failures = engine.bank.ledger.outcomes(status="failed", limit=STATUS_FAILURES)
        watched = engine.bank.ledger.roots()
    if args.json:
        report.update(files=files, failures=[asdict(outcome) for outcome in failures],
                      watched=[asdict(root) for root in watched])
        print(json.dumps(report))
        return 0
    width = max(map(len, report))
    for key, value in report.items():
        shown = f"{value:,}" if isinstance(value, int) else value
        print(f"{key.replace('_', ' '):<{width}}  {shown}")
    _print_files(files, failures, watched)
    return 0


STATUS_FAILURES = 20


def _print_files(files: dict[str, int], failures: list[FileOutcome], watched: list[WatchedRoot]) -> None:
    """The files part of ``memsa status``: outcomes per status, watched folders, the latest failures."""
    if files:
        print("files         " + ", ".join(f"{count:,} {status}" for status, count in files.items()))
    for root in watched:
        scanned = time.strftime("%Y-%m-%d %H:%M", time.localtime(root.last_scan)) if root.last_scan else "never"
        excludes = f"  (excluding {', '.join(root.excludes)})" if root.excludes else ""
        print(f"watching      {root.path}{excludes}  last scan {scanned}")
    if failures:
        shown = "latest " if files.get("failed", 0) > len(failures) else ""
        print(f"\n{shown}failures:")
        for outcome in failures:
            print(f"  {outcome.path}: {outcome.reason}")


def watch(settings: EngineSettings, args: argparse.Namespace) -> int:
    """Add the named folders to the watched ones, reconcile, then keep memory in step until Ctrl-C."""
    if args.quiet_seconds < 0:
        raise InvalidInput("--quiet-seconds cannot be negative")
    missing = [str(path) for path in args.paths if not path.is_dir()]
    if missing:
        raise InvalidInput(f"not a folder: {', '.join(missing)}")
    with MemoryEngine.open(settings) as engine:
        service = WatchService(engine, engine_lock=threading.Lock(), quiet_seconds=args.quiet_seconds,
                               listener=_print_outcome)
        for path in args.paths:
            service.add_root(path, excludes=args.exclude)
        roots = service.roots()
        if not roots:
            raise InvalidInput("no folder to watch yet: name one, e.g. memsa watch ~/Notes")
        service.start()
        print(f"watching {', '.join(root.path for root in roots)}; press Ctrl-C to stop", file=sys.stderr)
        try:
            while True:  # wake now and then: Ctrl-C may reach another thread, and only this one raises it
                time.sleep(0.25)
        except KeyboardInterrupt:
            print("stopping; what is still queued is picked up next time", file=sys.stderr)
        finally:
            service.stop()
    return 0


def _print_outcome(progress: QueueProgress) -> None:
    if progress.error:
        print(f"waiting: {progress.error}", file=sys.stderr, flush=True)
    outcome = progress.latest
    if outcome is None:
        return
    detail = f": {outcome.reason}" if outcome.reason else f" ({outcome.documents} documents)"
    print(f"{outcome.status:>9}  {outcome.path}{detail}", flush=True)


def forget(settings: EngineSettings, args: argparse.Namespace) -> int:
    target = str(args.path.expanduser().absolute())
    with MemoryEngine.open(settings) as engine:
        removed = engine.forget(target)
    if removed == 0:
        raise InvalidInput(f"memory holds nothing from {target}")
    print(f"forgot {removed} document{'s' if removed != 1 else ''} from {target}")
    return 0


def reencode(settings: EngineSettings, args: argparse.Namespace) -> int:
    with MemoryEngine.open(settings, adopt_identity=True) as engine:
        bar = tqdm(total=0, unit="doc", desc="re-encoding", file=sys.stderr, disable=not sys.stderr.isatty())

        def report(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        count = engine.reencode(report)
        bar.close()
    print(f"re-encoded {count} documents")
    return 0


def train_router(settings: EngineSettings, args: argparse.Namespace) -> int:
    from .train_router import run_training

    return run_training(settings, args)


def eval(settings: EngineSettings, args: argparse.Namespace) -> int:  # noqa: A001 (the sub-command's name)
    from .eval_command import run_eval

    return run_eval(settings, args)


def demo(settings: EngineSettings, args: argparse.Namespace) -> int:
    """Remember the bundled sample notes, then answer a question about them."""
    from importlib.resources import files

    samples = Path(str(files("memsa.resources"))) / "sample_notes"
    with MemoryEngine.open(settings) as engine:
        outcomes = _ingest_with_progress(engine, [samples])
        _print_ingest_summary(outcomes)
        question = args.question or SAMPLE_QUESTION
        print(f"\nQ: {question}\nA: ", end="", flush=True)
        answer = _stream_answer(engine, question, None, quiet=False)
    print_citations(answer)
    print(f'\nAsk your own: memsa ingest ~/Notes && memsa ask "..."  (data in {settings.data_dir})')
    return 0


def gui(settings: EngineSettings, args: argparse.Namespace) -> int:
    """Open the desktop app; ``--data-dir``, ``--model`` and ``--device`` override its saved settings."""
    import os

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        raise InvalidInput("no display to open the desktop app on; run it in a desktop session, or try `memsa demo`")
    from .gui.application import LaunchOptions, run

    device = args.device if args.device != "cpu" else None  # the option's default must not override Settings
    return run(LaunchOptions(data_dir=args.data_dir, model=args.model, device=device))
