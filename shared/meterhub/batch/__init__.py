"""Batch meter jobs: the submitted payload, the worker that runs each asset through the create use case."""
