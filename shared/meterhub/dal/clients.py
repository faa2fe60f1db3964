"""Lazily created boto3 clients.

Clients are built on first use, never at import: cold starts stay short, and tests or the local runner can
point `AWS_ENDPOINT_URL` at moto before anything connects. botocore honours `AWS_ENDPOINT_URL` itself, so
the same code runs on AWS, on moto in tests and in the local runner.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    # Imported here, not at module level: boto3 costs ~130 ms to import, paid on first use instead of at
    # every cold start of functions that may not touch AWS on their first request.
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client("dynamodb", config=config)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    dynamodb.cache_clear()
