"""A partner's interval worker slots, and a fanned-out file's, in the jobs table (use_cases.partner_workers says
why they exist).

Key design (JobsTable):
  PARTNER#<pid> | WORKERSLOT#<nnn>                  one held slot of the partner: holder (the invocation's
                                                    request id and message id), lease_until (epoch seconds),
                                                    expires_at_epoch (the table's TTL: lease_until)
  PARTNER#<pid>#UPLOAD#<job_id> | WORKERSLOT#<nnn>  one held slot of that file (the same item, its own partition)
A slot is free when its item is missing or its lease has ended.

At most `limit` items per partner (per file) ever exist (a slot is re-taken, never added): an ended lease is
taken over by the next acquire's condition, and a release deletes the item. The TTL only clears what no one
will take over any more: a file's slot whose holder crashed after the file's last task. DynamoDB deletes an
expired item days later at most, and an ended lease is free either way, so it never frees a slot early. The
jobs stream sees these items and ignores them (it reads JOB# and UPLOAD# sort keys only).

Acquire is one Query (the held slots) and a conditional PutItem on a free one, tried in random order so
concurrent callers rarely collide; a lost race tries the next free slot. The condition, not the Query, is
what keeps two holders off one slot.
"""

from __future__ import annotations

import random
from datetime import datetime
from functools import lru_cache

from botocore.exceptions import ClientError

from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import key


class DynamoWorkerSlots:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def acquire(
        self,
        partner_id: str,
        limit: int,
        holder: str,
        now: datetime,
        lease_until: datetime,
        file_id: str | None = None,
    ) -> int | None:
        pk = _partition(partner_id, file_id)
        moment = int(now.timestamp())
        until = str(int(lease_until.timestamp()))
        held = {
            int(item["sk"]["S"].removeprefix(keys.WORKER_SLOT))
            for item in paging.query(
                {
                    "TableName": self._table,
                    "KeyConditionExpression": "pk = :pk AND begins_with(sk, :slot)",
                    "ExpressionAttributeValues": {
                        ":pk": {"S": pk},
                        ":slot": {"S": keys.WORKER_SLOT},
                        ":now": {"N": str(moment)},
                    },
                    "FilterExpression": "lease_until >= :now",
                    "ConsistentRead": True,
                }
            )
        }
        free = [slot for slot in range(limit) if slot not in held]
        random.shuffle(free)
        for slot in free:
            try:
                clients.dynamodb().put_item(
                    TableName=self._table,
                    Item={
                        **key(pk, keys.worker_slot(slot)),
                        "holder": {"S": holder},
                        "lease_until": {"N": until},
                        "expires_at_epoch": {"N": until},
                    },
                    ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
                    ExpressionAttributeValues={":now": {"N": str(moment)}},
                )
            except ClientError as error:
                if not is_condition_failure(error):
                    raise translate(error) from error
                continue  # taken between the Query and this write: try the next
            return slot
        return None

    def release(self, partner_id: str, slot: int, holder: str, file_id: str | None = None) -> None:
        try:
            clients.dynamodb().delete_item(
                TableName=self._table,
                Key=key(_partition(partner_id, file_id), keys.worker_slot(slot)),
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise translate(error) from error


def _partition(partner_id: str, file_id: str | None) -> str:
    return keys.partner(partner_id) if file_id is None else keys.file_workers(partner_id, file_id)


@lru_cache(maxsize=4)
def dynamo_worker_slots(table_name: str) -> DynamoWorkerSlots:
    return DynamoWorkerSlots(table_name)
