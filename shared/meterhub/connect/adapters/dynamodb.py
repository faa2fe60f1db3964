"""Connect storage: sessions, authorization requests (states) and authorizations.

Key design (ConnectTable, see template.yaml):
  PARTNER#<pid> | SESSION#<session_id>   a Connect session: `doc` (JSON) + `version`
  PARTNER#<pid> | AUTH#<authorization_id> an authorization: `doc` (JSON) + `version` + `tokens` (KMS ciphertext)
  STATE#<sha256(state)> | STATE          one authorization request: `doc`, `used_at`, TTL `expires_at_epoch`
  LINK#<sha256(token)> | LINK            a partner-issued Connect link: `doc`, `claimed_by` (the session that
                                         opened it first), TTL `expires_at_epoch`
  gsi1 (sparse): a COMPLETED authorization carries gsi1pk = ACTIVE#<shard 0..9>, gsi1sk = <pid>#<authorization_id>
  so the daily refresh finds every live authorization with 10 small queries instead of a table scan.
Sessions and authorizations sit in the partner's partition (tenant isolation: no path reaches another
partner's items). A state is looked up by its hash because the callback does not know the partner yet; the
plain state is never stored, so a table read gives nothing that completes a flow. A link's token likewise.

Every change is conditional on `version` and the state changes that belong together (session UPDATED +
authorization INITIATED + the request; authorization COMPLETED + session COMPLETED) are one transaction,
because the table's stream turns each committed change into a webhook event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel

from meterhub.connect.records import (
    Authorization,
    AuthorizationRequest,
    AuthorizationStatus,
    ConnectSession,
    IssuedLink,
)
from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import decode, key
from meterhub.platform.errors import Conflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef
from meterhub.connect.ports import DROP_TOKENS

ACTIVE_SHARDS = 10


_Model = TypeVar("_Model", bound=BaseModel)


def _session_key(partner_id: str, session_id: str) -> dict[str, AttributeValueTypeDef]:
    return key(keys.partner(partner_id), keys.session(session_id))


def _auth_key(partner_id: str, authorization_id: str) -> dict[str, AttributeValueTypeDef]:
    return key(keys.partner(partner_id), keys.authorization(authorization_id))


def _state_key(state_hash: str) -> dict[str, AttributeValueTypeDef]:
    return key(keys.state(state_hash), keys.STATE_SK)


def _link_key(token_hash: str) -> dict[str, AttributeValueTypeDef]:
    return key(keys.link(token_hash), keys.LINK_SK)


def _active_shard(authorization_id: str) -> str:
    return keys.active_shard(int(hashlib.sha256(authorization_id.encode()).hexdigest()[:8], 16) % ACTIVE_SHARDS)


def _bumped(model: _Model) -> _Model:
    return model.model_copy(update={"version": model.version + 1})  # type: ignore[attr-defined]


def _load(model: type[_Model], item: dict[str, Any]) -> _Model:
    return decode(item, model)


class DynamoConnectRepository:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    # ----- writes -------------------------------------------------------------------------------------
    def _put_new(self, item_key: dict[str, AttributeValueTypeDef], model: BaseModel) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {**item_key, "doc": {"S": model.model_dump_json()}, "version": {"N": "1"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _update(
        self, item_key: dict[str, AttributeValueTypeDef], model: BaseModel, expected: int, tokens: bytes | None = None
    ) -> TransactWriteItemTypeDef:
        values: dict[str, AttributeValueTypeDef] = {
            ":doc": {"S": model.model_dump_json()},
            ":next": {"N": str(expected + 1)},
            ":expected": {"N": str(expected)},
        }
        expression = "SET doc = :doc, version = :next"
        removes: list[str] = []
        if isinstance(model, Authorization):
            # The sparse index of live authorizations follows the status (see the module docstring).
            if model.status is AuthorizationStatus.COMPLETED:
                values[":gpk"] = {"S": _active_shard(model.authorization_id)}
                values[":gsk"] = {"S": keys.active_authorization(model.partner_id, model.authorization_id)}
                expression += ", gsi1pk = :gpk, gsi1sk = :gsk"
            else:
                removes += ["gsi1pk", "gsi1sk"]
        if tokens == DROP_TOKENS:
            removes.append("tokens")
        elif tokens is not None:
            values[":tokens"] = {"B": tokens}
            expression += ", tokens = :tokens"
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        return {
            "Update": {
                "TableName": self._table,
                "Key": item_key,
                "UpdateExpression": expression,
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": values,
            }
        }

    def _write(self, items: list[TransactWriteItemTypeDef], conflict: str) -> None:
        try:
            if len(items) == 1 and "Update" in items[0]:
                clients.dynamodb().update_item(**items[0]["Update"])
            else:
                clients.dynamodb().transact_write_items(TransactItems=items)
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict(conflict) from error
            raise translate(error) from error

    def create_session(
        self, session: ConnectSession, *, link: IssuedLink | None = None, reclaimed_from: str | None = None
    ) -> None:
        put = self._put_new(_session_key(session.partner_id, session.session_id), session)
        if link is None:
            self._write([put], "Session exists")
            return
        condition = "attribute_exists(pk) AND (attribute_not_exists(claimed_by)"
        values: dict[str, AttributeValueTypeDef] = {":session": {"S": session.session_id}}
        if reclaimed_from:
            condition += " OR claimed_by = :previous"
            values[":previous"] = {"S": reclaimed_from}
        claim: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": _link_key(link.token_hash),
                "UpdateExpression": "SET claimed_by = :session",
                "ConditionExpression": condition + ")",
                "ExpressionAttributeValues": values,
            }
        }
        self._write([put, claim], "The link was already used")

    def create_link(self, link: IssuedLink) -> None:
        item: dict[str, AttributeValueTypeDef] = {
            **_link_key(link.token_hash),
            "doc": {"S": link.model_dump_json(exclude={"claimed_by"})},
            "expires_at_epoch": {"N": str(int(link.expires_at.timestamp()) + 86400)},
        }
        try:
            clients.dynamodb().put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict("Link exists") from error
            raise translate(error) from error

    def save_session(self, session: ConnectSession) -> ConnectSession:
        saved = _bumped(session)
        item_key = _session_key(session.partner_id, session.session_id)
        self._write([self._update(item_key, saved, session.version)], "The session changed meanwhile")
        return saved

    def start_authorization(
        self, session: ConnectSession, request: AuthorizationRequest, authorization: Authorization
    ) -> ConnectSession:
        saved = _bumped(session)
        state_item: dict[str, AttributeValueTypeDef] = {
            **_state_key(request.state_hash),
            "doc": {"S": request.model_dump_json()},
            "expires_at_epoch": {"N": str(int(request.expires_at.timestamp()) + 3600)},
        }
        self._write(
            [
                self._update(_session_key(session.partner_id, session.session_id), saved, session.version),
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": state_item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                self._put_new(_auth_key(authorization.partner_id, authorization.authorization_id), authorization),
            ],
            "The session changed meanwhile",
        )
        return saved

    def get_request(self, state_hash: str) -> AuthorizationRequest | None:
        item = self._get(_state_key(state_hash))
        return _load(AuthorizationRequest, item) if item and "used_at" not in item else None

    def consume_request(self, state_hash: str, at: datetime) -> AuthorizationRequest | None:
        try:
            response = clients.dynamodb().update_item(
                TableName=self._table,
                Key=_state_key(state_hash),
                UpdateExpression="SET used_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_at)",
                ExpressionAttributeValues={":at": {"S": at.isoformat()}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise translate(error) from error
        return _load(AuthorizationRequest, response["Attributes"])

    def save_authorization(
        self, authorization: Authorization, *, tokens: bytes | None = None, session: ConnectSession | None = None
    ) -> Authorization:
        saved = _bumped(authorization)
        items = [
            self._update(
                _auth_key(authorization.partner_id, authorization.authorization_id),
                saved,
                authorization.version,
                tokens,
            )
        ]
        if session is not None:
            items.append(
                self._update(_session_key(session.partner_id, session.session_id), _bumped(session), session.version)
            )
        self._write(items, "The authorization changed meanwhile")
        return saved

    # ----- reads --------------------------------------------------------------------------------------
    def _get(self, item_key: dict[str, AttributeValueTypeDef]) -> dict[str, Any] | None:
        response = clients.dynamodb().get_item(TableName=self._table, Key=item_key, ConsistentRead=True)
        return response.get("Item")

    def get_session(self, partner_id: str, session_id: str) -> ConnectSession | None:
        item = self._get(_session_key(partner_id, session_id))
        return _load(ConnectSession, item) if item else None

    def get_authorization(self, partner_id: str, authorization_id: str) -> Authorization | None:
        item = self._get(_auth_key(partner_id, authorization_id))
        return _load(Authorization, item) if item else None

    def get_link(self, token_hash: str) -> IssuedLink | None:
        item = self._get(_link_key(token_hash))
        if item is None:
            return None
        link = _load(IssuedLink, item)
        return link.model_copy(update={"claimed_by": item["claimed_by"]["S"]}) if "claimed_by" in item else link

    def get_tokens(self, partner_id: str, authorization_id: str) -> bytes | None:
        item = self._get(_auth_key(partner_id, authorization_id))
        return bytes(item["tokens"]["B"]) if item and "tokens" in item else None

    def _partition(self, partner_id: str, prefix: str) -> Iterator[dict[str, Any]]:
        yield from paging.query(
            {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": keys.partner(partner_id)}, ":prefix": {"S": prefix}},
                "ProjectionExpression": "doc",
            }
        )

    def sessions(self, partner_id: str) -> Iterator[ConnectSession]:
        return (_load(ConnectSession, item) for item in self._partition(partner_id, keys.SESSION))

    def authorizations(self, partner_id: str) -> Iterator[Authorization]:
        return (_load(Authorization, item) for item in self._partition(partner_id, keys.AUTH))

    def active_authorizations(self) -> Iterator[tuple[str, str]]:
        for shard in range(ACTIVE_SHARDS):
            for item in paging.query(
                {
                    "TableName": self._table,
                    "IndexName": "gsi1",
                    "KeyConditionExpression": "gsi1pk = :shard",
                    "ExpressionAttributeValues": {":shard": {"S": keys.active_shard(shard)}},
                    "ProjectionExpression": "gsi1sk",
                }
            ):
                yield keys.active_authorization_of(item["gsi1sk"]["S"])


@lru_cache(maxsize=4)
def dynamo_connect_repository(table_name: str) -> DynamoConnectRepository:
    return DynamoConnectRepository(table_name)
