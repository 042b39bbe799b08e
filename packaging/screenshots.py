"""Run the real app on the default model, save screenshots of its main states and measure event-loop stalls.

    .venv/bin/python packaging/screenshots.py OUT_DIR [--theme light|dark] [--notes N]

Without a display it re-runs itself under ``xvfb-run``. The app starts on a fresh data folder with the first-run
wizard, remembers the bundled sample notes plus N notes made from the standard library's documentation (and one
broken file, to show a failure), answers a question, opens its first citation, and shows Sources and Settings.
Screens: 01-first-run, 02-sources-progress, 03-chat-citation, 04-sources-done, 05-settings.

The longest event-loop stall is measured by the app's StallMonitor in each phase and printed as a table, with the
idle window as the baseline.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

QUESTION = "When is the dentist appointment?"
STDLIB_MODULES = (
    "argparse", "asyncio", "base64", "bisect", "calendar", "collections", "contextlib", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "email", "enum", "fractions", "functools", "gettext", "glob", "gzip",
    "hashlib", "heapq", "hmac", "html", "http", "imaplib", "inspect", "ipaddress", "itertools", "json",
    "logging", "mailbox", "math", "mimetypes", "operator", "os", "pathlib", "pickle", "platform", "pprint",
    "queue", "random", "re", "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib", "socket",
    "sqlite3", "statistics", "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
    "timeit", "tokenize", "traceback", "typing", "unittest", "urllib", "uuid", "warnings", "wave", "weakref",
    "zipfile", "zlib",
)


def reexec_under_xvfb() -> None:
    """Without a display, run this same command under xvfb-run (which must be installed)."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        raise SystemExit("no display and no xvfb-run: apt-get install -y xvfb (or run in a desktop session)")
    command = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, *sys.argv]
    raise SystemExit(subprocess.call(command))


def make_notes(folder: Path, count: int) -> Path:
    """``count`` Markdown notes from standard-library documentation, and one broken PDF."""
    import importlib

    folder.mkdir(parents=True, exist_ok=True)
    for name in STDLIB_MODULES[:count]:
        module = importlib.import_module(name)
        parts = [f"# {name}", inspect.getdoc(module) or ""]
        for attribute, value in sorted(vars(module).items())[:40]:
            if not attribute.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value)):
                parts.append(f"## {attribute}\n\n{inspect.getdoc(value) or ''}")
        (folder / f"{name}.md").write_text("\n\n".join(parts)[:6000], encoding="utf-8")
    (folder / "scanned-receipt.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n")
    return folder


class Driver:
    """Drives the running app from the outside, waiting on its event loop (never sleeping past it)."""

    def __init__(self, memsa: object, out: Path) -> None:
        from PySide6.QtWidgets import QApplication

        self.memsa = memsa
        self.app = QApplication.instance()
        self.out = out
        self.stalls: list[tuple[str, object, float]] = []

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        from PySide6.QtCore import QEventLoop

        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)  # type: ignore[union-attr]
            time.sleep(0.005)

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        self.wait_until(lambda: time.monotonic() >= end, seconds + 5, "time to pass")

    def shot(self, widget: object, name: str) -> None:
        """Save a PNG of ``widget``; rendering it is this script's work, so the stall monitor skips it."""
        self.pump(0.3)
        monitor = self.memsa.stall_monitor  # type: ignore[attr-defined]
        monitor.stop()
        path = self.out / f"{name}.png"
        widget.grab().save(str(path))  # type: ignore[attr-defined]
        monitor.resume()
        print(f"saved {path}")

    def measure(self, phase: str, run: Callable[[], None]) -> None:
        monitor = self.memsa.stall_monitor  # type: ignore[attr-defined]
        monitor.reset()
        started = time.monotonic()
        run()
        self.stalls.append((phase, monitor.report(), time.monotonic() - started))


