"""Batch meter job worker: one SQS message = run (or resume) one job (transport only).

The worker stops well before the Lambda time limit and queues a continuation; a message that keeps failing
ends its job FAILED with the reason on its last attempt, so no job stays PROCESSING forever (that policy is
meter_jobs.use_cases.run_job).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.meter_jobs.use_cases.run_job import run_job
from meterhub.meter_jobs.use_cases.worker import Worker
from meterhub.meters.use_cases.create_meter import connect_link
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import (
    DataBucketSettings,
    JobsTableSettings,
    MeterJobsQueueSettings,
    MetersTableSettings,
    PartnersTableSettings,
)
from pydantic import Field


class Settings(
    PartnersTableSettings, JobsTableSettings, MetersTableSettings, DataBucketSettings, MeterJobsQueueSettings
):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""

    # The queue's maxReceiveCount (template.yaml's QueueRedrive mapping): the last attempt ends the job instead
    # of failing again.
    meter_jobs_max_receive_count: int = Field(ge=1)


SAFETY_MARGIN_MS = 20_000

# With one message per batch, a failure must come back as a batch item failure (the message is retried),
# not as an exception that fails the whole invocation.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _worker() -> Worker:
    settings = Settings.load()
    partners = wiring.partner_repository(settings)
    return Worker(
        jobs=wiring.job_repository(settings),
        meters=wiring.meter_repository(settings),
        objects=wiring.data_objects(settings),
        connect=lambda partner_id: connect_link(partners, partner_id),
    )


def record_handler(record: SQSRecord, context: LambdaContext) -> None:
    message = json.loads(record.body)
    partner_id, job_id = str(message["partner_id"]), str(message["job_id"])
    logger.append_keys(partner_id=partner_id, job_id=job_id)
    settings = Settings.load()
    run_job(
        _worker(),
        wiring.meter_jobs_queue(settings),
        partner_id,
        job_id,
        attempt=int(record.attributes.approximate_receive_count or "1"),
        max_attempts=settings.meter_jobs_max_receive_count,
        time_is_short=lambda: context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS,
    )


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=lambda record: record_handler(record, context),
        processor=processor,
        context=context,
    )
