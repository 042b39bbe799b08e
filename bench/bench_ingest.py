"""Ingestion benchmark: reading + splitting speed without the model, and the latency from saving a file to its
document being answerable while WatchService runs with the default model.

Run: .venv/bin/python bench/bench_ingest.py [--files 1200] [--trials 5] [--quiet-seconds 0.5] [--skip-latency]

Part 1 generates a mixed folder (plain text, Markdown, HTML, e-mail, DOCX, PDF) of real prose and times
discovery + reading + splitting of every file against a baseline measured in the same run: reading and
hashing the same bytes (what the pipeline does anyway before it reads a changed file).
Part 2 watches a folder of notes with the real default model, saves a new note carrying a planted fact, and
times until the note's document is the top retrieved document for a question about the fact; its baseline
is ingesting the same kind of note directly (``ingest_file``), without the watcher.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

import docx

from memsa.core.engine import MemoryEngine
from memsa.core.settings import EngineSettings
from memsa.ingest.discovery import discover
from memsa.ingest.pipeline import ingest_file
from memsa.ingest.readers import read_source
from memsa.ingest.splitting import split_document
from memsa.ingest.watching import WatchService

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.real_text import stdlib_documents  # noqa: E402

FORMATS = (".txt", ".txt", ".txt", ".md", ".md", ".html", ".eml", ".docx", ".pdf", ".md")
FACTS = [
    ("The wifi password at the lake cabin is pinecone-harbor-42.", "What is the wifi password at the lake cabin?"),
    ("Aunt Margarethe's birthday is on the 17th of October.", "When is Aunt Margarethe's birthday?"),
    ("The spare key for the garden shed is under the blue flowerpot.", "Where is the spare key for the garden shed?"),
    ("The plumber Jonas Weller charges 85 euros per hour.", "How much does the plumber Jonas Weller charge?"),
    ("Our boat Seraphina is moored at pier 9 in Kiel harbour.", "Where is the boat Seraphina moored?"),
    ("The recipe for Grandma's plum cake needs 750 grams of plums.", "How many plums does Grandma's plum cake need?"),
]


def write_pdf(path: Path, lines: list[str]) -> None:
    """A PDF with one text line per page (Helvetica), with a correct cross-reference table."""
    count = len(lines)
    font = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    bodies = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode()]
    for i, line in enumerate(lines):
        safe = line.replace("\\", " ").replace("(", " ").replace(")", " ").encode("latin-1", "replace")
        stream = b"BT /F1 10 Tf 40 750 Td (" + safe + b") Tj ET"
        bodies.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font} 0 R"
                      f" >> >> /Contents {4 + 2 * i} 0 R >>".encode())
        bodies.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    bodies.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(f"trailer\n<< /Size {len(bodies) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    path.write_bytes(out.getvalue())


def write_file(path: Path, title: str, text: str) -> Path:
    """Write ``text`` as the format of ``path``'s suffix."""
    paragraphs = [part for part in text.split("\n\n") if part.strip()]
    suffix = path.suffix
    if suffix == ".txt":
        path.write_text(text, encoding="utf-8")
    elif suffix == ".md":
        body = "\n\n".join(f"## Part {i}\n\n{p}" if i % 3 == 0 else p for i, p in enumerate(paragraphs))
        path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    elif suffix == ".html":
        body = "".join(f"<p>{p.replace('<', '&lt;')}</p>" for p in paragraphs)
        path.write_text(f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>")
    elif suffix == ".eml":
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "ana@example.org", "ben@example.org", title
        message["Message-ID"] = f"<{title}-{len(text)}@example.org>"
        message.set_content(text)
        path.write_bytes(message.as_bytes())
    elif suffix == ".docx":
        document = docx.Document()
        document.add_heading(title, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
        document.save(str(path))
    elif suffix == ".pdf":
        write_pdf(path, [p[:90] for p in paragraphs[:12]] or [title])
    return path


def make_folder(folder: Path, files: int) -> list[Path]:
    """``files`` files of real prose in FORMATS, spread over 20 subfolders."""
    documents = stdlib_documents(400, min_chars=400, max_chars=12000)
    paths = []
    for number in range(files):
        title, text = documents[number % len(documents)]
        shift = (number // len(documents)) * 97 % max(1, len(text) // 2)
        suffix = FORMATS[number % len(FORMATS)]
        subfolder = folder / f"box{number % 20:02d}"
        subfolder.mkdir(parents=True, exist_ok=True)
        paths.append(write_file(subfolder / f"{title}-{number}{suffix}", title, text[shift:] or text))
    return paths


def reading_speed(folder: Path) -> list[tuple[str, int, int, float, float]]:
    """Rows (format, files, bytes, read+split seconds, read+hash seconds) and a total row."""
    found = [item.path for item in discover([folder]) if not item.problem]
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for path in found:
        row = totals[path.suffix]
        started = time.perf_counter()
        raw = path.read_bytes()
        hashlib.sha256(raw).hexdigest()
        row[3] += time.perf_counter() - started
        started = time.perf_counter()
        for document in read_source(path):
            split_document(document, 3000)
        row[2] += time.perf_counter() - started
        row[0] += 1
        row[1] += len(raw)
    rows = [(suffix, int(r[0]), int(r[1]), r[2], r[3]) for suffix, r in sorted(totals.items())]
    total = ("all", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows))
    return [*rows, total]


def save_to_answerable(trials: int, quiet_seconds: float) -> tuple[list[float], list[float], list[float]]:
    """(watch latencies, of which spent in the quiet period + queue, direct-ingest baselines), seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        notes = base / "notes"
        notes.mkdir()
        for title, text in stdlib_documents(30):
            (notes / f"{title}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
        lock = threading.Lock()
        with MemoryEngine.open(EngineSettings(data_dir=base / "data")) as engine:
            service = WatchService(engine, engine_lock=lock, quiet_seconds=quiet_seconds)
            service.start()
            service.add_root(notes)
            while service.pending() or not engine.bank.sources():
                time.sleep(0.2)
            latencies, waits, direct = [], [], []
            for trial in range(trials):
                fact, question = FACTS[trial % len(FACTS)]
                note = notes / f"planted-{trial}.txt"
                started = time.perf_counter()
                note.write_text(f"Notes from trial {trial}.\n\n{fact}\n", encoding="utf-8")
                recorded_at = None
                while True:
                    if recorded_at is None and engine.bank.ledger.outcome(str(note)):
                        recorded_at = time.perf_counter()
                    with lock:
                        routed = engine.retrieve(question) if recorded_at else []
                    if routed and routed[0].doc_id in set(engine.bank.document_ids(str(note))):
                        break
                    if time.perf_counter() - started > 120:
                        raise RuntimeError(f"trial {trial}: the note never became the top document")
                    time.sleep(0.02)
                latencies.append(time.perf_counter() - started)
                waits.append((recorded_at or started) - started)
                copy = base / f"direct-{trial}.txt"
                copy.write_text(f"Direct notes {trial}.\n\n{fact}\n", encoding="utf-8")
                started = time.perf_counter()
                with lock:
                    ingest_file(engine, copy)
                direct.append(time.perf_counter() - started)
            service.stop()
    return latencies, waits, direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1200)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--quiet-seconds", type=float, default=0.5)
    parser.add_argument("--skip-latency", action="store_true", help="only measure reading + splitting")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "mixed"
        make_folder(folder, args.files)
        rows = reading_speed(folder)
    print(f"\nReading + splitting (no model), {rows[-1][1]} files, {rows[-1][2] / 2**20:.1f} MiB")
    print(f"{'format':<7}{'files':>7}{'MiB':>8}{'files/s':>10}{'MB/s':>8}{'baseline MB/s':>15}{'ratio':>8}")
    for suffix, files, size, seconds, baseline in rows:
        print(f"{suffix:<7}{files:>7}{size / 2**20:>8.1f}{files / seconds:>10.0f}{size / 1e6 / seconds:>8.1f}"
              f"{size / 1e6 / baseline:>15.0f}{seconds / baseline:>8.0f}x")
    print("baseline: reading + SHA-256 of the same bytes; ratio: time of reading + splitting over the baseline")
    if args.skip_latency:
        return
    latencies, waits, direct = save_to_answerable(args.trials, args.quiet_seconds)
    print(f"\nSave -> answerable (default model, WatchService, quiet period {args.quiet_seconds} s), "
          f"{args.trials} trials")
    print(f"{'':<34}{'median s':>10}{'max s':>8}")
    for name, values in [("save to top retrieved document", latencies), ("  of which until recorded", waits),
                         ("baseline: ingest_file directly", direct)]:
        print(f"{name:<34}{statistics.median(values):>10.2f}{max(values):>8.2f}")
    print(f"ratio watch / direct: {statistics.median(latencies) / statistics.median(direct):.1f}x")


if __name__ == "__main__":
    main()
