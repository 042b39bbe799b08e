"""Find the files to remember under the paths a user gives, by the ignore rules, never leaving a folder.

Symbolic links are never followed out of the folder being walked. A link that points inside it adds nothing
(its target is remembered at its own place), so none is followed at all, which also rules out link loops; a
link loop, a dangling link and a link leaving the folder are reported, each with its reason.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .ignoring import IgnoreRules
from .readers import chats, supported


@dataclass(frozen=True)
class Found:
    """A path discovery turned up: a file to read (``problem`` empty) or one it will not read, and why.

    Attributes:
        path: the file (or folder, for a folder that cannot be opened).
        problem: why it is not read; empty for a file to read.
        skipped: the problem is a rule (size cap, a link leaving the folder), not a fault.
    """

    path: Path
    problem: str = ""
    skipped: bool = False


def discover(paths: Sequence[Path]) -> Iterator[Found]:
    """Files under ``paths``: folders walked by their default rules, files named explicitly as they are.

    A file named explicitly is always yielded, so its outcome (perhaps "not a format memsa reads") is
    reported; inside folders, hidden entries and unsupported formats are passed over silently.
    """
    for path in paths:
        path = path.expanduser().absolute()
        if path.is_dir() and is_export_folder(path):
            yield Found(path)
        elif path.is_dir() and not path.is_symlink():
            yield from walk(path, IgnoreRules(path))
        elif path.is_dir():
            yield from walk(path.resolve(), IgnoreRules(path.resolve()))
        elif not storable(path):
            yield Found(path, UNSTORABLE_NAME, skipped=True)
        else:
            yield Found(path)


UNSTORABLE_NAME = "the file name is not valid UTF-8; rename the file to have it remembered"


def storable(path: Path | str) -> bool:
    """Whether memory can record this path (its name decodes as UTF-8)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def path_key(path: Path | str) -> str:
    """The path as memory records it: itself, or for a name that is not UTF-8, a readable stand-in."""
    text = str(path)
    return text if storable(text) else os.fsencode(text).decode("utf-8", "backslashreplace")


def walk(folder: Path, rules: IgnoreRules, skip_folders: Collection[Path] = ()) -> Iterator[Found]:
    """Every supported file inside ``folder`` (in sorted order, depth first) that ``rules`` keep.

    Args:
        folder: an absolute folder inside ``rules.root`` (or the root itself).
        rules: the root's ignore rules.
        skip_folders: folders not to enter (other watched roots nested inside this one).
    """
    real_root = os.path.realpath(rules.root)
    visited: set[tuple[int, int]] = set()
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            info = current.stat()
            with os.scandir(current) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            yield Found(current, f"cannot open the folder: {_describe(error)}")
            continue
        if (info.st_dev, info.st_ino) in visited:
            continue  # the same folder reached twice (a bind mount): walk it once
        visited.add((info.st_dev, info.st_ino))
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            found = _examine_entry(entry, path, current, rules, real_root)
            if found is None:
                continue
            if found.problem == _FOLDER:
                if path not in skip_folders:
                    subfolders.append(path)
                continue
            yield found
        pending.extend(reversed(subfolders))


_FOLDER = "\0folder"


def _examine_entry(
    entry: os.DirEntry[str], path: Path, folder: Path, rules: IgnoreRules, real_root: str
) -> Found | None:
    """What one directory entry is: None to pass over, a folder to enter (problem ``_FOLDER``), or a Found."""
    try:
        is_link = entry.is_symlink()
        is_dir = entry.is_dir(follow_symlinks=False)
    except OSError as error:
        return Found(path, f"cannot inspect: {_describe(error)}")
    if rules.ignores_entry(folder, entry.name, is_dir=is_dir):
        return None
    if not storable(entry.name):
        return Found(path, UNSTORABLE_NAME, skipped=True)
    if is_link:
        return examine_link(path, real_root)
    if is_dir:
        return Found(path) if is_export_folder(path) else Found(path, _FOLDER)
    return examine_file(path, rules)


def is_export_folder(path: Path) -> bool:
    """Whether a folder is read as one source (a Slack export) rather than walked."""
    try:
        return chats.detect(path) is not None
    except OSError:
        return False


def examine_file(path: Path, rules: IgnoreRules, *, explicit: bool = False) -> Found | None:
    """A file that passed the ignore rules: to read, too large, or (unless ``explicit``) None for a format
    memsa does not read or something that is not a regular file."""
    try:
        info = path.stat(follow_symlinks=False)
    except OSError as error:
        return Found(path, f"cannot read the file: {_describe(error)}")
    if not stat.S_ISREG(info.st_mode):
        if explicit or _supported(path):
            return Found(path, "not a regular file (a pipe, socket or device)", skipped=True)
        return None
    if not explicit and not _supported(path):
        return None
    reason = rules.too_large(info.st_size)
    return Found(path, reason, skipped=True) if reason else Found(path)


def examine_link(path: Path, real_root: str) -> Found | None:
    """A symbolic link inside a walked folder: a loop, a dangling link or a link leaving the folder is
    reported; one pointing inside adds nothing (its target is remembered where it is)."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return Found(path, f"dangling symbolic link (its target {os.readlink(path)} does not exist)")
    except RuntimeError:
        return Found(path, "symbolic link loop (the link leads back to itself)")
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Found(path, "symbolic link loop (the link leads back to itself)")
        return Found(path, f"cannot follow the symbolic link: {_describe(error)}")
    if os.path.commonpath([real_root, str(target)]) != real_root:
        if target.is_dir() or _supported(target):
            return Found(path, f"symbolic link to {target}, outside the watched folder", skipped=True)
        return None
    if target.is_dir() and os.path.commonpath([str(target), os.path.realpath(path.parent)]) == str(target):
        return Found(path, f"symbolic link loop (it points to {target}, a folder that contains it)")
    return None


def _supported(path: Path) -> bool:
    """Whether a reader exists; a file that cannot even be sniffed counts as supported, so its read fails
    with the reason instead of being passed over."""
    try:
        return supported(path)
    except OSError:
        return True


def _describe(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "it vanished"
    return error.strerror or str(error)
