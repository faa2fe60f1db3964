"""The tasks of a large interval file fanned out across invocations: one IntervalPiecesQueue message = one step of
one part (check or recheck a piece, group or merge a meter bucket), transport only; the steps, their staging and
their joins are intervals.use_cases.fanout. Every task is idempotent, so SQS's redeliveries are harmless; a task
failing on its queue's last attempt ends its file's job FAILED with the reason, so no file waits forever. A task
runs only within its partner's bound of workers and its file's (intervals.use_cases.partner_workers); beyond
them, it waits.
"""

from __future__ import annotations

import json
from typing import Any, Self

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.intervals.use_cases.bounded_merges import DEFAULT_WRITE_CONCURRENCY, MAX_WRITE_CONCURRENCY
from meterhub.intervals.use_cases.fanout import FanOut
from meterhub.intervals.use_cases.partner_workers import MAX_DELAY_SECONDS, PartnerWorkers
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import IntervalIngestionSettings
from pydantic import Field, model_validator


class Settings(IntervalIngestionSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""

    # The queue's maxReceiveCount (template.yaml's QueueRedrive mapping): the last attempt ends the job FAILED.
    interval_pieces_max_receive_count: int = Field(ge=1)
    interval_write_concurrency: int = Field(default=DEFAULT_WRITE_CONCURRENCY, ge=1, le=MAX_WRITE_CONCURRENCY)
    # One partner's workers running at once (its small files and its tasks together), one file's tasks among them,
    # and how long a task beyond either waits (intervals/use_cases/partner_workers).
    interval_partner_workers: int = Field(ge=1)
    interval_file_workers: int = Field(ge=1)
    interval_partner_wait_seconds: int = Field(ge=0, le=MAX_DELAY_SECONDS // 2)

    @model_validator(mode="after")
    def _file_within_partner(self) -> Self:
        """A file's bound above its partner's would never bind: refused at cold start rather than ignored."""
        if self.interval_file_workers > self.interval_partner_workers:
            raise ValueError(
                f"INTERVAL_FILE_WORKERS ({self.interval_file_workers}) must not exceed INTERVAL_PARTNER_WORKERS "
                f"({self.interval_partner_workers}): deploy with IntervalFileWorkers at most IntervalPartnerWorkers"
            )
        return self


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _fan_out() -> FanOut:
    settings = Settings.load()
    return wiring.interval_fan_out(settings, settings.interval_write_concurrency, starts_files=False)


def _partner_workers() -> PartnerWorkers:
    settings = Settings.load()
    return PartnerWorkers(
        wiring.interval_worker_slots(settings),
        wiring.interval_pieces_queue(settings),
        workers=settings.interval_partner_workers,
        wait_seconds=settings.interval_partner_wait_seconds,
        file_workers=settings.interval_file_workers,
    )


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    task: dict[str, Any] = json.loads(record.body)
    logger.append_keys(job_id=task.get("job_id"), step=task.get("step"), part=task.get("part"))
    attempt = int(record.attributes.approximate_receive_count or "1")
    fan_out = _fan_out()
    try:
        _partner_workers().run(
            task,
            lambda: fan_out.handle(task),
            partner_id=str(task["partner_id"]),
            file_id=str(task["job_id"]),
            holder=f"{lambda_context.aws_request_id}/{record.message_id}",
            seconds_left=lambda_context.get_remaining_time_in_millis() / 1000,
        )
    except Exception:
        if attempt < Settings.load().interval_pieces_max_receive_count:
            logger.exception("Fan-out task failed; the queue will retry", extra={"attempt": attempt})
            raise
        logger.exception("Fan-out task failed on its last attempt; ending the job FAILED")
        fan_out.give_up(task, f"part of the file failed {attempt} times; upload the file again")


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
