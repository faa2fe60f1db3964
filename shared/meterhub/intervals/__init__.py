"""Interval data: validation of 15-minute files, the ingest pipeline, storage, uploads, reads and gaps."""
