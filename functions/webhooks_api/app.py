"""Webhook subscriptions (Leap's /v1.1/webhooks): list, create, replace, delete, test; the delivery log and
redelivery (transport only).

Errors here use this API's `{error, message}` shape, not the `{title, status, details}` envelope of the meter
APIs: the resolver speaks `ERROR_MESSAGE` (platform.api.error_envelopes) for this function, request validation
400s included. What API Gateway answers before the function runs (401, 403, 429, a body over 10 MB) is the
gateway's `{title, status, details}`, as on every route: gateway responses are one per API, not per route.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.platform.api.envelopes import WebhookErrorResponse
from meterhub.platform.api.error_envelopes import ERROR_MESSAGE
from meterhub.platform.api.params import PAGE_TOKEN_MAX_LENGTH, uuid_path
from meterhub.platform.api.resolver import build_resolver, caller_partner_id, documented, json_body_errors
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import StageSettings, WebhookEventsQueueSettings, WebhooksTableSettings
from meterhub.webhooks.api_models import (
    CreateWebhookResponse,
    Delivery,
    DeliveryListResponse,
    MessageResponse,
    TestWebhookRequest,
    TestWebhookResponse,
    WebhookListResponse,
    WebhookRequest,
    WebhookResponse,
)
from meterhub.webhooks.use_cases import subscriptions as webhooks


class Settings(StageSettings, WebhooksTableSettings, WebhookEventsQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


app = build_resolver(envelope=ERROR_MESSAGE)

INVALID = {400: documented(WebhookErrorResponse, "Invalid request; the message names the field")}
BODY = {**INVALID, **json_body_errors(WebhookErrorResponse)}
MISSING = {404: documented(WebhookErrorResponse, "No such webhook for this partner")}
WebhookId = Annotated[str, uuid_path("The webhook's UUID")]
"""Documented as a UUID, never refused as one: any id that names none of the partner's webhooks is Leap's 404."""
EventId = Annotated[str, uuid_path("The event's webhook_event_id")]
"""Documented as a UUID (every webhook_event_id is one), and like `WebhookId` a 404 when it names no event."""
CONFLICT = {409: documented(WebhookErrorResponse, "The event is still being delivered")}


def _repo() -> Any:
    return wiring.webhook_repository(Settings.load())


@app.get(
    "/v1.1/webhooks",
    summary="List this partner's webhooks (unpaginated)",
    operation_id="listWebhooks",
    tags=["Webhooks"],
    responses={200: documented(WebhookListResponse, "List of webhooks")},
)
def list_webhooks() -> WebhookListResponse:
    return webhooks.list_webhooks(_repo(), caller_partner_id(app))


@app.post(
    "/v1.1/webhooks",
    summary="Create a webhook; the answer carries its signing secret, shown only this once",
    operation_id="createWebhook",
    tags=["Webhooks"],
    responses={200: documented(CreateWebhookResponse, "Webhook created successfully"), **BODY},
)
def create_webhook(request: Annotated[WebhookRequest, Body()]) -> CreateWebhookResponse:
    created = webhooks.create_webhook(_repo(), caller_partner_id(app), request, stage=Settings.load().stage)
    logger.info("Webhook created", extra={"webhook_id": created.webhook_id})
    return created


@app.put(
    "/v1.1/webhooks/<webhook_id>",
    summary="Replace every setting of a webhook (its signing secret is kept)",
    operation_id="updateWebhook",
    tags=["Webhooks"],
    responses={200: documented(WebhookResponse, "Webhook updated successfully"), **BODY, **MISSING},
)
def update_webhook(webhook_id: WebhookId, request: Annotated[WebhookRequest, Body()]) -> WebhookResponse:
    return webhooks.replace_webhook(_repo(), caller_partner_id(app), webhook_id, request, stage=Settings.load().stage)


@app.delete(
    "/v1.1/webhooks/<webhook_id>",
    summary="Delete a webhook",
    operation_id="deleteWebhook",
    tags=["Webhooks"],
    responses={200: documented(MessageResponse, "Webhook deleted successfully"), **MISSING},
)
def delete_webhook(webhook_id: WebhookId) -> MessageResponse:
    webhooks.delete_webhook(_repo(), caller_partner_id(app), webhook_id)
    return MessageResponse(message="Operation completed successfully")


@app.post(
    "/v1.1/webhooks/<webhook_id>/test",
    summary="Send our sample of an event type (default meter.created), marked as a test, to the webhook now "
    "and report how it went",
    operation_id="testWebhook",
    tags=["Webhooks"],
    responses={
        200: documented(TestWebhookResponse, "The delivery attempt's outcome"),
        **BODY,
        **MISSING,
    },
)
def test_webhook(
    webhook_id: WebhookId, request: Annotated[TestWebhookRequest | None, Body()] = None
) -> TestWebhookResponse:
    event_type = (request or TestWebhookRequest()).webhook_event_type
    result = webhooks.send_test_event(
        _repo(),
        caller_partner_id(app),
        webhook_id,
        event_type,
        stage=Settings.load().stage,
        http_post=wiring.webhook_poster(),
    )
    logger.info("Webhook tested", extra={"webhook_id": webhook_id, "is_successful": result.is_successful})
    return result


@app.get(
    "/v1.1/webhooks/<webhook_id>/deliveries",
    summary="The webhook's delivery log (attempts, status codes, latency), newest event first",
    operation_id="listWebhookDeliveries",
    tags=["Webhooks"],
    responses={200: documented(DeliveryListResponse, "A page of deliveries"), **INVALID, **MISSING},
)
def list_webhook_deliveries(
    webhook_id: WebhookId,
    page_size: Annotated[int | None, Query(ge=1, le=webhooks.MAX_DELIVERIES_PAGE)] = None,
    page_token: Annotated[str | None, Query(max_length=PAGE_TOKEN_MAX_LENGTH)] = None,
) -> DeliveryListResponse:
    settings = Settings.load()
    return webhooks.list_deliveries(
        _repo(),
        wiring.delivery_log(settings),
        caller_partner_id(app),
        webhook_id,
        page_size=page_size,
        page_token=page_token,
    )


@app.post(
    "/v1.1/webhooks/<webhook_id>/deliveries/<webhook_event_id>/redeliver",
    summary="Deliver a DELIVERED or FAILED event again, with a fresh retry schedule",
    operation_id="redeliverWebhookEvent",
    tags=["Webhooks"],
    responses={
        200: documented(Delivery, "The event is queued again (status PENDING)"),
        **MISSING,
        **CONFLICT,
    },
)
def redeliver_webhook_event(webhook_id: WebhookId, webhook_event_id: EventId) -> Delivery:
    settings = Settings.load()
    result = webhooks.redeliver(
        _repo(),
        wiring.delivery_log(settings),
        wiring.webhook_events_queue(settings),
        caller_partner_id(app),
        webhook_id,
        webhook_event_id,
    )
    logger.info("Webhook event redelivery queued", extra={"webhook_id": webhook_id, "event_id": webhook_event_id})
    return result


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
