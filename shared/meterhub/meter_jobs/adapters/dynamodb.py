"""Batch meter jobs and their provisional assets on DynamoDB (the `JobRepository` port of meter_jobs.ports).

Key design (JobsTable, see template.yaml):
  PARTNER#<pid>              | JOB#<job_id>     the job (counters, cursor, status)
                               gsi1: PARTNER#<pid>#JOBS   | <created_at>#<job_id>
  PARTNER#<pid>#JOB#<job_id> | ASSET#<index:07> one provisional asset (outcome + submitted data)
                               gsi1: PARTNER#<pid>#ASSETS | <created_at>#<job_id>#<index:07>
Every key starts with the caller's partner id, which is the tenant isolation.

Exactly-once accounting, chunk by chunk: the outcomes of a chunk of assets are written first (plain puts keyed
by asset index, so a retry overwrites them with the same outcome), then one conditional update adds the
chunk's counts to the job and moves its cursor - only if the cursor is still at the chunk's start. A worker
that dies between the two redoes the chunk (its meters are recognised by their deterministic ids) and the
counts land once; a concurrent duplicate worker loses the condition and stops.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob
from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import decode, key, to_item
from meterhub.platform.errors import Conflict, StorageUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef


def job_sort_key(job: MeterJob) -> str:
    return f"{job.created_at.astimezone(UTC).isoformat()}#{job.job_id}"


def asset_sort_key(asset: AssetOutcome) -> str:
    return f"{asset.created_at.astimezone(UTC).isoformat()}#{asset.job_id}#{asset.index:07d}"


class DynamoJobRepository:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    # ----- jobs -------------------------------------------------------------------------------------------
    def create(self, job: MeterJob) -> None:
        item = {
            **key(keys.partner(job.partner_id), keys.job(job.job_id)),
            "gsi1pk": {"S": keys.partner_jobs(job.partner_id)},
            "gsi1sk": {"S": job_sort_key(job)},
            **to_item(job.model_dump(mode="json")),
        }
        try:
            clients.dynamodb().put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            raise translate(error, conflict_title="Job already exists") from error

    def get(self, partner_id: str, job_id: str) -> MeterJob | None:
        response = clients.dynamodb().get_item(
            TableName=self._table, Key=key(keys.partner(partner_id), keys.job(job_id)), ConsistentRead=True
        )
        item = response.get("Item")
        return _job(item) if item else None

    def record_chunk(self, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
        requests: list[Any] = [{"PutRequest": {"Item": _asset_item(job.partner_id, o)}} for o in outcomes]
        for first in range(0, len(requests), 25):
            pending: Any = {self._table: requests[first : first + 25]}
            for attempt in range(8):
                unprocessed = clients.dynamodb().batch_write_item(RequestItems=pending).get("UnprocessedItems")
                if not unprocessed:
                    break
                pending = unprocessed
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise StorageUnavailable("The service is busy, please retry shortly")
        counts = Counter(outcome.counter for outcome in outcomes)
        names = {f"#c{n}": counter for n, counter in enumerate(sorted(counts))}
        values: dict[str, AttributeValueTypeDef] = {
            f":c{n}": {"N": str(counts[counter])} for n, counter in enumerate(sorted(counts))
        }
        additions = ", ".join(f"#c{n} :c{n}" for n in range(len(counts)))
        expression = (f"ADD {additions} " if additions else "") + "SET next_index = :next, updated_at = :now"
        values.update(
            {
                ":next": {"N": str(start + len(outcomes))},
                ":start": {"N": str(start)},
                ":now": {"S": datetime.now(UTC).isoformat()},
                ":processing": {"S": JobStatus.PROCESSING.value},
            }
        )
        try:
            clients.dynamodb().update_item(
                TableName=self._table,
                Key=key(keys.partner(job.partner_id), keys.job(job.job_id)),
                UpdateExpression=expression,
                ConditionExpression="#status = :processing AND next_index = :start",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict("The job moved on (finished, or processed by another delivery)") from error
            raise translate(error) from error

    def finish(self, job: MeterJob, status: JobStatus, reason: str | None = None) -> bool:
        values: dict[str, AttributeValueTypeDef] = {
            ":status": {"S": status.value},
            ":processing": {"S": JobStatus.PROCESSING.value},
            ":now": {"S": datetime.now(UTC).isoformat()},
        }
        expression = "SET #status = :status, updated_at = :now"
        if reason:
            expression += ", failure_reason = :reason"
            values[":reason"] = {"S": reason}
        try:
            clients.dynamodb().update_item(
                TableName=self._table,
                Key=key(keys.partner(job.partner_id), keys.job(job.job_id)),
                UpdateExpression=expression,
                ConditionExpression="#status = :processing",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise translate(error) from error
        return True

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, MeterJob]]:
        for item in self._newest_first(keys.partner_jobs(partner_id), before):
            yield item["gsi1sk"]["S"], _job(item)

    # ----- provisional assets -----------------------------------------------------------------------------
    def job_assets(self, partner_id: str, job_id: str, after_index: int = -1) -> Iterator[AssetOutcome]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk > :after",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.job_assets(partner_id, job_id)},
                ":after": {"S": keys.asset(after_index) if after_index >= 0 else keys.ASSET},
            },
        }
        for item in paging.query(request):
            yield _asset(item)

    def assets(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, AssetOutcome]]:
        for item in self._newest_first(keys.partner_assets(partner_id), before):
            yield item["gsi1sk"]["S"], _asset(item)

    def _newest_first(self, partition: str, before: str | None) -> Iterator[dict[str, Any]]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk" + (" AND gsi1sk < :before" if before else ""),
            "ExpressionAttributeValues": {":pk": {"S": partition}, **({":before": {"S": before}} if before else {})},
            "ScanIndexForward": False,
        }
        yield from paging.query(request)


def _asset_item(partner_id: str, outcome: AssetOutcome) -> dict[str, AttributeValueTypeDef]:
    return {
        **key(keys.job_assets(partner_id, outcome.job_id), keys.asset(outcome.index)),
        "gsi1pk": {"S": keys.partner_assets(partner_id)},
        "gsi1sk": {"S": asset_sort_key(outcome)},
        "doc": {"S": outcome.model_dump_json()},
    }


def _job(item: dict[str, Any]) -> MeterJob:
    return decode(item, MeterJob)  # stored as native attributes: the counters are updated in place


def _asset(item: dict[str, Any]) -> AssetOutcome:
    return decode(item, AssetOutcome)


@lru_cache(maxsize=4)
def dynamo_job_repository(table_name: str) -> DynamoJobRepository:
    return DynamoJobRepository(table_name)
