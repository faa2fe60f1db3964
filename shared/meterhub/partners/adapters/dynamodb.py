"""Partner and API-key storage on DynamoDB (the `PartnerRepository` port of partners.ports).

Key design (see template.yaml): PARTNER#<id>|PROFILE, ACCOUNT#<slug>|ACCOUNT, APIKEY#<hash>|APIKEY and
PARTNER#<id>|APIKEY#<key_id>.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meterhub.partners.records import ApiKeyRecord, KeyStatus, Partner
from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import from_item, key, to_item
from meterhub.platform.errors import NotFound

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class DynamoPartnerRepository:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def create_partner(self, partner: Partner) -> None:
        doc = partner.model_dump(mode="json")
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item({"pk": keys.partner(partner.partner_id), "sk": keys.PROFILE_SK, **doc}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            "pk": keys.account(partner.account),
                            "sk": keys.ACCOUNT_SK,
                            "partner_id": partner.partner_id,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            clients.dynamodb().transact_write_items(TransactItems=items)
        except ClientError as error:
            raise translate(error, conflict_title=f"Account '{partner.account}' already exists") from error

    def get_partner(self, partner_id: str) -> Partner | None:
        response = clients.dynamodb().get_item(
            TableName=self._table, Key=key(keys.partner(partner_id), keys.PROFILE_SK), ConsistentRead=True
        )
        item = response.get("Item")
        return Partner.model_validate(from_item(item)) if item else None

    def find_partner_by_account(self, account: str) -> Partner | None:
        response = clients.dynamodb().get_item(TableName=self._table, Key=key(keys.account(account), keys.ACCOUNT_SK))
        item = response.get("Item")
        return self.get_partner(item["partner_id"]["S"]) if item else None

    def set_connect_redirect_url(self, partner_id: str, url: str | None) -> None:
        expression = "SET connect_redirect_url = :url" if url else "REMOVE connect_redirect_url"
        extra: dict[str, Any] = {"ExpressionAttributeValues": {":url": {"S": url}}} if url else {}
        try:
            clients.dynamodb().update_item(
                TableName=self._table,
                Key=key(keys.partner(partner_id), keys.PROFILE_SK),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                **extra,
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise NotFound("Partner not found", {"partner_id": partner_id}) from error
            raise translate(error) from error

    def add_api_key(self, record: ApiKeyRecord) -> None:
        doc = record.model_dump(mode="json", exclude_none=True)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item({"pk": keys.api_key(record.key_hash), "sk": keys.API_KEY_SK, **doc}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item({"pk": keys.partner(record.partner_id), "sk": keys.api_key(record.key_id), **doc}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            clients.dynamodb().transact_write_items(TransactItems=items)
        except ClientError as error:
            raise translate(error, conflict_title="API key already exists") from error

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        response = clients.dynamodb().get_item(TableName=self._table, Key=key(keys.api_key(key_hash), keys.API_KEY_SK))
        item = response.get("Item")
        return ApiKeyRecord.model_validate(from_item(item)) if item else None

    def list_api_keys(self, partner_id: str) -> list[ApiKeyRecord]:
        items = paging.query(
            {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": keys.partner(partner_id)}, ":prefix": {"S": keys.API_KEY}},
            }
        )
        return [ApiKeyRecord.model_validate(from_item(item)) for item in items]

    def revoke_api_key(self, partner_id: str, key_id: str, revoked_at: datetime) -> None:
        listed = clients.dynamodb().get_item(
            TableName=self._table, Key=key(keys.partner(partner_id), keys.api_key(key_id)), ConsistentRead=True
        )
        if "Item" not in listed:
            raise NotFound("API key not found", {"key_id": key_id})
        record = ApiKeyRecord.model_validate(from_item(listed["Item"]))
        values = to_item({":revoked": KeyStatus.REVOKED.value, ":at": revoked_at.isoformat()})
        clients.dynamodb().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": item_key,
                        "UpdateExpression": "SET #status = :revoked, revoked_at = :at",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": values,
                    }
                }
                for item_key in (
                    key(keys.api_key(record.key_hash), keys.API_KEY_SK),
                    key(keys.partner(partner_id), keys.api_key(key_id)),
                )
            ]
        )


@lru_cache(maxsize=4)
def dynamo_partner_repository(table_name: str) -> DynamoPartnerRepository:
    return DynamoPartnerRepository(table_name)
