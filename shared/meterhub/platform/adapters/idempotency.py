"""Powertools idempotency persistence, built lazily on the shared DynamoDB client."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from meterhub.platform.adapters import clients

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer


@lru_cache(maxsize=4)
def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    # A fixed partition-key prefix keeps records stable across function renames and in the local runner.
    return DynamoDBPersistenceLayer(table_name=table_name, static_pk_value="meterhub", boto3_client=clients.dynamodb())
