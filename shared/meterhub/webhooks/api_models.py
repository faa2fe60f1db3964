"""Request and response models of the webhook subscription API (Leap's webhooks-openapi shapes)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from meterhub.platform.events import WebhookEventType

SIGNATURE_HEADER = "Meterhub-Signature"
"""The header carrying a delivery's HMAC signature (see rules.signing)."""
TEST_HEADER = "Meterhub-Test"
"""Set on test deliveries (`POST /v1.1/webhooks/{id}/test`), so a receiver can tell a sample from an event."""

# Our headers win over a partner header of the same name (checked case-insensitively when subscribing).
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "user-agent",
        SIGNATURE_HEADER.lower(),
        "meterhub-event-id",
        TEST_HEADER.lower(),
    }
)

MAX_HEADERS = 10
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")  # an RFC 9110 field name


class WebhookModel(BaseModel):
    model_config = ConfigDict(defer_build=True)


def _header_name(name: str) -> str:
    if not _TOKEN.match(name):
        raise ValueError("must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-, at most 64)")
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(f"{name.lower()} is set by meterhub and cannot be overridden")
    return name


def _header_value(value: str) -> str:
    if any(ord(c) < 32 and c != "\t" for c in value) or "\x7f" in value:
        raise ValueError("must not contain control characters")
    return value


class Header(WebhookModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Annotated[str, AfterValidator(_header_name)] = Field(examples=["x-api-key"])
    value: Annotated[str, AfterValidator(_header_value)] = Field(max_length=2048)


def _unique(values: list[WebhookEventType]) -> list[WebhookEventType]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat an event type")
    return values


def _unique_names(headers: list[Header]) -> list[Header]:
    names = [h.name.lower() for h in headers]
    if len(set(names)) != len(names):
        raise ValueError("must not repeat a header name (names are case-insensitive)")
    return headers


class WebhookRequest(WebhookModel):
    """POST and PUT body; a PUT replaces every setting (headers left out become none)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    event_types: Annotated[list[WebhookEventType], AfterValidator(_unique)] = Field(
        min_length=1, max_length=len(WebhookEventType)
    )
    receiver_url: str = Field(min_length=1, max_length=2048, examples=["https://company.com/leap-webhooks"])
    headers: Annotated[list[Header], AfterValidator(_unique_names)] = Field(
        default_factory=list, max_length=MAX_HEADERS
    )


class Webhook(WebhookModel):
    webhook_id: str
    event_types: list[WebhookEventType]
    headers: list[Header]
    receiver_url: str


class WebhookListResponse(WebhookModel):
    webhooks: list[Webhook]


class WebhookResponse(WebhookModel):
    webhook_id: str


class CreateWebhookResponse(WebhookResponse):
    signing_secret: str = Field(
        description="HMAC-SHA256 key for the Meterhub-Signature header. Shown only in this response: store it."
    )


class MessageResponse(WebhookModel):
    message: str = Field(examples=["Operation completed successfully"])


class TestWebhookRequest(WebhookModel):
    """Which event type to test with. The delivery carries meterhub's sample payload of that type (never content
    from the request: any other field is a 400) and is marked as a test: `Meterhub-Test: true` and `"test": true`
    in the signed body."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    webhook_event_type: WebhookEventType = Field(
        default=WebhookEventType.METER_CREATED, description="The type whose sample to send (any type)"
    )


class TestWebhookResponse(WebhookModel):
    is_successful: bool
    status_code: int | None = None
    response_time_ms: int | None = None
    error: str | None = None


class DeliveryAttemptView(WebhookModel):
    n: int = Field(description="Attempt number within its round (1-10)")
    round: int = Field(description="1 for the original delivery, +1 per redelivery request")
    at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None


class Delivery(WebhookModel):
    webhook_event_id: str
    webhook_event_type: str
    status: Literal["PENDING", "DELIVERED", "FAILED"]
    attempts: list[DeliveryAttemptView]
    next_attempt_at: datetime | None = Field(default=None, description="Present while a retry is scheduled")
    end_reason: str | None = Field(
        default=None,
        description="Why a FAILED delivery ended before its 10 attempts: 'webhook deleted' or "
        "'no longer subscribed to <type>' (the webhook was changed while the delivery waited)",
    )
    created_at: datetime
    updated_at: datetime


class DeliveryListResponse(WebhookModel):
    deliveries: list[Delivery]
    next_page_token: str | None = Field(default=None, description="Present only when more deliveries may follow")
