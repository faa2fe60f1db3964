"""A small interval file held to its partner's bound of workers on moto, through functions/interval_ingest/app.py:
while every slot of the partner is held (here by a piece of its back-fill), the file's S3 notification is sent
again to IntervalFilesQueue, delayed, as a fresh copy, and the delivery acknowledged; the partner sees the file's
job QUEUED; once a slot is free, the copy is delivered and the file ends COMPLETED.

INTERVAL_PARTNER_WAIT_SECONDS is lowered to 1 (a delay of 1-2 s, which moto keeps as SQS does), so the test waits
seconds, not the deployed minute or two.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from meterhub.intervals.adapters.worker_slots import DynamoWorkerSlots
from meterhub.intervals.records import UploadStatus
from meterhub.platform import keys
from meterhub.platform.adapters import clients
from meterhub.platform.settings import forget_loaded_settings

from tests.integration.test_interval_ingest import DAY, IntervalDrops, csv_file, expected, only_job, rows, stored
from tests.integration.test_interval_uploads_api import JOBS, InvokeUploads

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

BACKFILL_PIECE = "a-piece-of-the-backfill"


def _copy(drops: IntervalDrops, within_seconds: float = 10) -> dict[str, Any]:
    """The re-sent notification, once its delay has passed."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        messages = drops.receive()
        if messages:
            [message] = messages
            return message
        time.sleep(0.1)
    raise AssertionError("the notification was not sent again")


def _delayed(drops: IntervalDrops) -> int:
    attributes = drops.sqs.get_queue_attributes(  # type: ignore[attr-defined]
        QueueUrl=drops.queue_url,  # type: ignore[attr-defined]
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def _slot_items(drops: IntervalDrops, partner_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = clients.dynamodb().query(
        TableName=drops.jobs_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :slot)",
        ExpressionAttributeValues={":pk": {"S": keys.partner(partner_id)}, ":slot": {"S": keys.WORKER_SLOT}},
    )["Items"]
    return items


def test_a_small_file_waits_for_its_partners_slot_as_a_queued_job_and_is_ingested_once_one_is_free(
    interval_drops: IntervalDrops, partner: IssuedKey, invoke_uploads: InvokeUploads, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERVAL_PARTNER_WORKERS", "1")
    monkeypatch.setenv("INTERVAL_FILE_WORKERS", "1")
    monkeypatch.setenv("INTERVAL_PARTNER_WAIT_SECONDS", "1")
    forget_loaded_settings()
    drops = interval_drops
    drops.delete(drops.receive())  # the S3 test event, if this stack queued one
    pid = partner.partner_id
    meter = drops.meter(pid)
    data = rows([meter], [DAY])

    # Given the partner's one slot held by a piece of its back-fill
    slots = DynamoWorkerSlots(drops.jobs_table)
    now = datetime.now(UTC)
    assert slots.acquire(pid, 1, BACKFILL_PIECE, now, now + timedelta(minutes=15)) == 0

    # When its daily file is dropped and the notification delivered
    name = "2025-06-01.csv"
    drops.put(pid, name, csv_file(data))
    [message] = drops.receive()
    assert drops.handle(drops.event([message])) == {"batchItemFailures": []}  # acknowledged: not a failure
    drops.delete([message])

    # Then nothing is ingested, the partner sees the file's job QUEUED, and a copy waits on the queue, delayed
    assert drops.keys(pid) == [drops.key(pid, name)]
    job = only_job(drops, pid)
    answer = invoke_uploads("GET", f"{JOBS}/{job.job_id}")
    assert answer.status == 200, answer.text
    assert (answer.json["status"], answer.json["uploaded_file_path"]) == ("QUEUED", f"/interval-data/{name}")
    assert [u["status"] for u in invoke_uploads("GET", JOBS).json["uploads"]] == ["QUEUED"]
    assert drops.receive() == []
    assert _delayed(drops) == 1
    assert [item["holder"]["S"] for item in _slot_items(drops, pid)] == [BACKFILL_PIECE]

    # When the back-fill's piece ends and the copy is delivered
    slots.release(pid, 0, BACKFILL_PIECE)
    copy = _copy(drops)
    assert json.loads(copy["Body"]) == json.loads(message["Body"])
    assert copy["Attributes"]["ApproximateReceiveCount"] == "1"  # a fresh copy: its attempts start again
    assert drops.handle(drops.event([copy])) == {"batchItemFailures": []}
    drops.delete([copy])
    drops.run_queue()  # the notifications of the filed outputs

    # Then the same job is COMPLETED, its day stored, and no slot is left held
    done = only_job(drops, pid)
    assert (done.job_id, done.status, done.rows_valid) == (job.job_id, UploadStatus.COMPLETED, len(data))
    assert stored(drops, pid, [meter]) == expected(data)
    assert _slot_items(drops, pid) == []
    assert drops.dead_letters() == 0
