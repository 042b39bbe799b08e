"""Ignore rules and discovery: hidden entries, .memsaignore per subtree, excludes, size cap, links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsa.core.errors import InvalidInput
from memsa.ingest.discovery import Found, walk
from memsa.ingest.ignoring import IgnoreConfig, IgnoreRules


def _write(path: Path, text: str = "some words .") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _walk(root: Path, config: IgnoreConfig | None = None) -> dict[str, Found]:
    return {str(found.path.relative_to(root)): found for found in walk(root, IgnoreRules(root, config))}


def test_hidden_memsaignore_and_excludes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for name in ["a.txt", "b.tmp.txt", ".hidden.txt", ".git/config.txt", "docs/keep.md", "docs/drafts/x.md",
                 "docs/log.txt", "other/log.txt", "build/out.txt", "photo.jpg"]:
        _write(root / name)
    _write(root / "docs" / ".memsaignore", "drafts/\n*.txt\n")
    _write(root / ".memsaignore", "build/\n")
    found = _walk(root, IgnoreConfig(excludes=("*.tmp.txt",)))
    # .memsaignore in docs/ applies to docs/ only: other/log.txt stays.
    assert set(found) == {"a.txt", "docs/keep.md", "other/log.txt"}
    assert all(not item.problem for item in found.values())


def test_a_deeper_memsaignore_can_take_back_a_rule(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root / "notes" / "keep.log.txt")
    _write(root / "notes" / "drop.log.txt")
    _write(root / ".memsaignore", "*.log.txt\n")
    _write(root / "notes" / ".memsaignore", "!keep.log.txt\n")
    assert set(_walk(root)) == {"notes/keep.log.txt"}
    rules = IgnoreRules(root)
    assert rules.ignores(root / "notes" / "drop.log.txt", is_dir=False)
    assert not rules.ignores(root / "notes" / "keep.log.txt", is_dir=False)
    assert rules.ignores(root / ".git" / "x.txt", is_dir=False)


def test_rules_follow_an_edited_memsaignore(tmp_path: Path) -> None:
    root = tmp_path / "root"
    target = _write(root / "a.txt")
    rules = IgnoreRules(root)
    assert not rules.ignores(target, is_dir=False)
    ignore = _write(root / ".memsaignore", "a.txt\n")
    os.utime(ignore, ns=(1, 1))
    assert rules.ignores(target, is_dir=False)


def test_size_cap_is_a_recorded_skip(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root / "small.txt", "x" * 10)
    _write(root / "big.txt", "x" * 5000)
    found = _walk(root, IgnoreConfig(max_file_bytes=1000))
    assert not found["small.txt"].problem
    assert found["big.txt"].skipped and "size cap" in found["big.txt"].problem


def test_malformed_settings_are_refused() -> None:
    with pytest.raises(InvalidInput):
        IgnoreConfig(max_file_bytes=0)


def test_links_never_leave_the_root_and_loops_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = _write(tmp_path / "outside" / "secret.txt")
    inside = _write(root / "real" / "note.txt")
    (root / "out.txt").symlink_to(outside)
    (root / "outdir").symlink_to(outside.parent, target_is_directory=True)
    (root / "alias.txt").symlink_to(inside)
    (root / "real" / "up").symlink_to(root, target_is_directory=True)
    (root / "loop_a.txt").symlink_to(root / "loop_b.txt")
    (root / "loop_b.txt").symlink_to(root / "loop_a.txt")
    (root / "gone.txt").symlink_to(root / "nothing.txt")
    os.mkfifo(root / "pipe.txt")
    found = _walk(root)
    assert not found["real/note.txt"].problem
    assert "alias.txt" not in found  # its target is remembered at its own place
    assert found["out.txt"].skipped and "outside the watched folder" in found["out.txt"].problem
    assert found["outdir"].skipped and "outside" in found["outdir"].problem
    assert "loop" in found["real/up"].problem and not found["real/up"].skipped
    assert "loop" in found["loop_a.txt"].problem and "loop" in found["loop_b.txt"].problem
    assert "dangling" in found["gone.txt"].problem
    assert found["pipe.txt"].skipped and "regular file" in found["pipe.txt"].problem
    assert not any("secret" in str(item.path) for item in found.values())


def test_an_unreadable_folder_is_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads folders whatever their mode")
    root = tmp_path / "root"
    locked = root / "locked"
    _write(locked / "a.txt")
    locked.chmod(0)
    try:
        found = _walk(root)
    finally:
        locked.chmod(0o700)
    assert "permission denied" in found["locked"].problem
