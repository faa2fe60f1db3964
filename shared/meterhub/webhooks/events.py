"""The webhook event catalog: Leap's `WebhookEventType` values plus meterhub's own, and the envelope."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any


class WebhookEventType(StrEnum):
    # Leap's enum (webhooks-openapi.yml)
    METER_CREATED = "meter.created"
    CONNECT_SESSION_UPDATED = "connect_session.updated"
    CONNECT_SESSION_AUTHORIZATION_UPDATED = "connect_session.authorization_updated"
    ENROLLMENT_GLOBAL_STATUS_UPDATED = "meter.enrollment.global-status.updated"
    ENROLLMENT_PARTICIPATION_STATUS_UPDATED = "meter.enrollment.participation-status.updated"
    ENROLLMENT_REQUIRED_ACTIONS_UPDATED = "meter.enrollment.required-actions.updated"
    ENROLLMENT_GROUP_UPDATED = "meter.enrollment.group.updated"
    # meterhub's own
    INTERVAL_UPLOAD_COMPLETED = "interval_upload.completed"
    INTERVAL_UPLOAD_FAILED = "interval_upload.failed"
    METER_JOB_COMPLETED = "meter_job.completed"


def envelope(payload: dict[str, Any], webhook_event_id: str | None = None) -> dict[str, Any]:
    """`{webhook_event_id, payload}`; the id must be kept across retries so receivers can dedupe on it."""
    return {"webhook_event_id": webhook_event_id or str(uuid.uuid4()), "payload": payload}


def sample_payload() -> dict[str, Any]:
    """What `POST /v1.1/webhooks/{id}/test` sends when the caller gives no payload (Leap's example)."""
    return {
        "webhook_event_type": WebhookEventType.METER_CREATED.value,
        "meter_id": "11111111-1111-1111-1111-111111111111",
        "partner_reference": "sample-ref-123",
        "transmission_region": "CAISO",
        "meter_type": "UTILITY_METER",
    }
