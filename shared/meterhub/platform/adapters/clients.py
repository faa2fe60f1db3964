"""Lazily created boto3 clients.

Clients are built on first use, never at import: cold starts stay short (boto3 alone costs ~130 ms to import,
paid on first use instead of by every cold start), and tests or the local runner can point
`AWS_ENDPOINT_URL` at moto before anything connects. botocore honours `AWS_ENDPOINT_URL` itself, so the same
code runs on AWS, on moto in tests and in the local runner.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

MAX_POOL_CONNECTIONS = 64
"""Connections a client keeps (botocore's default is 10): interval ingestion shares one client among up to 64
merge threads (intervals.use_cases.bounded_merges.MAX_WRITE_CONCURRENCY), and a thread beyond the pool would
open and drop a connection per request."""

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


@lru_cache(maxsize=1)
def _session() -> Any:
    """One session for every client: each session parses botocore's endpoint and service models again, so a
    session per client made every cold start pay that once per service."""
    import boto3

    return boto3.session.Session()


def _client(service: str) -> Any:
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    return _session().client(service, config=config)


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


@lru_cache(maxsize=1)
def s3() -> S3Client:
    client: S3Client = _client("s3")
    return client


@lru_cache(maxsize=1)
def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


@lru_cache(maxsize=1)
def kms() -> KMSClient:
    client: KMSClient = _client("kms")
    return client


def reset() -> None:
    """Forget cached clients and their session (tests switch endpoints and credentials between cases)."""
    _session.cache_clear()
    dynamodb.cache_clear()
    s3.cache_clear()
    sqs.cache_clear()
    kms.cache_clear()
