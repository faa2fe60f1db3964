"""Interval file drops: S3 ObjectCreated (through SQS) -> one upload job per object version (transport only).

The S3 test event and keys that are not partner drops (our own accepted/ and failed/ outputs, other
prefixes) are acknowledged and logged. A file whose processing keeps failing ends its job FAILED with the
reason on the last attempt, so nothing cycles to the dead-letter queue without a job saying why (that policy
and the reading of the S3 notification are intervals.use_cases.notifications).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub.intervals.adapters.dynamodb import dynamo_interval_store
from meterhub.intervals.adapters.uploads import dynamo_upload_repository
from meterhub.intervals.use_cases.notifications import ingest_notification
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
from meterhub.platform.adapters.s3_object_store import s3_object_store
from meterhub.platform.observability import logger
from meterhub.platform.settings import get_settings

MAX_ATTEMPTS = 3  # the queue's maxReceiveCount

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _ingestion() -> Ingestion:
    settings = get_settings()
    return Ingestion(
        uploads=dynamo_upload_repository(settings.jobs_table_name),
        intervals=dynamo_interval_store(settings.intervals_table_name),
        objects=s3_object_store(settings.data_bucket_name),
        meters=dynamo_meter_repository(settings.meters_table_name),
    )


def record_handler(record: SQSRecord) -> None:
    ingest_notification(
        _ingestion(),
        record.body,
        attempt=int(record.attributes.approximate_receive_count or "1"),
        max_attempts=MAX_ATTEMPTS,
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
