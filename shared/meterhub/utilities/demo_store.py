"""The demo utility's OAuth state: authorization codes, access tokens and refresh tokens.

Port (`DemoStore`), DynamoDB adapter (ConnectTable) and an in-memory fake with the same behaviour.

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

import hashlib
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from meterhub.dal.errors import is_condition_failure, translate
from meterhub.platform import clients, keys
from meterhub.platform.codec import key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)
TTL_ATTRIBUTE = "expires_at_epoch"


def secret_hash(value: str) -> str:
    """SHA-256 hex of a code or token: the only form in which they are stored or compared."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CodeRecord:
    """What an authorization code stands for, as issued by the authorize endpoint."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    username: str
    subscription_id: str
    expires_at: datetime
    used: bool = False
    issued_refresh_hash: str | None = None  # after a successful exchange: a replayed code ends that grant


@dataclass(frozen=True)
class TokenRecord:
    """An access or refresh token's grant; `sibling` is the hash of the other token of the pair."""

    client_id: str
    scope: str
    username: str
    subscription_id: str
    expires_at: datetime
    sibling: str


class DemoStore(Protocol):
    def put_code(self, code_hash: str, record: CodeRecord) -> None: ...

    def redeem_code(self, code_hash: str) -> CodeRecord | None:
        """Mark the code used, atomically. The record as it was before (`used` True: a replay), or None."""
        ...

    def note_issued(self, code_hash: str, refresh_hash: str) -> None:
        """Remember which refresh token the code was exchanged for (to end that grant on a replay)."""
        ...

    def put_tokens(self, access_hash: str, access: TokenRecord, refresh_hash: str, refresh: TokenRecord) -> None: ...

    def access_token(self, access_hash: str) -> TokenRecord | None: ...

    def refresh_token(self, refresh_hash: str) -> TokenRecord | None: ...

    def take_refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        """Delete the refresh token, atomically; its record, or None when it was already gone (single use)."""
        ...

    def delete_access_token(self, access_hash: str) -> None: ...

    def delete_refresh_token(self, refresh_hash: str) -> None: ...


# ----- DynamoDB ----------------------------------------------------------------------------------------------


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


# ----- in memory ---------------------------------------------------------------------------------------------


class InMemoryDemoStore:
    """A fake with the port's behaviour (single-use codes and refresh tokens, hashes only as keys)."""

    def __init__(self) -> None:
        self.codes: dict[str, CodeRecord] = {}
        self.access: dict[str, TokenRecord] = {}
        self.refresh: dict[str, TokenRecord] = {}
        self._lock = threading.Lock()

    def put_code(self, code_hash: str, record: CodeRecord) -> None:
        with self._lock:
            if code_hash in self.codes:
                raise ValueError("authorization code collision")
            self.codes[code_hash] = record

    def redeem_code(self, code_hash: str) -> CodeRecord | None:
        with self._lock:
            record = self.codes.get(code_hash)
            if record is not None and not record.used:
                self.codes[code_hash] = replace(record, used=True)
            return record

    def note_issued(self, code_hash: str, refresh_hash: str) -> None:
        with self._lock:
            record = self.codes.get(code_hash)
            if record is not None:
                self.codes[code_hash] = replace(record, issued_refresh_hash=refresh_hash)

    def put_tokens(self, access_hash: str, access: TokenRecord, refresh_hash: str, refresh: TokenRecord) -> None:
        with self._lock:
            self.refresh[refresh_hash] = refresh
            self.access[access_hash] = access

    def access_token(self, access_hash: str) -> TokenRecord | None:
        return self.access.get(access_hash)

    def refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        return self.refresh.get(refresh_hash)

    def take_refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        with self._lock:
            return self.refresh.pop(refresh_hash, None)

    def delete_access_token(self, access_hash: str) -> None:
        with self._lock:
            self.access.pop(access_hash, None)

    def delete_refresh_token(self, refresh_hash: str) -> None:
        with self._lock:
            self.refresh.pop(refresh_hash, None)
