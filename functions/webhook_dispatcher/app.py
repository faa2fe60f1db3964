"""Webhook dispatcher: WebhookEventsQueue -> fan-out of events, signed deliveries with retries (transport only).

Each record is an event (fanned out to every matching subscription: attempt 1 is posted inline within what is
left of the invocation, less a small reserve; a failure, or a subscription beyond the
budget, becomes a delivery task queued back on the same queue) or a delivery task (one attempt; the next one is
queued after the retry schedule's delay). See meterhub.webhooks.use_cases.dispatch. A record that raises is reported
as a batch item failure and retried by the queue (then dead-lettered); the others of the batch are acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import StageSettings, WebhookEventsQueueSettings, WebhooksTableSettings
from meterhub.webhooks.use_cases.dispatch import Dispatcher


class Settings(StageSettings, WebhooksTableSettings, WebhookEventsQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


# The retry schedule (entry n: seconds before attempt n+1); tests replace it so they do not wait.
RETRY_DELAYS: Sequence[int] = wiring.webhook_retry_delays()

# Kept back from the inline budget: the time the batch's later records need at least, and the partial response.
RESERVE_SECONDS = 5.0

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _dispatcher() -> Dispatcher:
    settings = Settings.load()
    return Dispatcher(
        subscriptions=wiring.webhook_repository(settings),
        deliveries=wiring.delivery_log(settings),
        queue=wiring.webhook_events_queue(settings),
        stage=settings.stage,
        delays=RETRY_DELAYS,
        http_post=wiring.webhook_poster(),
    )


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    """Powertools passes the invocation's context (it looks for a `lambda_context` parameter)."""
    message = json.loads(record.body)
    budget = lambda_context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS if lambda_context else 0.0
    outcome = _dispatcher().handle(message, budget_seconds=budget)
    logger.debug("Webhook message handled", extra={"outcome": outcome.value})


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
