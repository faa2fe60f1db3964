"""Meter storage on DynamoDB (the `MeterRepository` port of meters.ports).

Key design (see template.yaml): PARTNER#<pid>|METER#<meter_id> holds the meter, PARTNER#<pid>|REF#<ref>
guards partner_reference uniqueness; both are written in one transaction with attribute_not_exists, so two
concurrent creates with one reference give exactly one meter. Corrected references move the same way: the
new guards (attribute_not_exists), the old guards' removal and the meters' versioned puts are one transaction.
Every key starts at the caller's partition, which is the tenant isolation: no code path can address another
partner's meter.

Enrollment indexes, written with the meter from its stored enrollment state (meters.records.EnrollmentState):
* gsi2 (gsi2pk = PARTNER#<pid>#STATUS#<global status>, gsi1sk): a search by global enrollment status queries one
  partition per status asked for, in creation order, reading only meters of those statuses;
* gsi3 (sparse; gsi3pk = PARTNER#<pid>#ACTIONS, gsi1sk): only meters with a required action, each carrying
  `action_types` and `partner_action_required`, for the partner_action_required and action_type filters;
* gsi4 (sparse, keys only; gsi4pk = REVIEW#<0..9>, gsi4sk = <review_at>#<pid>#<meter_id>): the meters whose
  enrollment time will change, in due order, for the scheduled transition run (`due_for_review`).
A search by one of these reads pages of the index bounded by the page size (Limit), never the partner's whole set.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meterhub.meters.records import MeterRecord
from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import decode, key
from meterhub.platform.errors import Conflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        ScanInputTypeDef,
        TransactWriteItemTypeDef,
    )
from meterhub.meters.ports import MeterPage, MeterQuery, ReferenceTaken


def _sort_key(meter: MeterRecord) -> str:
    return keys.created(meter.created_at, meter.meter_id)


def _meter_item(meter: MeterRecord) -> dict[str, AttributeValueTypeDef]:
    """The meter item: keys, the document as JSON, and the attributes searches filter on."""
    data = meter.data
    item: dict[str, AttributeValueTypeDef] = {
        **key(keys.partner(meter.partner_id), keys.meter(meter.meter_id)),
        "gsi1pk": {"S": keys.partner(meter.partner_id)},
        "gsi1sk": {"S": _sort_key(meter)},
        "doc": {"S": meter.model_dump_json()},
        "version": {"N": str(meter.version)},
        "partner_reference": {"S": meter.partner_reference},
        "transmission_region": {"S": str(data["transmission_region"])},
        "customer_classification": {"S": str(data["customer_classification"])},
        "meter_type": {"S": str(data["meter_type"])},
        "updated_at": {"S": meter.updated_at.isoformat()},
        "is_archived": {"BOOL": meter.is_archived},
    }
    state = meter.enrollment
    if state is not None:
        pid = meter.partner_id
        item["gsi2pk"] = {"S": keys.enrollment_status(pid, state.global_status)}
        action_types = {action.action_type for action in (*state.partner_actions, *state.leap_actions)}
        if action_types:
            item["gsi3pk"] = {"S": keys.action_required(pid)}
            item["action_types"] = {"SS": sorted(action_types)}
            item["partner_action_required"] = {"BOOL": bool(state.partner_actions)}
        item["gsi4pk"] = {"S": keys.review_shard(review_shard_of(meter.meter_id))}
        item["gsi4sk"] = {"S": keys.review_due(state.review_at, pid, meter.meter_id)}
    return item


REVIEW_PAGE = 1000


def review_shard_of(meter_id: str) -> int:
    return zlib.crc32(meter_id.encode()) % keys.REVIEW_SHARDS


def _record(item: dict[str, Any]) -> MeterRecord:
    return decode(item, MeterRecord)


class DynamoMeterRepository:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def create(self, meter: MeterRecord) -> None:
        pk = keys.partner(meter.partner_id)
        try:
            clients.dynamodb().transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **key(pk, keys.reference(meter.partner_reference)),
                                "meter_id": {"S": meter.meter_id},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _meter_item(meter),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if is_condition_failure(error):
                existing = self._reference_owner(meter.partner_id, meter.partner_reference)
                if existing is not None:
                    raise ReferenceTaken(existing) from error
            raise translate(error) from error

    def replace(self, meter: MeterRecord, expected_version: int) -> None:
        try:
            clients.dynamodb().put_item(
                TableName=self._table,
                Item=_meter_item(meter),
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict("The meter changed while it was being updated; retry") from error
            raise translate(error) from error

    def replace_all(self, replacements: Sequence[tuple[MeterRecord, int]]) -> None:
        """One transaction of conditional puts: a meter that moved on since it was read cancels every write."""
        if not replacements:
            return
        try:
            clients.dynamodb().transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _meter_item(meter),
                            "ConditionExpression": "version = :expected",
                            "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
                        }
                    }
                    for meter, expected_version in replacements
                ]
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict("A meter changed while it was being updated; retry") from error
            raise translate(error) from error

    def move_references(self, moves: Sequence[tuple[MeterRecord, str, int]]) -> None:
        """One transaction, at most three writes a move. A reference one move releases and another takes is a
        single put conditioned on its releaser (a transaction may touch an item only once)."""
        if not moves:
            return
        partner_id = moves[0][0].partner_id
        pk = keys.partner(partner_id)
        releasers = {previous: meter.meter_id for meter, previous, _ in moves}
        taken = {meter.partner_reference for meter, _, _ in moves}
        writes: list[TransactWriteItemTypeDef] = []
        for meter, previous, expected_version in moves:
            owner: dict[str, AttributeValueTypeDef] = {":meter_id": {"S": meter.meter_id}}
            guard = {**key(pk, keys.reference(meter.partner_reference)), "meter_id": owner[":meter_id"]}
            releaser = releasers.get(meter.partner_reference)
            if releaser is None:
                writes.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": guard,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
            else:
                writes.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": guard,
                            "ConditionExpression": "meter_id = :releaser",
                            "ExpressionAttributeValues": {":releaser": {"S": releaser}},
                        }
                    }
                )
            if previous not in taken:
                writes.append(
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": key(pk, keys.reference(previous)),
                            "ConditionExpression": "meter_id = :meter_id",
                            "ExpressionAttributeValues": owner,
                        }
                    }
                )
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _meter_item(meter),
                        "ConditionExpression": "version = :expected",
                        "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
                    }
                }
            )
        try:
            clients.dynamodb().transact_write_items(TransactItems=writes)
        except ClientError as error:
            if is_condition_failure(error):
                for meter, _, _ in moves:
                    holder = self._reference_owner(partner_id, meter.partner_reference)
                    if holder not in (None, meter.meter_id, releasers.get(meter.partner_reference)):
                        raise ReferenceTaken(str(holder), meter.partner_reference) from error
                raise Conflict("A meter changed while its reference was being corrected; retry") from error
            raise translate(error) from error

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None:
        response = clients.dynamodb().get_item(
            TableName=self._table, Key=key(keys.partner(partner_id), keys.meter(meter_id)), ConsistentRead=True
        )
        item = response.get("Item")
        return _record(item) if item else None

    def get_by_reference(self, partner_id: str, partner_reference: str) -> MeterRecord | None:
        meter_id = self._reference_owner(partner_id, partner_reference)
        return self.get(partner_id, meter_id) if meter_id else None

    def _reference_owner(self, partner_id: str, partner_reference: str) -> str | None:
        response = clients.dynamodb().get_item(
            TableName=self._table,
            Key=key(keys.partner(partner_id), keys.reference(partner_reference)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return item["meter_id"]["S"] if item else None

    def search(self, partner_id: str, query: MeterQuery, page_size: int, cursor: str | None) -> MeterPage:
        if query.meter_ids is not None or query.partner_references is not None:
            meters = sorted(self._direct_candidates(partner_id, query), key=_sort_key)
            return _page(iter(meters), query, page_size, cursor)
        if query.global_statuses is not None:
            # One index partition per status, merged in creation order (the shared sort key).
            partitions = [keys.enrollment_status(partner_id, status) for status in query.global_statuses]
            streams = [self._scan_partition(partition, query, cursor, "gsi2", page_size) for partition in partitions]
            return _page(heapq.merge(*streams, key=_sort_key), query, page_size, None)
        if query.partner_action_required or query.action_types is not None:
            candidates = self._scan_partition(keys.action_required(partner_id), query, cursor, "gsi3", page_size)
            return _page(candidates, query, page_size, None)
        return _page(self._scan_partition(keys.partner(partner_id), query, cursor), query, page_size, None)

    def due_for_review(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(partner_id, meter_id) of every meter whose enrollment review time has come, shard after shard."""
        bound = keys.review_due(now) + "#\uffff"  # after every key of that instant
        for shard in range(keys.REVIEW_SHARDS):
            request: QueryInputTypeDef = {
                "TableName": self._table,
                "IndexName": "gsi4",
                "KeyConditionExpression": "gsi4pk = :pk AND gsi4sk <= :due",
                "ExpressionAttributeValues": {":pk": {"S": keys.review_shard(shard)}, ":due": {"S": bound}},
                "Limit": REVIEW_PAGE,  # keys held at a time: the run's memory does not grow with the fleet
            }
            for item in paging.query(request):
                partner = item["pk"]["S"].removeprefix(keys.PARTNER)
                yield partner, item["sk"]["S"].removeprefix(keys.METER)

    def without_enrollment(self) -> Iterator[tuple[str, str]]:
        """Meters stored before enrollment was kept (no review key): the backfill's work list, by a scan."""
        request: ScanInputTypeDef = {
            "TableName": self._table,
            "FilterExpression": "begins_with(sk, :meter) AND attribute_not_exists(gsi4pk)",
            "ExpressionAttributeValues": {":meter": {"S": keys.METER}},
            "ProjectionExpression": "pk, sk",
        }
        for item in paging.scan(request):
            yield item["pk"]["S"].removeprefix(keys.PARTNER), item["sk"]["S"].removeprefix(keys.METER)

    def _direct_candidates(self, partner_id: str, query: MeterQuery) -> list[MeterRecord]:
        """Meters named by id or reference (bounded lists: at most 1000 of each), fetched by key."""
        pk = keys.partner(partner_id)
        ids = set(query.meter_ids or ())
        if query.partner_references is not None:
            ref_keys = [key(pk, keys.reference(ref)) for ref in query.partner_references]
            owners = {item["meter_id"]["S"] for item in paging.batch_get(self._table, ref_keys)}
            ids = owners if query.meter_ids is None else ids & owners
        meter_keys = [key(pk, keys.meter(mid)) for mid in sorted(ids)]
        return [_record(item) for item in paging.batch_get(self._table, meter_keys)]

    def _scan_partition(
        self, partition: str, query: MeterQuery, cursor: str | None, index: str = "gsi1", page_size: int | None = None
    ) -> Iterator[MeterRecord]:
        """A partition of the partner's meters (gsi1: all of them; gsi2: one status; gsi3: those with a required
        action) in creation order, starting after `cursor`, read `page_size + 1` items a request when given.

        Region, class and type are filtered server-side; the remaining conditions are checked by `_page`.
        """
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {":pk": {"S": partition}}
        condition = f"{index}pk = :pk"
        # Sort keys hold UTC times, so bounds are compared as UTC text too.
        after, before = query.created_after, query.created_before
        low = cursor or (keys.created(after) if after else None)
        high = keys.created(before) if before else None
        if low and high:
            condition += " AND gsi1sk BETWEEN :low AND :high"
            values.update({":low": {"S": low}, ":high": {"S": high}})
        elif low:
            condition += " AND gsi1sk > :low"
            values[":low"] = {"S": low}
        elif high:
            condition += " AND gsi1sk < :high"
            values[":high"] = {"S": high}
        filters: list[str] = []
        for attribute, wanted in (
            ("transmission_region", (query.transmission_region,) if query.transmission_region else None),
            ("customer_classification", (query.customer_classification,) if query.customer_classification else None),
            ("meter_type", query.meter_types),
        ):
            if wanted:
                names[f"#{attribute}"] = attribute
                placeholders = []
                for position, value in enumerate(wanted):
                    values[f":{attribute}{position}"] = {"S": value}
                    placeholders.append(f":{attribute}{position}")
                filters.append(f"#{attribute} IN ({', '.join(placeholders)})")
        if query.partner_action_required and index == "gsi3":
            filters.append("partner_action_required = :required")
            values[":required"] = {"BOOL": True}
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if page_size is not None:
            request["Limit"] = page_size + 1
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
            if names:
                request["ExpressionAttributeNames"] = names
        for item in paging.query(request):
            yield _record(item)


def _page(meters: Iterator[MeterRecord], query: MeterQuery, page_size: int, after: str | None) -> MeterPage:
    """Take up to page_size matches after `after`; the cursor is set only when more meters may follow."""
    selected: list[MeterRecord] = []
    for meter in meters:
        if after is not None and _sort_key(meter) <= after:
            continue
        if not query.matches(meter):
            continue
        if len(selected) == page_size:
            return MeterPage(selected, _sort_key(selected[-1]))
        selected.append(meter)
    return MeterPage(selected, None)


@lru_cache(maxsize=4)
def dynamo_meter_repository(table_name: str) -> DynamoMeterRepository:
    return DynamoMeterRepository(table_name)
