"""Webhook subscriptions on DynamoDB (the `WebhookRepository` port of webhooks.ports).

Key design (WebhooksTable, see template.yaml):
  PARTNER#<pid> | WEBHOOK#<webhook_id>   the subscription: `doc` (JSON, without the secret) + `signing_secret`
Every key starts at the caller's partition, which is the tenant isolation: another partner's webhook is
simply not found. The dispatcher lists one partition to find the subscriptions of an event's partner.
The signing secret sits in its own attribute (the table is encrypted at rest) and is written only at creation:
a PUT overwrites the document and leaves the secret alone.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import key
from meterhub.webhooks.records import Subscription

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


_SECRET = "signing_secret"  # noqa: S105 - an attribute name, not a secret


def _key(partner_id: str, webhook_id: str) -> dict[str, Any]:
    return key(keys.partner(partner_id), keys.webhook(webhook_id))


def _doc(subscription: Subscription) -> str:
    return subscription.model_dump_json(exclude={_SECRET})


def _subscription(item: dict[str, Any]) -> Subscription:
    values = json.loads(item["doc"]["S"])
    return Subscription.model_validate({**values, _SECRET: item[_SECRET]["S"]})


class DynamoWebhookRepository:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def create(self, subscription: Subscription) -> None:
        item = {
            **_key(subscription.partner_id, subscription.webhook_id),
            "doc": {"S": _doc(subscription)},
            _SECRET: {"S": subscription.signing_secret},
        }
        try:
            clients.dynamodb().put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            raise translate(error, conflict_title="Webhook already exists") from error

    def get(self, partner_id: str, webhook_id: str) -> Subscription | None:
        response = clients.dynamodb().get_item(
            TableName=self._table, Key=_key(partner_id, webhook_id), ConsistentRead=True
        )
        item = response.get("Item")
        return _subscription(item) if item else None

    def for_partner(self, partner_id: str) -> list[Subscription]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": keys.partner(partner_id)}, ":prefix": {"S": keys.WEBHOOK}},
            "ConsistentRead": True,
        }
        return [_subscription(item) for item in paging.query(request)]

    def replace(self, subscription: Subscription) -> bool:
        current = self.get(subscription.partner_id, subscription.webhook_id)
        if current is None:
            return False
        kept = subscription.model_copy(update={"created_at": current.created_at, _SECRET: current.signing_secret})
        try:
            clients.dynamodb().update_item(
                TableName=self._table,
                Key=_key(subscription.partner_id, subscription.webhook_id),
                UpdateExpression="SET doc = :doc",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":doc": {"S": _doc(kept)}},
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False  # deleted between the read and the write
            raise translate(error) from error
        return True

    def delete(self, partner_id: str, webhook_id: str) -> bool:
        try:
            clients.dynamodb().delete_item(
                TableName=self._table, Key=_key(partner_id, webhook_id), ConditionExpression="attribute_exists(pk)"
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise translate(error) from error
        return True


@lru_cache(maxsize=4)
def dynamo_webhook_repository(table_name: str) -> DynamoWebhookRepository:
    return DynamoWebhookRepository(table_name)
