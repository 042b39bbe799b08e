"""Crash safety of the ingestion queue: a watch process SIGKILLed mid-queue resumes where it stopped.

Run as a script, this file is the watch process: ``python test_watch_crash.py DATA_DIR MODEL ROOT`` opens the
memory, watches ROOT and prints every outcome once it is committed.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.tiny_models import TinyModel, random_text  # noqa: E402
from tests.support.watch_engine import open_tiny_engine, tiny_settings  # noqa: E402

FILES = 24


def run_watcher(data_dir: Path, model: Path, root: Path) -> None:
    """The watch process: reconcile ROOT, then drain until killed."""
    from memsa.core.engine import MemoryEngine
    from memsa.ingest.watching import QueueProgress, WatchService

    def report(progress: QueueProgress) -> None:
        if progress.latest is not None:
            print(progress.latest.status, progress.latest.path, flush=True)

    engine = MemoryEngine.open(tiny_settings(TinyModel(model, "llama", 4, 64), data_dir))
    service = WatchService(engine, engine_lock=threading.Lock(), quiet_seconds=0.0, listener=report)
    if not service.roots():
        service.add_root(root)
    service.start()
    print("ready", flush=True)
    while True:
        time.sleep(1)


def kill_after(data_dir: Path, model: TinyModel, root: Path, outcomes: int) -> list[str]:
    """Start a watch process, SIGKILL it once it printed ``outcomes`` outcomes; return the lines it printed."""
    process = subprocess.Popen(
        [sys.executable, __file__, str(data_dir), str(model.path), str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while len([line for line in lines if line != "ready"]) < outcomes:
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else "the watcher stopped"
            lines.append(line.strip())
        process.send_signal(signal.SIGKILL)
        rest, _ = process.communicate(timeout=30)
        lines += rest.splitlines()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    return [line for line in lines if line != "ready"]


def test_a_killed_watcher_resumes_its_queue_and_loses_nothing(tiny_llama: TinyModel, data_dir: Path,
                                                              tmp_path: Path) -> None:
    rng = random.Random(7)
    root = tmp_path / "notes"
    root.mkdir()
    for number in range(FILES):
        (root / f"note{number:02d}.txt").write_text(random_text(rng, 40 + rng.randrange(200)))
    tiny_settings(tiny_llama, data_dir)  # the router, installed once
    committed: set[str] = set()
    for round_number in range(2):
        printed = kill_after(data_dir, tiny_llama, root, outcomes=3 + rng.randrange(4))
        committed |= {line.split(" ", 1)[1] for line in printed if line.startswith("added ")}
        with open_tiny_engine(tiny_llama, data_dir) as engine:
            bank = engine.bank
            stored = {source.path: source for source in bank.sources()}
            assert committed <= set(stored), "an outcome reported as committed was lost"
            for path, source in stored.items():
                # Nothing half in: every stored file holds its documents and the outcome that came with them.
                assert source.documents > 0 and bank.ledger.outcome(path) is not None
                (record,) = bank.documents(bank.document_ids(path))
                assert record.text == Path(path).read_text().strip()
            assert bank.ledger.pending() > 0 or len(stored) == FILES
            assert len(stored) < FILES or round_number > 0, "the watcher finished before it was killed"
    with open_tiny_engine(tiny_llama, data_dir) as engine:
        from memsa.ingest.watching import WatchService

        service = WatchService(engine, quiet_seconds=0.0)
        service.start()
        try:
            deadline = time.monotonic() + 120
            while engine.bank.ledger.pending() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            service.stop()
        assert engine.bank.ledger.pending() == 0
        assert len(engine.bank.sources()) == FILES
        assert engine.bank.ledger.counts() == {"added": FILES}


if __name__ == "__main__":
    run_watcher(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
