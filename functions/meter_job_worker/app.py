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
from meterhub.meter_jobs.adapters.dynamodb import dynamo_job_repository
from meterhub.meter_jobs.use_cases.run_job import run_job
from meterhub.meter_jobs.use_cases.worker import Worker
from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
from meterhub.meters.use_cases.create_meter import connect_link
from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
from meterhub.platform.adapters.s3_object_store import s3_object_store
from meterhub.platform.adapters.sqs_work_queue import sqs_work_queue
from meterhub.platform.observability import logger
from meterhub.platform.settings import get_settings

SAFETY_MARGIN_MS = 20_000
MAX_ATTEMPTS = 5  # the queue's maxReceiveCount: the last attempt ends the job instead of failing again

# With one message per batch, a failure must come back as a batch item failure (the message is retried),
# not as an exception that fails the whole invocation.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _worker() -> Worker:
    settings = get_settings()
    partners = dynamo_partner_repository(settings.partners_table_name)
    return Worker(
        jobs=dynamo_job_repository(settings.jobs_table_name),
        meters=dynamo_meter_repository(settings.meters_table_name),
        objects=s3_object_store(settings.data_bucket_name),
        connect=lambda partner_id: connect_link(partners, partner_id),
    )


def record_handler(record: SQSRecord, context: LambdaContext) -> None:
    message = json.loads(record.body)
    partner_id, job_id = str(message["partner_id"]), str(message["job_id"])
    logger.append_keys(partner_id=partner_id, job_id=job_id)
    run_job(
        _worker(),
        sqs_work_queue(get_settings().meter_jobs_queue_url),
        partner_id,
        job_id,
        attempt=int(record.attributes.approximate_receive_count or "1"),
        max_attempts=MAX_ATTEMPTS,
        time_is_short=lambda: context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS,
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=lambda record: record_handler(record, context),
        processor=processor,
        context=context,
    )
