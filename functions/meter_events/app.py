"""Meter events: MetersTable stream -> webhook events on WebhookEventsQueue (meter.created, enrollment changes),
and the market groups each meter joined or left (their snapshots are the scheduled run's to publish).

Publishing from the stream makes each event part of the meter's state change: a committed write always yields
its events, a failed one never does. See meterhub.meters.use_cases.meter_events. A record that raises is reported as a
batch item failure (the event source retries from it, bisecting, then sends the batch to the OnFailure queue);
event ids are stable per record, so a retried record republishes the same events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.meters.use_cases.meter_events import publish_changes, record_memberships
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import MetersTableSettings, WebhookEventsQueueSettings
from meterhub.platform.streams import StreamChange


class Settings(WebhookEventsQueueSettings, MetersTableSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def record_handler(record: DynamoDBRecord) -> None:
    change = StreamChange.from_record(record.raw_event)
    settings = Settings.load()
    now = datetime.now(UTC)
    record_memberships(wiring.group_membership(settings), change, now)
    published = publish_changes(wiring.webhook_events_queue(settings), change, now)
    if published:
        logger.debug("Meter events published", extra={"stream_event_id": change.event_id, "events": published})


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
