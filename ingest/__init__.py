"""Readers, splitting and the ingestion pipeline that feeds files into the memory engine. Never imports Qt."""
