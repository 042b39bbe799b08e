"""Fixtures for memory-bank tests: a fresh bank with tiny dims in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memsa.core.memory.bank import MemoryBank
from memsa.core.memory.records import BankIdentity
from tests.core.memory.bank_fixtures import make_identity


@pytest.fixture
def identity() -> BankIdentity:
    return make_identity()


@pytest.fixture
def bank_dir(tmp_path: Path) -> Path:
    return tmp_path / "memory"


@pytest.fixture
def fresh_bank(bank_dir: Path, identity: BankIdentity) -> Iterator[MemoryBank]:
    bank = MemoryBank.open(bank_dir, identity)
    yield bank
    bank.close()
