"""Named errors of the engine, split into those the user can fix and those that are our bug."""

from __future__ import annotations


class MemsaError(Exception):
    """Base of every error the engine raises on purpose.

    ``str(error)`` is one line a person can act on; the CLI prints it as is and exits non-zero.
    """


class UserFixableError(MemsaError):
    """Something the user can correct: a path, an option, a missing model, a full disk."""


class ModelNotFound(UserFixableError):
    """The chosen model file or folder does not exist or is not a model memsa can load."""


class UnsupportedModel(UserFixableError):
    """The model loads but its architecture cannot be used for memory (e.g. not a decoder LM)."""


class BankMismatch(UserFixableError):
    """The memory bank was built with another model or router than the one asked for."""


class StorageUnavailable(UserFixableError):
    """The data directory cannot be created, read or written (permissions, full disk, locked)."""


class StorageFull(StorageUnavailable):
    """The disk filled up during a write; nothing of the failed write became live."""


class InvalidInput(UserFixableError):
    """An argument or option is out of range or malformed."""


class CorruptBank(MemsaError):
    """The memory bank's files disagree in a way recovery cannot repair."""


class RouterUnavailable(UserFixableError):
    """No trained router projectors exist for the chosen model."""
