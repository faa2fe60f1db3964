"""A partner's webhook subscription as stored. `signing_secret` never leaves the service after creation:
API responses are built from the other fields only, and the model's repr hides it so it cannot reach a log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from meterhub.platform.events import WebhookEventType


class WebhookHeader(BaseModel):
    name: str
    value: str = Field(repr=False)


class Subscription(BaseModel):
    webhook_id: str
    partner_id: str
    event_types: list[WebhookEventType]
    receiver_url: str
    headers: list[WebhookHeader] = Field(default_factory=list)
    signing_secret: str = Field(repr=False)
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types


class DeliveryStatus(StrEnum):
    """PENDING while attempts remain; DELIVERED and FAILED are final (until a redelivery starts a new round).

    An entry whose subscription was deleted, or no longer wants the event's type, mid-schedule also ends FAILED
    (with `end_reason` set) rather than in a status of its own: the API's `Delivery.status` and the partner's
    redelivery rule ("DELIVERED or FAILED") already cover it, so clients need not learn a fourth value."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class DeliveryAttempt(BaseModel):
    """One POST of an event to a subscription: `n` counts within a round (a redelivery starts round 2 at 1)."""

    n: int
    round: int = 1
    at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None


class DeliveryRecord(BaseModel):
    """The delivery log entry of one event for one subscription (`PARTNER#<pid>#WEBHOOK#<id>` | `DELIVERY#<eid>`).

    `round` and `attempt_count` (attempts recorded in this round) are the optimistic-concurrency guard: an
    attempt is recorded only over the state it started from, so a redelivered task never posts twice."""

    partner_id: str
    webhook_id: str
    webhook_event_id: str
    webhook_event_type: str
    event: dict[str, Any]
    status: DeliveryStatus = DeliveryStatus.PENDING
    round: int = 1
    attempt_count: int = 0
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    next_attempt_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    # Why the entry ended without a further attempt ("webhook deleted", "no longer subscribed to <type>"): the
    # attempts alone would show a FAILED entry with attempts left and nothing saying why. None otherwise; cleared
    # by the next recorded attempt.
    end_reason: str | None = None
