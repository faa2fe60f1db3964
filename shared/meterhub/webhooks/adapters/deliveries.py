"""The per-subscription delivery log on DynamoDB, WebhooksTable (the `DeliveryLog` port of webhooks.ports).

Key design (see template.yaml):
  PARTNER#<pid>#WEBHOOK#<webhook_id> | DELIVERY#<webhook_event_id>   one event for one subscription: `doc` (the
      DeliveryRecord as JSON: event, status, attempts, next_attempt_at) + `round_no` and `attempt_count`
      (numbers, the concurrency guard) + `claimed_until` (the lease of the attempt in progress, if any)
      gsi1 PARTNER#<pid>#WEBHOOK#<webhook_id>#DELIVERIES | <created_at>#<webhook_event_id>   (newest first)
      + `expires_at_epoch` once the entry is DELIVERED or FAILED: DynamoDB's TTL removes it LOG_RETENTION_DAYS
      after its last change (a redelivery clears it), so the log of a busy or deleted webhook does not grow for good

Every write is conditional on (`round_no`, `attempt_count`) as read: attempt n is claimed and recorded only
over n-1 recorded attempts of the same round, so a task the queue redelivers never posts again.

`start_all` and `save_all` write an event's entries (one per subscription) in one TransactWriteItems per
TRANSACTION_ITEMS entries, each keeping its own condition. A cancelled transaction (some entry's condition
failed, or a conflict) is retried entry by entry, so each entry ends written or refused on its own merits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import error_code, is_condition_failure, translate
from meterhub.platform.codec import decode, key
from meterhub.webhooks.records import DeliveryRecord, DeliveryStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, QueryInputTypeDef
from meterhub.webhooks.ports import Claim

LOG_RETENTION_DAYS = 30  # an ended entry's lifetime: as long as a partner can look at it or redeliver it


# Entries per TransactWriteItems: DynamoDB takes 100 items and 4 MB; an entry carries its event (a few KB).
TRANSACTION_ITEMS = 25


def _key(partner_id: str, webhook_id: str, webhook_event_id: str) -> dict[str, Any]:
    return key(keys.webhook_log(partner_id, webhook_id), keys.delivery(webhook_event_id))


def sort_key(record: DeliveryRecord) -> str:
    return f"{record.created_at.astimezone(UTC).isoformat()}#{record.webhook_event_id}"


def expires_at(record: DeliveryRecord) -> int | None:
    """When DynamoDB's TTL may remove the entry (epoch seconds): None while attempts remain."""
    if record.status is DeliveryStatus.PENDING:
        return None
    return int((record.updated_at + timedelta(days=LOG_RETENTION_DAYS)).timestamp())


def _item(record: DeliveryRecord) -> dict[str, Any]:
    item = {
        **_key(record.partner_id, record.webhook_id, record.webhook_event_id),
        "gsi1pk": {"S": keys.webhook_deliveries(record.partner_id, record.webhook_id)},
        "gsi1sk": {"S": sort_key(record)},
        "doc": {"S": record.model_dump_json()},
        "round_no": {"N": str(record.round)},
        "attempt_count": {"N": str(record.attempt_count)},
    }
    expiry = expires_at(record)
    if expiry is not None:
        item["expires_at_epoch"] = {"N": str(expiry)}
    return item


def _record(item: dict[str, Any]) -> DeliveryRecord:
    return decode(item, DeliveryRecord)


class DynamoDeliveryLog:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def _start_put(self, record: DeliveryRecord, lease_until: float | None) -> PutTypeDef:
        item = _item(record)
        if lease_until is not None:
            item["claimed_until"] = {"N": repr(lease_until)}
        return {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}

    def _save_put(self, record: DeliveryRecord, expected_round: int, expected_count: int) -> PutTypeDef:
        return {
            "TableName": self._table,
            "Item": _item(record),
            "ConditionExpression": "round_no = :round AND attempt_count = :count",
            "ExpressionAttributeValues": {
                ":round": {"N": str(expected_round)},
                ":count": {"N": str(expected_count)},
            },
        }

    def start(self, record: DeliveryRecord) -> bool:
        return _put(self._start_put(record, None))

    def start_all(self, records: Sequence[DeliveryRecord], lease_until: float | None = None) -> list[bool]:
        return _put_all([self._start_put(record, lease_until) for record in records])

    def get(self, partner_id: str, webhook_id: str, webhook_event_id: str) -> DeliveryRecord | None:
        response = clients.dynamodb().get_item(
            TableName=self._table, Key=_key(partner_id, webhook_id, webhook_event_id), ConsistentRead=True
        )
        item = response.get("Item")
        return _record(item) if item else None

    def claim(
        self,
        partner_id: str,
        webhook_id: str,
        webhook_event_id: str,
        expected: tuple[int, int],
        now: float,
        lease_until: float,
    ) -> Claim:
        try:
            response = clients.dynamodb().update_item(
                TableName=self._table,
                Key=_key(partner_id, webhook_id, webhook_event_id),
                UpdateExpression="SET claimed_until = :until",
                ConditionExpression=(
                    "round_no = :round AND attempt_count = :count"
                    " AND (attribute_not_exists(claimed_until) OR claimed_until < :now)"
                ),
                ExpressionAttributeValues={
                    ":until": {"N": repr(lease_until)},
                    ":round": {"N": str(expected[0])},
                    ":count": {"N": str(expected[1])},
                    ":now": {"N": repr(now)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                item = error.response.get("Item")  # the entry as it stands (ALL_OLD), absent when there is none
                return Claim(_record(cast(dict[str, Any], item)) if item else None, taken=False)
            raise translate(error) from error
        return Claim(_record(response["Attributes"]), taken=True)

    def save(self, record: DeliveryRecord, expected_round: int, expected_count: int) -> bool:
        return _put(self._save_put(record, expected_round, expected_count))

    def save_all(self, changes: Sequence[tuple[DeliveryRecord, int, int]]) -> list[bool]:
        return _put_all([self._save_put(*change) for change in changes])

    def newest_first(
        self, partner_id: str, webhook_id: str, before: str | None = None
    ) -> Iterator[tuple[str, DeliveryRecord]]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk" + (" AND gsi1sk < :before" if before else ""),
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.webhook_deliveries(partner_id, webhook_id)},
                **({":before": {"S": before}} if before else {}),
            },
            "ScanIndexForward": False,
        }
        for item in paging.query(request):
            yield item["gsi1sk"]["S"], _record(item)


def _put(put: PutTypeDef) -> bool:
    """One conditional PutItem; False when its condition failed."""
    try:
        clients.dynamodb().put_item(**put)
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise translate(error) from error
    return True


def _put_all(puts: Sequence[PutTypeDef]) -> list[bool]:
    """The puts in transactions of TRANSACTION_ITEMS; a cancelled one is retried put by put (see the module)."""
    written: list[bool] = []
    for first in range(0, len(puts), TRANSACTION_ITEMS):
        chunk = puts[first : first + TRANSACTION_ITEMS]
        if len(chunk) == 1:
            written.append(_put(chunk[0]))
            continue
        try:
            clients.dynamodb().transact_write_items(TransactItems=[{"Put": put} for put in chunk])
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise translate(error) from error
            written.extend(_put(put) for put in chunk)
            continue
        written.extend([True] * len(chunk))
    return written


@lru_cache(maxsize=4)
def dynamo_delivery_log(table_name: str) -> DynamoDeliveryLog:
    return DynamoDeliveryLog(table_name)
