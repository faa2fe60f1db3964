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


TEST_FIELD = "test"
"""The envelope field that marks a test delivery (`POST /v1.1/webhooks/{id}/test`). It is inside the signed
body, so a receiver that verifies the signature and reads the body can tell a test from a real event; real
deliveries never carry it."""


def envelope(payload: dict[str, Any], webhook_event_id: str | None = None, *, test: bool = False) -> dict[str, Any]:
    """`{webhook_event_id, payload}`, plus `"test": true` for a test delivery; the id must be kept across retries
    so receivers can dedupe on it."""
    event: dict[str, Any] = {"webhook_event_id": webhook_event_id or str(uuid.uuid4())}
    if test:
        event[TEST_FIELD] = True
    event["payload"] = payload
    return event
