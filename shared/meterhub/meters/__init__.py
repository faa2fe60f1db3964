"""Meters: create (single), read and search, enrollment derived from the catalog, meter events."""
