"""Keeping the memory in step with the disk: ignore rules, a crash-safe queue, reconcile and the watch service."""
