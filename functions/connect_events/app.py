"""Connect events: ConnectTable stream -> connect_session.* webhook events on WebhookEventsQueue, and a
UtilitySyncQueue message for every authorization that became COMPLETED.

Its own function (like MeterEventsFunction and JobEventsFunction) so this stream keeps its own retries,
bisection and OnFailure queue. The logic is meterhub.connect.use_cases.events.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.connect.use_cases.events import handle_change
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import UtilitySyncQueueSettings, WebhookEventsQueueSettings
from meterhub.platform.streams import StreamChange


class Settings(WebhookEventsQueueSettings, UtilitySyncQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def record_handler(record: DynamoDBRecord) -> None:
    settings = Settings.load()
    change = StreamChange.from_record(record.raw_event)
    published = handle_change(wiring.webhook_events_queue(settings), wiring.utility_sync_queue(settings), change)
    if published:
        logger.debug("Connect events published", extra={"stream_event_id": change.event_id, "events": published})


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
