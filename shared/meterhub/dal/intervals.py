"""Interval storage: one item per meter per UTC day holding its 96 slots, merged on write.

Key design (IntervalsTable): PARTNER#<pid>#METER#<meter_id> | DAY#<YYYY-MM-DD>. The partition starts with the
partner id (tenant isolation) and holds one meter's days in order, so a read-back of a date range is one
Query. Merges are read-modify-conditional-write on a `version` attribute, so two uploads touching the same
day never lose each other's slots; applying the same file twice gives the same item (idempotent).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from botocore.exceptions import ClientError

from meterhub.dal import clients
from meterhub.dal.codec import key
from meterhub.dal.errors import is_condition_failure, translate
from meterhub.errors import Conflict, StorageUnavailable
from meterhub.ingest.slots import DaySlots, merge_day

MERGE_ATTEMPTS = 5
THROTTLE_ATTEMPTS = 8


class IntervalStore(Protocol):
    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None: ...

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        """The stored days first..last (inclusive), in order."""


def _pk(partner_id: str, meter_id: str) -> str:
    return f"PARTNER#{partner_id}#METER#{meter_id}"


class DynamoIntervalStore:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        """Throttling that outlasts botocore's own retries is retried here with backoff: a file's days are
        written one by one, and giving up on one would restart the whole file."""
        for attempt in range(THROTTLE_ATTEMPTS):
            try:
                self._merge_once(partner_id, meter_id, day, incoming)
                return
            except StorageUnavailable:
                if attempt == THROTTLE_ATTEMPTS - 1:
                    raise
                time.sleep(min(0.05 * 2**attempt, 3.0))

    def _merge_once(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        item_key = key(_pk(partner_id, meter_id), f"DAY#{day.isoformat()}")
        for _ in range(MERGE_ATTEMPTS):
            current = clients.dynamodb().get_item(TableName=self._table, Key=item_key, ConsistentRead=True).get("Item")
            version = int(current["version"]["N"]) if current else 0
            existing = DaySlots.from_record(json.loads(current["slots"]["S"])) if current else None
            merged = merge_day(existing, incoming)
            condition: dict[str, Any] = (
                {
                    "ConditionExpression": "version = :version",
                    "ExpressionAttributeValues": {":version": {"N": str(version)}},
                }
                if current
                else {"ConditionExpression": "attribute_not_exists(pk)"}
            )
            try:
                clients.dynamodb().put_item(
                    TableName=self._table,
                    Item={
                        **item_key,
                        "slots": {"S": json.dumps(merged.to_record(), separators=(",", ":"))},
                        "present_count": {"N": str(merged.count)},
                        "version": {"N": str(version + 1)},
                    },
                    **condition,
                )
            except ClientError as error:
                if is_condition_failure(error):
                    continue
                raise translate(error) from error
            return
        raise Conflict("The day was being written concurrently; retry")

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        request: Any = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": _pk(partner_id, meter_id)},
                ":first": {"S": f"DAY#{first.isoformat()}"},
                ":last": {"S": f"DAY#{last.isoformat()}"},
            },
        }
        while True:
            page = clients.dynamodb().query(**request)
            for item in page.get("Items", []):
                yield date.fromisoformat(item["sk"]["S"][4:]), DaySlots.from_record(json.loads(item["slots"]["S"]))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class InMemoryIntervalStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, date], DaySlots] = {}

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        self.items[(partner_id, meter_id, day)] = merge_day(self.items.get((partner_id, meter_id, day)), incoming)

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        own = sorted((d, s) for (p, m, d), s in self.items.items() if p == partner_id and m == meter_id)
        yield from ((d, s) for d, s in own if first <= d <= last)


@lru_cache(maxsize=4)
def dynamo_interval_store(table_name: str) -> DynamoIntervalStore:
    return DynamoIntervalStore(table_name)
