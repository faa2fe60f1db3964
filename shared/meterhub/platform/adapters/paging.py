"""DynamoDB reads that span pages, written once.

Query answers at most 1 MB per call and BatchGetItem at most 100 keys (and may leave some
unprocessed): every caller that wants all of a result goes through these instead of its own loop. `query` is a
generator, so a caller that stops early (a page of search results) reads no further page.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from meterhub.platform.adapters import clients

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef, ScanInputTypeDef

BATCH_GET_LIMIT = 100  # keys per BatchGetItem request


def query(request: QueryInputTypeDef) -> Iterator[dict[str, Any]]:
    """Every item the Query matches, page after page (the caller's request is left as it was)."""
    request = copy.copy(request)
    while True:
        page = clients.dynamodb().query(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scan(request: ScanInputTypeDef) -> Iterator[dict[str, Any]]:
    """Every item the Scan matches, page after page (for one-off migrations: a scan reads the whole table)."""
    request = copy.copy(request)
    while True:
        page = clients.dynamodb().scan(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def batch_get(
    table: str, keys: Sequence[dict[str, AttributeValueTypeDef]], *, consistent: bool = True
) -> list[dict[str, Any]]:
    """The items stored under `keys` (in no particular order; a missing key is skipped). A key asked for twice
    is fetched once: BatchGetItem refuses a request with repeats. Unprocessed keys are asked for again."""
    unique = list({json.dumps(k, sort_keys=True): k for k in keys}.values())
    items: list[dict[str, Any]] = []
    for start in range(0, len(unique), BATCH_GET_LIMIT):
        request: Any = {table: {"Keys": unique[start : start + BATCH_GET_LIMIT], "ConsistentRead": consistent}}
        while request:
            response = clients.dynamodb().batch_get_item(RequestItems=request)
            items.extend(response.get("Responses", {}).get(table, []))
            request = response.get("UnprocessedKeys") or None
    return items
