"""Utility sync: one UtilitySyncQueue message {partner_id, authorization_id} = fetch the customer's service
points and usage from the utility and create (or merge) their meters (transport only; the rules are in
meterhub.connect.use_cases.sync). Re-running a message changes nothing, so SQS redelivery is harmless; a
retryable utility error fails the message (the queue retries, then keeps it in its dead-letter queue). A first
sync's 13-month backfill stops well before the time limit and queues the message again to go on
(meterhub.connect.use_cases.sync_delivery).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.connect.use_cases.sync import UtilitySync
from meterhub.connect.use_cases.sync_delivery import sync_and_continue
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import (
    ConnectTableSettings,
    ConnectTokensKeySettings,
    IntervalsTableSettings,
    MetersTableSettings,
    UtilityProviderSettings,
    UtilitySyncQueueSettings,
)


class Settings(
    ConnectTableSettings,
    MetersTableSettings,
    IntervalsTableSettings,
    ConnectTokensKeySettings,
    UtilityProviderSettings,
    UtilitySyncQueueSettings,
):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


# The one seam to the utilities (tests replace it: a real utility's login cannot run here).
adapter_for = wiring.utility_adapter_for


# A backfill window is one utility request (up to its HTTP timeout): none starts with less than this left.
SAFETY_MARGIN_MS = 60_000

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, context: LambdaContext) -> None:
    message = json.loads(record.body)
    partner_id, authorization_id = str(message["partner_id"]), str(message["authorization_id"])
    logger.append_keys(partner_id=partner_id, authorization_id=authorization_id)
    settings = Settings.load()
    sync = UtilitySync(
        connect=wiring.connect_repository(settings),
        meters=wiring.meter_repository(settings),
        intervals=wiring.interval_store(settings),
        vault=wiring.token_vault(settings),
        adapter_for=adapter_for,
        now=lambda: datetime.now(UTC),
        utilities=wiring.utility_registry(settings),
    )
    result = sync_and_continue(
        sync,
        wiring.utility_sync_queue(settings),
        partner_id,
        authorization_id,
        time_is_short=lambda: context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS,
    )
    logger.info(
        "Utility sync finished",
        extra={
            "status": result.status,
            "meters_created": len(result.meters_created),
            "meters_merged": len(result.meters_merged),
            "meters_unchanged": len(result.meters_unchanged),
            "readings_stored": result.readings_stored,
            "readings_by_length": result.readings_by_length,
            "skipped_readings": result.skipped_readings,
            "skipped_by_reason": result.skipped_by_reason,
            "windows_fetched": result.windows_fetched,
            "more_history": result.more_history,
        },
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
