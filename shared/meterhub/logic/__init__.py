"""Use cases: one module per job, pure functions over repository ports."""
