"""Opening a bank folder: a private directory, the one-writer process lock, the identity check."""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
from pathlib import Path

from ..errors import BankMismatch, StorageUnavailable
from .index import ROW_SPACES, MemoryIndex
from .records import BankIdentity

log = logging.getLogger(__name__)

LOCK_FILE = "lock"


def make_private_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
    except OSError as error:
        raise StorageUnavailable(f"Cannot create the memory folder {directory}: {error.strerror}") from error


def acquire_lock(directory: Path, *, shared: bool) -> int:
    """An flock on DIR/lock, held while the bank is open: exclusive for a writer, shared for readers."""
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY if shared and path.exists() else os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StorageUnavailable(f"Cannot open the memory folder {directory}: {error.strerror}") from error
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError as error:
        os.close(fd)
        raise StorageUnavailable(
            f"{directory}: memory is in use by another memsa process; close it and try again."
        ) from error
    except OSError as error:
        os.close(fd)
        raise StorageUnavailable(f"Cannot lock the memory folder {directory}: {error.strerror}") from error
    return fd


def settle_identity(
    index: MemoryIndex, identity: BankIdentity, directory: Path, *, adopt: bool, read_only: bool
) -> None:
    """Check that the bank belongs to ``identity``; record it on a new bank, or adopt it if asked."""
    stored = index.identity()
    if stored is None:
        if read_only:
            raise StorageUnavailable(f"There is no memory at {directory} yet; add some folders first.")
        index.set_identity(identity)
        return
    differing = [
        field.name
        for field in dataclasses.fields(BankIdentity)
        if field.name != "model_name" and getattr(stored, field.name) != getattr(identity, field.name)
    ]
    if not differing:
        if stored != identity and not read_only:
            index.set_identity(identity)  # only the display name changed
        return
    if not adopt:
        raise BankMismatch(
            f"The memory at {directory} was built for {stored.describe()}, not {identity.describe()} "
            f"(differs in {', '.join(differing)}); "
            "run `memsa reencode` to re-encode the memory for the new model."
        )
    generation = max(space.generation for space in index.row_spaces().values()) + 1
    with index.transaction():
        index.clear_encodings()
        for space in ROW_SPACES:
            index.set_row_space(space, committed_rows=0, generation=generation)
        index.set_identity(identity)
    log.warning(
        "the memory at %s now belongs to %s; its documents need re-encoding", directory, identity.describe()
    )
