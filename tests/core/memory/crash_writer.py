"""Crash-test writer: churns a memory bank until killed (run by test_bank_crash.py as a subprocess).

Usage: python crash_writer.py BANK_DIR SEED
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bank_fixtures import documents_for, make_identity, source_info  # noqa: E402

from memsa.core.memory.bank import MemoryBank  # noqa: E402


def main(directory: Path, seed: int) -> None:
    rng = random.Random(seed)
    # A tiny compaction threshold so that kills also land inside compactions.
    bank = MemoryBank.open(directory, make_identity(), auto_compact_min_rows=16)
    print("ready", flush=True)
    step = 0
    while True:
        path = f"/data/{rng.choice(['notes', 'mail', 'chat'])}/{rng.randrange(12)}.txt"
        choice = rng.random()
        if choice < 0.08:
            bank.delete_source(path)
        elif choice < 0.10:
            bank.delete_sources_under("/data/chat")
        elif choice < 0.15 and bank.source(path) is not None:
            bank.rename_source(path, path.replace(".txt", f".{step}.txt"))
        else:
            content_hash = f"{seed}:{step}:{path}"
            bank.put_source(source_info(path, content_hash), documents_for(content_hash))
        step += 1
        print(step, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
