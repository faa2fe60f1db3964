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
from meterhub import wiring
from meterhub.intervals.use_cases.bounded_merges import DEFAULT_WRITE_CONCURRENCY, MAX_WRITE_CONCURRENCY
from meterhub.intervals.use_cases.notifications import ingest_notification
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import IntervalIngestionSettings
from pydantic import Field


class Settings(IntervalIngestionSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""

    # The queue's maxReceiveCount (template.yaml's QueueRedrive mapping): the last attempt ends the job FAILED.
    interval_files_max_receive_count: int = Field(ge=1)
    # Day merges in flight per invocation (intervals.use_cases.bounded_merges explains the default and the cap).
    interval_write_concurrency: int = Field(default=DEFAULT_WRITE_CONCURRENCY, ge=1, le=MAX_WRITE_CONCURRENCY)


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _ingestion() -> Ingestion:
    """Files over INTERVAL_FAN_OUT_BYTES are handed to the fan-out (functions/interval_pieces runs its tasks)."""
    settings = Settings.load()
    return wiring.interval_fan_out(settings, settings.interval_write_concurrency, starts_files=True).ingestion


def record_handler(record: SQSRecord) -> None:
    ingest_notification(
        _ingestion(),
        record.body,
        attempt=int(record.attributes.approximate_receive_count or "1"),
        max_attempts=Settings.load().interval_files_max_receive_count,
    )


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
