"""Market-group membership on DynamoDB (the `GroupMembership` port of meters.ports), in the meters table.

Keys (no index: every read is a Query of one partition):
* GROUP#<pid>#<group id>#<delivery period> | MEMBER#<meter_id>: one item per member; the partition names the
  partner, so listing a group never reads another partner's keys;
* GROUPCHANGES#<0..9> | <pid>#<group id>#<delivery period>: the mark of a changed group, holding the group and a
  `version` new at every change (an unconditional put: the last change's version wins). Groups are spread over
  ten partitions by key, as the review index spreads meters.

A mark is cleared with a condition on the version read, so a change recorded while a snapshot was being
published keeps its mark (`meters.use_cases.group_snapshots`).

Cost: a meter joining or leaving is two writes (its member item, its group's mark), made by the meter stream's
function. When a fleet joins one group at a deadline, every join rewrites that group's one mark item: DynamoDB
takes about 1,000 writes a second on one item, and the stream's function writes it at the pace it works through
its shards (a few milliseconds a write, one batch at a time per shard); a throttled write fails its record, which
the event source retries, and the mark's last write wins whatever the order.
Listing a group reads its partition in 1 MB pages (member items are ~150 bytes: ~6,000 a page).
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from meterhub.meters.records import GroupChange, MarketGroupPeriod
from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import decode, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


def _group_key(group: MarketGroupPeriod) -> str:
    return f"{group.partner_id}#{group.market_group_id}#{group.delivery_period}"


def _mark_key(group: MarketGroupPeriod) -> dict[str, dict[str, str]]:
    name = _group_key(group)
    shard = zlib.crc32(name.encode()) % keys.GROUP_CHANGE_SHARDS
    return key(keys.group_changes(shard), name)


class DynamoGroupMembership:
    def __init__(self, table: str) -> None:
        self._table = table

    def record(self, group: MarketGroupPeriod, meter_id: str, joined: bool, at: datetime) -> None:
        member = key(
            keys.market_group(group.partner_id, group.market_group_id, group.delivery_period), keys.member(meter_id)
        )
        mark = GroupChange(group=group, version=uuid.uuid4().hex, changed_at=at)
        try:
            if joined:
                clients.dynamodb().put_item(TableName=self._table, Item=member)
            else:
                clients.dynamodb().delete_item(TableName=self._table, Key=member)
            clients.dynamodb().put_item(
                TableName=self._table,
                Item={**_mark_key(group), "doc": {"S": mark.model_dump_json()}, "version": {"S": mark.version}},
            )
        except ClientError as error:
            raise translate(error) from error

    def changed(self) -> Iterator[GroupChange]:
        for shard in range(keys.GROUP_CHANGE_SHARDS):
            request: QueryInputTypeDef = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": keys.group_changes(shard)}},
            }
            for item in paging.query(request):
                yield decode(item, GroupChange)

    def members(self, group: MarketGroupPeriod) -> Iterator[str]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :member)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.market_group(group.partner_id, group.market_group_id, group.delivery_period)},
                ":member": {"S": keys.MEMBER},
            },
            "ProjectionExpression": "sk",
        }
        for item in paging.query(request):
            yield item["sk"]["S"].removeprefix(keys.MEMBER)

    def clear(self, change: GroupChange) -> bool:
        try:
            clients.dynamodb().delete_item(
                TableName=self._table,
                Key=_mark_key(change.group),
                ConditionExpression="version = :version",
                ExpressionAttributeValues={":version": {"S": change.version}},
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise translate(error) from error
        return True


def dynamo_group_membership(table: str) -> DynamoGroupMembership:
    return DynamoGroupMembership(table)
