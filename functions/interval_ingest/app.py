"""Interval file drops: S3 ObjectCreated (through SQS) -> one upload job per object version (transport only).

The S3 test event and keys that are not partner drops (our own accepted/ and failed/ outputs, other
prefixes) are acknowledged and logged. A file whose processing keeps failing ends its job FAILED with the
reason on the last attempt, so nothing cycles to the dead-letter queue without a job saying why (that policy
and the reading of the S3 notification are intervals.use_cases.notifications).

A file ingested here in one invocation (up to INTERVAL_FAN_OUT_BYTES) runs only within its partner's bound of
workers, the pool its fanned-out files' tasks share (intervals.use_cases.partner_workers): beyond it, the
notification is queued again on IntervalFilesQueue, delayed, and its file's job stays QUEUED meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.intervals.records import UploadJob
from meterhub.intervals.use_cases.bounded_merges import DEFAULT_WRITE_CONCURRENCY, MAX_WRITE_CONCURRENCY
from meterhub.intervals.use_cases.notifications import ingest_notification
from meterhub.intervals.use_cases.partner_workers import MAX_DELAY_SECONDS, PartnerWorkers
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import IntervalFilesQueueSettings, IntervalIngestionSettings
from pydantic import Field


class Settings(IntervalIngestionSettings, IntervalFilesQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""

    # The queue's maxReceiveCount (template.yaml's QueueRedrive mapping): the last attempt ends the job FAILED.
    interval_files_max_receive_count: int = Field(ge=1)
    # Day merges in flight per invocation (intervals.use_cases.bounded_merges explains the default and the cap).
    interval_write_concurrency: int = Field(default=DEFAULT_WRITE_CONCURRENCY, ge=1, le=MAX_WRITE_CONCURRENCY)
    # One partner's workers running at once (its files here and its fanned-out files' tasks together), and how long
    # a file beyond that waits (intervals/use_cases/partner_workers).
    interval_partner_workers: int = Field(ge=1)
    interval_partner_wait_seconds: int = Field(ge=0, le=MAX_DELAY_SECONDS // 2)


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _ingestion() -> Ingestion:
    """Files over INTERVAL_FAN_OUT_BYTES are handed to the fan-out (functions/interval_pieces runs its tasks)."""
    settings = Settings.load()
    return wiring.interval_fan_out(settings, settings.interval_write_concurrency, starts_files=True).ingestion


def _partner_workers() -> PartnerWorkers:
    settings = Settings.load()
    return PartnerWorkers(
        wiring.interval_worker_slots(settings),
        wiring.interval_files_queue(settings),
        workers=settings.interval_partner_workers,
        wait_seconds=settings.interval_partner_wait_seconds,
    )


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    workers = _partner_workers()

    def within(partner_id: str, work: Callable[[], UploadJob]) -> UploadJob | None:
        # The notification itself is what waits: its copy is read again as this delivery was.
        return workers.run(
            json.loads(record.body),
            work,
            partner_id=partner_id,
            holder=f"{lambda_context.aws_request_id}/{record.message_id}",
            seconds_left=lambda_context.get_remaining_time_in_millis() / 1000,
        )

    ingest_notification(
        _ingestion(),
        record.body,
        attempt=int(record.attributes.approximate_receive_count or "1"),
        max_attempts=Settings.load().interval_files_max_receive_count,
        within=within,
    )


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
