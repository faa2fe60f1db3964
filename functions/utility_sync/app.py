"""Utility sync: one UtilitySyncQueue message {partner_id, authorization_id} = fetch the customer's service
points and usage from the utility and create (or merge) their meters (transport only; the rules are in
meterhub.connect.use_cases.sync). Re-running a message changes nothing, so SQS redelivery is harmless; a
retryable utility error fails the message (the queue retries, then keeps it in its dead-letter queue).
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
from meterhub.platform.observability import logger
from meterhub.platform.settings import (
    ConnectTableSettings,
    ConnectTokensKeySettings,
    IntervalsTableSettings,
    MetersTableSettings,
    UtilityProviderSettings,
)


class Settings(
    ConnectTableSettings, MetersTableSettings, IntervalsTableSettings, ConnectTokensKeySettings, UtilityProviderSettings
):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


# The one seam to the utilities (tests replace it: a real utility's login cannot run here).
adapter_for = wiring.utility_adapter_for


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
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
    result = sync.run(partner_id, authorization_id)
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
        },
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
