"""Find the files to remember under the paths a user gives."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from .readers import supported


def is_hidden(path: Path) -> bool:
    """Dot-files and dot-folders (``.git``, ``.cache`` …) are never remembered."""
    return path.name.startswith(".")


def discover(paths: Sequence[Path]) -> Iterator[Path]:
    """Yield readable-looking files: given files as they are, folders walked without following links.

    Hidden entries and files of unsupported formats inside folders are skipped silently; a file named
    explicitly is always yielded so its outcome (perhaps "unsupported format") is reported.
    """
    for path in paths:
        path = path.expanduser().absolute()
        if path.is_dir():
            for folder, subfolders, files in os.walk(path):
                subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
                for name in sorted(files):
                    candidate = Path(folder) / name
                    if not is_hidden(candidate) and supported(candidate) and not candidate.is_symlink():
                        yield candidate
        else:
            yield path
