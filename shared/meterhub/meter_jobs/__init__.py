"""Batch meter jobs: submit a JSON or CSV payload, create each asset through the meters feature, report per asset."""
