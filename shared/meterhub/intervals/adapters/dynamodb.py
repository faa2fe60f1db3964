"""Interval storage: one item per meter per UTC day holding its 96 slots, merged on write.

Key design (IntervalsTable): PARTNER#<pid>#METER#<meter_id> | DAY#<YYYY-MM-DD>. The partition starts with the
partner id (tenant isolation) and holds one meter's days in order, so a read-back of a date range is one
Query. Merges are read-modify-conditional-write on a `version` attribute, so two uploads touching the same
day never lose each other's slots; applying the same file twice gives the same item (idempotent).

Readings of another length L (seconds; L divides a day, L >= 60, L != 900: a utility's hourly, half-hourly
or 5-minute data, kept at its own length, never split) live in the same partition as
PARTNER#<pid>#METER#<meter_id> | LEN#<YYYY-MM-DD>#<L, 5 digits> with 86400/L slots (a `DaySlots` of length L),
merged with the same rule and the same conditional put on `version`. Why this key:
- `LEN#` sorts after every `DAY#` key and does not start with `DAY#`, so the 15-minute `DAY#first..DAY#last`
  range queries (ingest, read-back, gap search) never see a length item;
- the date comes before the length, so the length days of a date range, whatever lengths the utility used
  (it may change length over time), are one Query: `LEN#<first> .. LEN#<last>#~`, in (day, length) order;
- the zero-padded length keeps one day's lengths in numeric order and makes each length its own item, so two
  lengths never share (or fight over) one item.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from meterhub.intervals.rules.slots import DaySlots, merge_day
from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import key
from meterhub.platform.errors import Conflict, StorageUnavailable

MERGE_ATTEMPTS = 5


THROTTLE_ATTEMPTS = 8
THROTTLE_BASE_SECONDS = 0.05
THROTTLE_CAP_SECONDS = 3.0
"""Backoff between the store's own attempts: full jitter, a random wait up to min(cap, base * 2**attempt).

Why on top of botocore's standard retry mode (5 attempts, already jittered): a throttle that outlasts those
would otherwise fail the merge, and with it the whole file. Why jittered: pass 2 runs up to 64 merges at once
(`use_cases.bounded_merges`), and merges throttled together must not all come back at the same moment. Why not
botocore's adaptive mode: its client-side rate limiter is one token bucket per client, and one client serves
every thread and table of the process, so a throttled intervals table would also slow the job saves; it does not
coordinate across invocations either, so it would add little to the per-item backoff here."""


class DynamoIntervalStore:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        """Throttling that outlasts botocore's own retries is retried here with backoff: a file's days are
        written one by one, and giving up on one would restart the whole file."""
        item_key = key(keys.meter_intervals(partner_id, meter_id), keys.day(day))
        self._merge_with_backoff(item_key, incoming, {})

    def merge_length(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        """The same read-merge-conditional-put as `merge`, on the meter's item for `day` at this length."""
        item_key = key(keys.meter_intervals(partner_id, meter_id), keys.length_day(day, incoming.length))
        extra = {"interval_length_seconds": {"N": str(incoming.length)}}
        self._merge_with_backoff(item_key, incoming, extra)

    def _merge_with_backoff(
        self,
        item_key: dict[str, Any],
        incoming: DaySlots,
        extra: dict[str, Any],
    ) -> None:
        for attempt in range(THROTTLE_ATTEMPTS):
            try:
                self._merge_once(item_key, incoming, extra)
                return
            except StorageUnavailable:
                if attempt == THROTTLE_ATTEMPTS - 1:
                    raise
                ceiling = min(THROTTLE_BASE_SECONDS * 2**attempt, THROTTLE_CAP_SECONDS)
                time.sleep(random.uniform(0.0, ceiling))  # noqa: S311 (jitter, not a secret)

    def _merge_once(
        self,
        item_key: dict[str, Any],
        incoming: DaySlots,
        extra: dict[str, Any],
    ) -> None:
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
                        **extra,
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
        for item in self._query(partner_id, meter_id, keys.day(first), keys.day(last)):
            yield keys.day_of(item["sk"]["S"]), DaySlots.from_record(json.loads(item["slots"]["S"]))

    def length_days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        """One Query for every length: `~` sorts after the digits, so `LEN#<last>#~` closes the last day."""
        for item in self._query(partner_id, meter_id, keys.length_day(first), keys.length_days_through(last)):
            sort_key = item["sk"]["S"]
            day, length = keys.length_day_of(sort_key)
            stored = DaySlots.from_record(json.loads(item["slots"]["S"]))
            if stored.length != length:
                raise ValueError(f"the item {sort_key} holds {stored.length}-second slots")
            yield day, stored

    def _query(self, partner_id: str, meter_id: str, low: str, high: str) -> Iterator[dict[str, Any]]:
        request: Any = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.meter_intervals(partner_id, meter_id)},
                ":first": {"S": low},
                ":last": {"S": high},
            },
        }
        yield from paging.query(request)


@lru_cache(maxsize=4)
def dynamo_interval_store(table_name: str) -> DynamoIntervalStore:
    return DynamoIntervalStore(table_name)
