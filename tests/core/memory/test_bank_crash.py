"""Crash consistency: a writer SIGKILLed at random moments never leaves a broken or half-written bank."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from memsa.core.memory.bank import MemoryBank
from memsa.core.memory.records import BankIdentity
from tests.core.memory.bank_fixtures import assert_no_orphan_rows, check_bank

WRITER = Path(__file__).with_name("crash_writer.py")


def run_writer_until_killed(bank_dir: Path, seed: int, delay: float) -> int:
    """Start the writer, let it write for ``delay`` seconds after it opened the bank, SIGKILL it.

    Returns how many operations it finished (it prints one line per operation).
    """
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(bank_dir), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        first = writer.stdout.readline()
        assert first.strip() == "ready", writer.stderr.read() if writer.stderr else first
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        output, errors = writer.communicate(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL, errors  # it was still writing, not crashed by itself
    return len(output.splitlines())


def test_killed_writer_leaves_a_consistent_bank(tmp_path: Path, identity: BankIdentity) -> None:
    bank_dir = tmp_path / "memory"
    rng = random.Random(20260323)
    progress = 0
    for round_number in range(6):
        # Kill moments spread over the first operations; on a loaded machine they take longer.
        delay = rng.uniform(0.05, 1.0)
        progress += run_writer_until_killed(bank_dir, seed=round_number, delay=delay)
        with MemoryBank.open(bank_dir, identity) as bank:
            check_bank(bank)
            assert_no_orphan_rows(bank_dir)
    assert progress > 0, "the writer never got going; the test proved nothing"
    with MemoryBank.open(bank_dir, identity) as bank:
        assert bank.stats().sources > 0
