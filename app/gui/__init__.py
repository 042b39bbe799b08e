"""The desktop app: a PySide6 window over one façade that owns the engine and the ingest worker."""
