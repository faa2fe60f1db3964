"""Webhook subscriptions: the port, its DynamoDB adapter and an in-memory fake.

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
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from meterhub.dal.errors import is_condition_failure, translate
from meterhub.domain.webhooks import Subscription
from meterhub.errors import AlreadyExists
from meterhub.platform import clients, keys, paging
from meterhub.platform.codec import key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

_SECRET = "signing_secret"  # noqa: S105 - an attribute name, not a secret


class WebhookRepository(Protocol):
    def create(self, subscription: Subscription) -> None: ...

    def get(self, partner_id: str, webhook_id: str) -> Subscription | None: ...

    def for_partner(self, partner_id: str) -> list[Subscription]:
        """The partner's subscriptions in webhook_id order."""

    def replace(self, subscription: Subscription) -> bool:
        """Overwrite every setting but the secret and created_at; False when there is no such webhook."""

    def delete(self, partner_id: str, webhook_id: str) -> bool:
        """False when there was no such webhook."""


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


class InMemoryWebhookRepository:
    """A fake with the port's behaviour (partner-scoped keys, secret kept across replace)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Subscription] = {}

    def create(self, subscription: Subscription) -> None:
        k = (subscription.partner_id, subscription.webhook_id)
        if k in self.items:
            raise AlreadyExists("Webhook already exists")
        self.items[k] = subscription

    def get(self, partner_id: str, webhook_id: str) -> Subscription | None:
        return self.items.get((partner_id, webhook_id))

    def for_partner(self, partner_id: str) -> list[Subscription]:
        return [s for (pid, _), s in sorted(self.items.items()) if pid == partner_id]

    def replace(self, subscription: Subscription) -> bool:
        current = self.get(subscription.partner_id, subscription.webhook_id)
        if current is None:
            return False
        self.items[(subscription.partner_id, subscription.webhook_id)] = subscription.model_copy(
            update={"created_at": current.created_at, _SECRET: current.signing_secret}
        )
        return True

    def delete(self, partner_id: str, webhook_id: str) -> bool:
        return self.items.pop((partner_id, webhook_id), None) is not None


@lru_cache(maxsize=4)
def dynamo_webhook_repository(table_name: str) -> DynamoWebhookRepository:
    return DynamoWebhookRepository(table_name)
