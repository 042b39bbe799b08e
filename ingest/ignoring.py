"""Which files of a watched folder memsa leaves alone: hidden ones, ``.memsaignore`` rules, excludes, a size cap."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec

from memsa.core.errors import InvalidInput

log = logging.getLogger(__name__)

IGNORE_FILE = ".memsaignore"
DEFAULT_MAX_FILE_BYTES = 128 * 2**20


@dataclass(frozen=True)
class IgnoreConfig:
    """The rules of one watched root.

    Attributes:
        excludes: gitignore-style patterns relative to the root (``*.tmp``, ``build/``), on top of the
            ``.memsaignore`` files found in the root and its folders (each applies to its folder's subtree).
        max_file_bytes: larger files are skipped with a reason rather than read.
        skip_hidden: leave dot-files and dot-folders alone (``.git``, ``.cache``).
    """

    excludes: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    skip_hidden: bool = True

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1:
            raise InvalidInput("the size cap must be at least one byte")
        try:
            pathspec.GitIgnoreSpec.from_lines(self.excludes)
        except (ValueError, TypeError) as error:
            raise InvalidInput(f"an exclude pattern is not valid: {error}") from error


def is_hidden(name: str) -> bool:
    """Dot-files and dot-folders (``.git``, ``.cache`` …)."""
    return name.startswith(".")


class IgnoreRules:
    """Decides, for paths inside ``root``, whether memsa leaves them alone.

    ``.memsaignore`` files are parsed once per modification time; a deeper file's rules (negations included)
    override a shallower one's, as in git.
    """

    def __init__(self, root: Path, config: IgnoreConfig | None = None) -> None:
        self.root = root
        self.config = config or IgnoreConfig()
        self._excludes = pathspec.GitIgnoreSpec.from_lines(self.config.excludes)
        self._specs: dict[Path, tuple[int, pathspec.GitIgnoreSpec | None]] = {}

    def ignores(self, path: Path, *, is_dir: bool) -> bool:
        """Whether ``path`` (inside the root) or one of its folders is hidden, excluded or in .memsaignore."""
        try:
            relative = PurePosixPath(path.relative_to(self.root).as_posix())
        except ValueError:
            return False
        parts = relative.parts
        for depth in range(1, len(parts) + 1):
            entry_is_dir = is_dir or depth < len(parts)
            if self._ignores_entry(parts[:depth], entry_is_dir):
                return True
        return False

    def ignores_entry(self, folder: Path, name: str, *, is_dir: bool) -> bool:
        """Whether ``folder/name`` is left alone, given that ``folder`` itself is not (the walk's check)."""
        try:
            parts = PurePosixPath(folder.relative_to(self.root).as_posix(), name).parts
        except ValueError:
            return False
        return self._ignores_entry(parts, is_dir)

    def too_large(self, size: int) -> str:
        """Why a file of ``size`` bytes is skipped, or "" when it is within the cap."""
        cap = self.config.max_file_bytes
        if size <= cap:
            return ""
        return f"file is {size / 2**20:.1f} MiB, over the {cap / 2**20:.0f} MiB size cap for watched folders"

    def _ignores_entry(self, parts: tuple[str, ...], is_dir: bool) -> bool:
        """One entry, given as its parts relative to the root."""
        if self.config.skip_hidden and is_hidden(parts[-1]):
            return True
        suffix = "/" if is_dir else ""
        if self._excludes.match_file("/".join(parts) + suffix):
            return True
        verdict = False
        for depth in range(len(parts)):
            spec = self._spec(self.root.joinpath(*parts[:depth]))
            if spec is None:
                continue
            result = spec.check_file("/".join(parts[depth:]) + suffix)
            if result.include is not None:
                verdict = result.include
        return verdict

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        """The parsed ``.memsaignore`` of ``folder``, or None (no file, or unreadable: then it is logged)."""
        ignore_file = folder / IGNORE_FILE
        try:
            mtime = ignore_file.stat().st_mtime_ns
        except OSError:
            self._specs.pop(folder, None)
            return None
        cached = self._specs.get(folder)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        spec: pathspec.GitIgnoreSpec | None
        try:
            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
        except (OSError, ValueError, TypeError) as error:
            log.warning("%s cannot be used: %s", ignore_file, error)
            spec = None
        self._specs[folder] = (mtime, spec)
        return spec