def print_stall_table(stalls: list[tuple[str, object, float]]) -> None:
    baseline = next((report for phase, report, _ in stalls if phase == "idle"), None)
    print("\nEvent-loop stalls (StallMonitor, 10 ms timer; target: longest <= 50 ms)")
    print(f"{'phase':<12} {'seconds':>8} {'ticks':>7} {'longest ms':>11} {'p99 ms':>8} {'>50 ms':>7} {'vs idle':>8}")
    for phase, report, seconds in stalls:
        ratio = report.longest_ms / max(baseline.longest_ms, 0.1) if baseline else float("nan")  # type: ignore[attr-defined]
        print(f"{phase:<12} {seconds:>8.1f} {report.ticks:>7} {report.longest_ms:>11.1f} "  # type: ignore[attr-defined]
              f"{report.p99_ms:>8.1f} {report.over_50ms:>7} {ratio:>7.1f}x")  # type: ignore[attr-defined]
    print("\nlongest stalls per phase (ended at s: ms):")
    for phase, report, _ in stalls:
        worst = ", ".join(f"{at:.1f}: {ms:.0f}" for at, ms in report.worst)  # type: ignore[attr-defined]
        print(f"  {phase:<12} {worst}")


def run(out: Path, theme: str, notes: int) -> None:
    from PySide6.QtWidgets import QApplication

    from memsa.app.gui.application import LaunchOptions, MemsaApp, create_qapplication
    from memsa.app.gui.preferences import Preferences, save_preferences

    work = Path(tempfile.mkdtemp(prefix="memsa-screens-"))
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")  # QSettings and preferences stay in this run
    preferences_file = work / "preferences.json"
    save_preferences(Preferences(data_dir=work / "memory", theme=theme), preferences_file)
    folder = make_notes(work / "Notes", notes)
    app = create_qapplication(sys.argv[:1])
    memsa = MemsaApp(app, LaunchOptions(preferences_file=preferences_file))
    window = memsa.window
    window.resize(1360, 860)
    driver = Driver(memsa, out)
    memsa.stall_monitor.start()
    memsa.start()
    wizard = memsa.wizard
    assert wizard is not None
    wizard.add_path(folder)
    wizard.samples.setChecked(True)
    driver.pump(0.5)
    driver.measure("idle", lambda: driver.pump(2.0))
    driver.shot(wizard, "01-first-run")
    wizard.start_button.click()

    driver.measure("opening", lambda: driver.wait_until(lambda: memsa.facade.ready, 600, "the engine to open"))

    def ingest() -> None:
        driver.wait_until(lambda: window.sources.progress.value() >= 3, 600, "ingestion to start")
        driver.shot(window, "02-sources-progress")
        driver.wait_until(lambda: window.sources.counts.text().endswith("done"), 900, "ingestion to finish")

    driver.measure("ingesting", ingest)
    driver.pump(1.0)
    driver.shot(window, "04-sources-done")
    window.show_page(0)
    window.new_conversation()

    def answer() -> None:
        window.chat.composer.setPlainText(QUESTION)
        window.chat.submit()
        driver.wait_until(lambda: not window.chat.busy, 600, "the answer")

    driver.measure("answering", answer)
    chips = window.chat.turn_widgets()[-1].chip_buttons()
    if chips:
        chips[0].click()
        driver.wait_until(lambda: "cited" in window.citation_panel.text.toHtml(), 60, "the passage")
    driver.shot(window, "03-chat-citation")
    window.show_page(2)
    driver.shot(window, "05-settings")
    memsa.shutdown()
    QApplication.processEvents()
    print(f"\nstart-up: libraries loaded before the window in {memsa.startup_s:.1f} s")
    print_stall_table(driver.stalls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--notes", type=int, default=60, help="standard-library notes to remember besides samples")
    args = parser.parse_args()
    reexec_under_xvfb()
    args.out.mkdir(parents=True, exist_ok=True)
    run(args.out, args.theme, args.notes)


if __name__ == "__main__":
    main()
