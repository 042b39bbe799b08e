"""``memsa watch`` and the files part of ``memsa status``, through the real command line, on a tiny model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from memsa.app.cli import main
from tests.support.tiny_models import TinyModel
from tests.support.watch_engine import tiny_settings


def test_watch_until_interrupted_then_status_lists_outcomes(tiny_llama: TinyModel, data_dir: Path, tmp_path: Path,
                                                            capsys) -> None:  # type: ignore[no-untyped-def]
    tiny_settings(tiny_llama, data_dir)
    root = tmp_path / "notes"
    root.mkdir()
    (root / "cabin.txt").write_text("the wifi password at the lake cabin is tango 4 2 .")
    (root / "broken.txt").write_bytes(b"\x00\x01" * 50)
    (root / "draft.tmp.txt").write_text("red green .")
    common = ["--data-dir", str(data_dir), "--model", str(tiny_llama.path)]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "memsa.app.cli", "watch", str(root), "--exclude", "*.tmp.txt",
         "--quiet-seconds", "0.1", *common],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
        # A shell starts background jobs with Ctrl-C ignored, and children inherit that: give the watcher
        # the default, as in a terminal, however the tests were started.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert watcher.stdout is not None
        lines = [watcher.stdout.readline().strip() for _ in range(2)]
        watcher.send_signal(signal.SIGINT)
        _, errors = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, errors
    assert "press Ctrl-C to stop" in errors
    assert sorted(line.split()[0] for line in lines) == ["added", "failed"], lines
    assert any("broken.txt: binary" in line for line in lines), lines

    assert main(["status", "--json", *common]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"] == {"added": 1, "failed": 1}
    assert [failure["path"] for failure in report["failures"]] == [str(root / "broken.txt")]
    assert report["watched"][0]["path"] == str(root) and report["watched"][0]["excludes"] == ["*.tmp.txt"]
    assert main(["status", *common]) == 0
    text = capsys.readouterr().out
    assert "1 added, 1 failed" in text and f"{root / 'broken.txt'}: binary" in text


def test_watch_needs_a_folder(tiny_llama: TinyModel, data_dir: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    tiny_settings(tiny_llama, data_dir)
    common = ["--data-dir", str(data_dir), "--model", str(tiny_llama.path)]
    assert main(["watch", *common]) == 2
    assert "no folder to watch" in capsys.readouterr().err
    assert main(["watch", str(tmp_path / "missing"), *common]) == 2
    assert "not a folder" in capsys.readouterr().err
