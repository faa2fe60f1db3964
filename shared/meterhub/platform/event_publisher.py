"""Publishing a webhook event: one message on WebhookEventsQueue, fanned out by the dispatcher.

Message: `{partner_id, webhook_event_id, payload: {webhook_event_type, ...}}`. The event id is minted here once
and travels with every delivery task and retry, so receivers can dedupe on it.

Every event is published from a table stream, so it exists exactly when its change committed: meter events from
the MetersTable stream (meterhub.meters.use_cases.meter_events), job events from the JobsTable stream
(meter_jobs.use_cases.job_events) and Connect events from the ConnectTable stream (connect.use_cases.events), each
with an explicit event id per stream record.
"""

from __future__ import annotations

import uuid
from typing import Any

from meterhub.platform.events import WebhookEventType
from meterhub.platform.work_queue import WorkQueue


def event_message(partner_id: str, payload: dict[str, Any], webhook_event_id: str | None = None) -> dict[str, Any]:
    """The queue message for one event; raises ValueError for an unknown `webhook_event_type`."""
    WebhookEventType(str(payload.get("webhook_event_type")))
    return {
        "partner_id": partner_id,
        "webhook_event_id": webhook_event_id or str(uuid.uuid4()),
        "payload": payload,
    }


def publish(queue: WorkQueue, partner_id: str, payload: dict[str, Any], webhook_event_id: str | None = None) -> str:
    """Queue an event of `partner_id` for every subscription that wants its type; returns its webhook_event_id."""
    message = event_message(partner_id, payload, webhook_event_id)
    queue.send(message)
    return str(message["webhook_event_id"])
