"""Measures how long the event loop is kept from running: a timer that records its own lateness."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer


@dataclass(frozen=True)
class StallReport:
    """Lateness of the monitor's ticks over a period.

    Attributes:
        ticks: timer ticks observed.
        longest_ms: the longest time the loop could not run beyond the timer's interval.
        p99_ms: the 99th percentile of that lateness.
        over_50ms: ticks that came more than 50 ms late.
        worst: the longest stalls as (seconds since the reset when the stall ended, milliseconds), longest first.
    """

    ticks: int
    longest_ms: float
    p99_ms: float
    over_50ms: int
    worst: tuple[tuple[float, float], ...] = ()


class StallMonitor(QObject):
    """A precise timer every ``interval_ms``; a tick that arrives late means the loop was busy that long."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_s = interval_ms / 1000
        self._lateness: list[float] = []
        self._times: list[float] = []
        self._last = self._reset_at = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.reset()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def resume(self) -> None:
        """Start ticking again after :meth:`stop`, keeping what was measured (the gap is not counted)."""
        self._last = time.perf_counter()
        self._timer.start()

    def reset(self) -> None:
        self._lateness = []
        self._times = []
        self._last = self._reset_at = time.perf_counter()

    def report(self) -> StallReport:
        """What was measured since the last :meth:`reset` (in milliseconds)."""
        lateness = sorted(self._lateness)
        if not lateness:
            return StallReport(0, 0.0, 0.0, 0)
        p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]
        order = sorted(range(len(self._lateness)), key=lambda i: self._lateness[i], reverse=True)[:5]
        return StallReport(
            ticks=len(lateness), longest_ms=lateness[-1] * 1000, p99_ms=p99 * 1000,
            over_50ms=sum(1 for value in lateness if value > 0.05),
            worst=tuple((self._times[i] - self._reset_at, self._lateness[i] * 1000) for i in order),
        )

    def _tick(self) -> None:
        now = time.perf_counter()
        self._lateness.append(max(0.0, now - self._last - self.interval_s))
        self._times.append(now)
        self._last = now
