"""The demo utility's OAuth state: authorization codes, access tokens and refresh tokens.

The `DemoStore` port (demo_utility.ports) on DynamoDB (ConnectTable); tests/fakes holds the in-memory one.

Why hashes: a code or token is a bearer credential; only its SHA-256 (hex) is ever stored, as the key, so a
read of the table (a backup, a stream consumer, a debugging session) yields nothing that can be replayed.
Keys (ConnectTable, `pk`/`sk` strings, TTL attribute `expires_at_epoch` so DynamoDB reaps expired items):
  DEMO#CODE#<sha256>    | CODE      single use (a conditional update flips `used`), valid 60 s
  DEMO#TOKEN#<sha256>   | TOKEN     access token, valid 1 h; `sibling` = hash of its refresh token
  DEMO#REFRESH#<sha256> | REFRESH   refresh token, valid 30 days, single use (rotated on every refresh);
                                    `sibling` = hash of the access token issued with it
The sibling links let a revocation of either token end the whole grant, and a refresh delete the access
token it replaces. TTL deletion is lazy (up to days), so readers still check `expires_at` themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meterhub.platform import keys
from meterhub.platform.adapters import clients
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
from meterhub.demo_utility.records import CodeRecord, TokenRecord

TTL_ATTRIBUTE = "expires_at_epoch"


def _code_key(code_hash: str) -> dict[str, AttributeValueTypeDef]:
    return key(keys.demo_code(code_hash), keys.DEMO_CODE_SK)


def _access_key(access_hash: str) -> dict[str, AttributeValueTypeDef]:
    return key(keys.demo_token(access_hash), keys.DEMO_TOKEN_SK)


def _refresh_key(refresh_hash: str) -> dict[str, AttributeValueTypeDef]:
    return key(keys.demo_refresh(refresh_hash), keys.DEMO_REFRESH_SK)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(item: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(item[TTL_ATTRIBUTE]["N"]), UTC)


def _code_item(code_hash: str, record: CodeRecord) -> dict[str, AttributeValueTypeDef]:
    item: dict[str, AttributeValueTypeDef] = {
        **_code_key(code_hash),
        "client_id": {"S": record.client_id},
        "redirect_uri": {"S": record.redirect_uri},
        "code_challenge": {"S": record.code_challenge},
        "scope": {"S": record.scope},
        "username": {"S": record.username},
        "subscription_id": {"S": record.subscription_id},
        TTL_ATTRIBUTE: {"N": str(_epoch(record.expires_at))},
        "used": {"BOOL": record.used},
    }
    if record.issued_refresh_hash:
        item["issued_refresh_hash"] = {"S": record.issued_refresh_hash}
    return item


def _code_record(item: dict[str, Any]) -> CodeRecord:
    issued = item.get("issued_refresh_hash")
    return CodeRecord(
        client_id=item["client_id"]["S"],
        redirect_uri=item["redirect_uri"]["S"],
        code_challenge=item["code_challenge"]["S"],
        scope=item["scope"]["S"],
        username=item["username"]["S"],
        subscription_id=item["subscription_id"]["S"],
        expires_at=_moment(item),
        used=bool(item.get("used", {}).get("BOOL", False)),
        issued_refresh_hash=issued["S"] if issued else None,
    )


def _token_item(item_key: dict[str, AttributeValueTypeDef], record: TokenRecord) -> dict[str, AttributeValueTypeDef]:
    return {
        **item_key,
        "client_id": {"S": record.client_id},
        "scope": {"S": record.scope},
        "username": {"S": record.username},
        "subscription_id": {"S": record.subscription_id},
        TTL_ATTRIBUTE: {"N": str(_epoch(record.expires_at))},
        "sibling": {"S": record.sibling},
    }


def _token_record(item: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        client_id=item["client_id"]["S"],
        scope=item["scope"]["S"],
        username=item["username"]["S"],
        subscription_id=item["subscription_id"]["S"],
        expires_at=_moment(item),
        sibling=item["sibling"]["S"],
    )


class DynamoDemoStore:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def put_code(self, code_hash: str, record: CodeRecord) -> None:
        try:
            clients.dynamodb().put_item(
                TableName=self._table,
                Item=_code_item(code_hash, record),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            raise translate(error, conflict_title="Authorization code collision") from error

    def redeem_code(self, code_hash: str) -> CodeRecord | None:
        try:
            response = clients.dynamodb().update_item(
                TableName=self._table,
                Key=_code_key(code_hash),
                UpdateExpression="SET used = :true",
                ConditionExpression="attribute_exists(pk) AND used = :false",
                ExpressionAttributeValues={":true": {"BOOL": True}, ":false": {"BOOL": False}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise translate(error) from error
            current = self._get(_code_key(code_hash))
            return _code_record(current) if current else None
        return _code_record(dict(response["Attributes"]))

    def note_issued(self, code_hash: str, refresh_hash: str) -> None:
        try:
            clients.dynamodb().update_item(
                TableName=self._table,
                Key=_code_key(code_hash),
                UpdateExpression="SET issued_refresh_hash = :refresh",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":refresh": {"S": refresh_hash}},
            )
        except ClientError as error:
            if not is_condition_failure(error):  # the code expired and was reaped meanwhile: nothing to note
                raise translate(error) from error

    def put_tokens(self, access_hash: str, access: TokenRecord, refresh_hash: str, refresh: TokenRecord) -> None:
        dynamodb = clients.dynamodb()
        dynamodb.put_item(TableName=self._table, Item=_token_item(_refresh_key(refresh_hash), refresh))
        dynamodb.put_item(TableName=self._table, Item=_token_item(_access_key(access_hash), access))

    def access_token(self, access_hash: str) -> TokenRecord | None:
        item = self._get(_access_key(access_hash))
        return _token_record(item) if item else None

    def refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        item = self._get(_refresh_key(refresh_hash))
        return _token_record(item) if item else None

    def take_refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        try:
            response = clients.dynamodb().delete_item(
                TableName=self._table,
                Key=_refresh_key(refresh_hash),
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise translate(error) from error
        return _token_record(dict(response["Attributes"]))

    def delete_access_token(self, access_hash: str) -> None:
        clients.dynamodb().delete_item(TableName=self._table, Key=_access_key(access_hash))

    def delete_refresh_token(self, refresh_hash: str) -> None:
        clients.dynamodb().delete_item(TableName=self._table, Key=_refresh_key(refresh_hash))

    def _get(self, item_key: dict[str, AttributeValueTypeDef]) -> dict[str, Any] | None:
        response = clients.dynamodb().get_item(TableName=self._table, Key=item_key, ConsistentRead=True)
        item = response.get("Item")
        return dict(item) if item else None


@lru_cache(maxsize=4)
def dynamo_demo_store(table_name: str) -> DynamoDemoStore:
    return DynamoDemoStore(table_name)
