"""A partner's webhook subscription as stored. `signing_secret` never leaves the service after creation:
API responses are built from the other fields only, and the model's repr hides it so it cannot reach a log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from meterhub.webhooks.events import WebhookEventType


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
