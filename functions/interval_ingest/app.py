"""Interval file drops: S3 ObjectCreated (through SQS) -> one upload job per object version (transport only).

The S3 test event and keys that are not partner drops (our own accepted/ and failed/ outputs, other
prefixes) are acknowledged and logged. A file whose processing keeps failing ends its job FAILED with the
reason on the last attempt, so nothing cycles to the dead-letter queue without a job saying why.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.intervals.rules.paths import parse_drop
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.platform.observability import logger
from meterhub.platform.settings import (
    DataBucketSettings,
    IntervalsTableSettings,
    JobsTableSettings,
    MetersTableSettings,
)
from pydantic import Field


class Settings(JobsTableSettings, IntervalsTableSettings, DataBucketSettings, MetersTableSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""

    # The queue's maxReceiveCount (template.yaml's QueueRedrive mapping): the last attempt ends the job FAILED.
    interval_files_max_receive_count: int = Field(ge=1)


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _ingestion() -> Ingestion:
    settings = Settings.load()
    return Ingestion(
        uploads=wiring.upload_repository(settings),
        intervals=wiring.interval_store(settings),
        objects=wiring.data_objects(settings),
        meters=wiring.meter_repository(settings),
    )


def record_handler(record: SQSRecord) -> None:
    message: dict[str, Any] = json.loads(record.body)
    if message.get("Event") == "s3:TestEvent":
        logger.info("S3 test event acknowledged")
        return
    attempts = int(record.attributes.approximate_receive_count or "1")
    for s3_record in message.get("Records", []):
        if not str(s3_record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = s3_record["s3"]["object"]
        key = unquote_plus(obj["key"])  # S3 event keys are URL-encoded ('+' is a space)
        version = obj.get("versionId")
        if parse_drop(key) is None:
            logger.info("Not an interval drop (our own output or another prefix); acknowledged", extra={"key": key})
            continue
        ingestion = _ingestion()
        try:
            job = ingestion.ingest(key, version)
        except Exception:
            if attempts < Settings.load().interval_files_max_receive_count:
                logger.exception("Ingestion attempt failed; the queue will retry", extra={"attempt": attempts})
                raise
            logger.exception("Ingestion failed on its last attempt; ending the job FAILED")
            ingestion.give_up(key, version, f"processing failed {attempts} times; upload the file again")
            continue
        if job is None:
            logger.info("Already filed by an earlier delivery; nothing to do", extra={"key": key})
        else:
            logger.info("Interval file processed", extra={"job_id": job.job_id, "status": job.status})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
