"""Keeping the memory in step with the disk: a crash-safe event queue, reconcile and the watch service."""

from memsa.core.memory.records import FileOutcome, WatchedRoot

from .service import Listener, QueueProgress, WatchService

__all__ = ["FileOutcome", "Listener", "QueueProgress", "WatchService", "WatchedRoot"]
