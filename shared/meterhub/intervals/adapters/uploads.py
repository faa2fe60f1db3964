"""Interval upload jobs, in the jobs table.

Key design (JobsTable):
  PARTNER#<pid> | UPLOAD#<job_id>              the upload job; gsi1 PARTNER#<pid>#UPLOADS | <uploaded_at>#<job_id>
  PARTNER#<pid> | OBJECT#<key>#<version|etag>  claim of one S3 object version -> job_id (conditional put), so
                                               a redelivered S3 event finds its job instead of making another
  PARTNER#<pid> | PARTS#<job_id>#<step>        the parts of a fanned-out step that are done: a number set
                                               grown by a conditional ADD (`mark_part_done`), with the sums
                                               of the parts' counts (count_<name>) ADDed in the same update;
                                               not under UPLOAD#, which the jobs stream reads as upload jobs
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meterhub.intervals.records import PartsDone, StepProgress, UploadJob
from meterhub.platform import keys
from meterhub.platform.adapters import clients, paging
from meterhub.platform.adapters.dynamodb_errors import is_condition_failure, translate
from meterhub.platform.codec import decode, key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


PARTS = "PARTS#"
COUNT = "count_"
"""The prefix of a step's summed counts on its PARTS# item (count_rows_total...), apart from `parts`."""


def upload_sort_key(job: UploadJob) -> str:
    return f"{job.uploaded_at.astimezone(UTC).isoformat()}#{job.job_id}"


class DynamoUploadRepository:
    def __init__(self, table_name: str) -> None:
        self._table = table_name

    def _item(self, job: UploadJob) -> dict[str, Any]:
        return {
            **key(keys.partner(job.partner_id), keys.upload(job.job_id)),
            "gsi1pk": {"S": keys.partner_uploads(job.partner_id)},
            "gsi1sk": {"S": upload_sort_key(job)},
            "doc": {"S": job.model_dump_json()},
        }

    def create(self, job: UploadJob) -> None:
        try:
            clients.dynamodb().put_item(
                TableName=self._table, Item=self._item(job), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            raise translate(error, conflict_title="Upload job already exists") from error

    def save(self, job: UploadJob) -> None:
        clients.dynamodb().put_item(TableName=self._table, Item=self._item(job))

    def get(self, partner_id: str, job_id: str) -> UploadJob | None:
        item = (
            clients.dynamodb()
            .get_item(
                TableName=self._table, Key=key(keys.partner(partner_id), keys.upload(job_id)), ConsistentRead=True
            )
            .get("Item")
        )
        return decode(item, UploadJob) if item else None

    def claim_object(self, partner_id: str, object_key: str, version: str, job_id: str) -> str:
        claim = key(keys.partner(partner_id), keys.object_claim(object_key, version))
        try:
            clients.dynamodb().put_item(
                TableName=self._table,
                Item={**claim, "job_id": {"S": job_id}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise translate(error) from error
            item = clients.dynamodb().get_item(TableName=self._table, Key=claim, ConsistentRead=True)["Item"]
            return item["job_id"]["S"]
        return job_id

    def jobs(self, partner_id: str, before: str | None = None) -> Iterator[tuple[str, UploadJob]]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk" + (" AND gsi1sk < :before" if before else ""),
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.partner_uploads(partner_id)},
                **({":before": {"S": before}} if before else {}),
            },
            "ScanIndexForward": False,
        }
        for item in paging.query(request):
            yield item["gsi1sk"]["S"], decode(item, UploadJob)

    def mark_part_done(
        self, partner_id: str, job_id: str, step: str, part: int, counts: Mapping[str, int] | None = None
    ) -> PartsDone:
        """One UpdateItem: ADD the part to the set and its counts to the step's sums unless the part is in the set
        already (the condition), answering the new set; a part already there is read back instead (a consistent
        GetItem). One item, so the part and its counts are written together or not at all."""
        item_key = key(keys.partner(partner_id), f"{PARTS}{job_id}#{step}")
        names = {"#parts": "parts", **{f"#c{n}": f"{COUNT}{name}" for n, name in enumerate(counts or {})}}
        values = {f":c{n}": {"N": str(value)} for n, value in enumerate((counts or {}).values())}
        additions = "".join(f", #c{n} :c{n}" for n in range(len(values)))
        try:
            updated = clients.dynamodb().update_item(
                TableName=self._table,
                Key=item_key,
                UpdateExpression=f"ADD #parts :part{additions}",
                ConditionExpression="attribute_not_exists(#parts) OR NOT contains(#parts, :number)",
                ExpressionAttributeValues={":part": {"NS": [str(part)]}, ":number": {"N": str(part)}, **values},
                ExpressionAttributeNames=names,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise translate(error) from error
            item = clients.dynamodb().get_item(TableName=self._table, Key=item_key, ConsistentRead=True)["Item"]
            return PartsDone(len(item["parts"]["NS"]), first=False)
        return PartsDone(len(updated["Attributes"]["parts"]["NS"]), first=True)

    def step_progress(self, partner_id: str, job_id: str, step: str) -> StepProgress:
        item_key = key(keys.partner(partner_id), f"{PARTS}{job_id}#{step}")
        item = clients.dynamodb().get_item(TableName=self._table, Key=item_key, ConsistentRead=True).get("Item")
        if item is None:
            return StepProgress(0, {})
        counts = {name.removeprefix(COUNT): int(value["N"]) for name, value in item.items() if name.startswith(COUNT)}
        return StepProgress(len(item["parts"]["NS"]), counts)


@lru_cache(maxsize=4)
def dynamo_upload_repository(table_name: str) -> DynamoUploadRepository:
    return DynamoUploadRepository(table_name)
