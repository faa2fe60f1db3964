"""Webhook subscriptions (Leap's /v1.1/webhooks): list, create, replace, delete, test; the delivery log and
redelivery (transport only).

Errors here use this API's `{error, message}` shape, not the `{title, status, details}` envelope of the meter
APIs: the resolver's handlers are replaced below for this function only, request validation 400s included.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.platform.api.field_errors import field_errors
from meterhub.platform.api.resolver import build_resolver, caller_partner_id, documented, json_body_errors, serialize
from meterhub.platform.errors import DomainError
from meterhub.platform.observability import logger
from meterhub.platform.settings import StageSettings, WebhookEventsQueueSettings, WebhooksTableSettings
from meterhub.webhooks.api_models import (
    CreateWebhookResponse,
    Delivery,
    DeliveryListResponse,
    MessageResponse,
    TestWebhookRequest,
    TestWebhookResponse,
    WebhookErrorResponse,
    WebhookListResponse,
    WebhookRequest,
    WebhookResponse,
)
from meterhub.webhooks.use_cases import subscriptions as webhooks


class Settings(StageSettings, WebhooksTableSettings, WebhookEventsQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


app = build_resolver()

_LOCATIONS = frozenset({"body", "query", "path", "header"})
_LEAP_MESSAGES = {
    401: "Auth token is invalid",
    403: "You do not have permission to perform this action",
    404: "The specified resource was not found",
    500: "An unexpected error occurred",
}


def error(status: int, message: str | None = None) -> Response[str]:
    body = {"error": HTTPStatus(status).phrase, "message": message or _LEAP_MESSAGES.get(status, "")}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=serialize(body))


@app.exception_handler(DomainError)
def domain_error(problem: DomainError) -> Response[str]:
    return error(problem.status, _LEAP_MESSAGES.get(problem.status) or _explained(problem))


def _explained(problem: DomainError) -> str:
    """The title and what the details name, in the one `message` string this API's envelope has."""
    details = problem.details
    named = [f"{k}: {v}" for k, v in details.items()] if isinstance(details, dict) else [str(d) for d in details]
    return f"{problem.title} ({'; '.join(named)})" if named else problem.title


@app.exception_handler(RequestValidationError)
def invalid_request(problem: RequestValidationError) -> Response[str]:
    located = []
    for e in problem.errors():
        loc = tuple(e.get("loc", ()))
        located.append({**e, "loc": loc[1:] if loc and loc[0] in _LOCATIONS else loc})
    if any(not e["loc"] and e.get("type") == "missing" for e in located):
        return error(400, "A JSON request body is required")
    problems = field_errors(located)
    message = "; ".join(f"{p.field}: {p.description}" if p.field else p.description for p in problems)
    return error(400, message or "Invalid request")


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return error(404)


@app.exception_handler(Exception)
def unexpected(_: Exception) -> Response[str]:
    logger.exception("Unhandled error")
    return error(500)


ERRORS: dict[int, OpenAPIResponse] = {
    401: documented(WebhookErrorResponse, "Unauthorized - Auth token is invalid"),
    403: documented(WebhookErrorResponse, "Forbidden - You do not have permission to perform this action"),
    500: documented(WebhookErrorResponse, "Internal Server Error"),
}
INVALID = {400: documented(WebhookErrorResponse, "Invalid request; the message names the field")}
BODY = {**INVALID, **json_body_errors(WebhookErrorResponse)}
MISSING = {404: documented(WebhookErrorResponse, "No such webhook for this partner")}
WebhookId = Annotated[str, Path(description="The webhook's UUID")]
EventId = Annotated[str, Path(description="The event's webhook_event_id")]
CONFLICT = {409: documented(WebhookErrorResponse, "The event is still being delivered")}


def _repo() -> Any:
    return wiring.webhook_repository(Settings.load())


@app.get(
    "/v1.1/webhooks",
    summary="List this partner's webhooks (unpaginated)",
    operation_id="listWebhooks",
    tags=["Webhooks"],
    responses={200: documented(WebhookListResponse, "List of webhooks"), **ERRORS},
)
def list_webhooks() -> WebhookListResponse:
    return webhooks.list_webhooks(_repo(), caller_partner_id(app))


@app.post(
    "/v1.1/webhooks",
    summary="Create a webhook; the answer carries its signing secret, shown only this once",
    operation_id="createWebhook",
    tags=["Webhooks"],
    responses={200: documented(CreateWebhookResponse, "Webhook created successfully"), **BODY, **ERRORS},
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
    responses={200: documented(WebhookResponse, "Webhook updated successfully"), **BODY, **MISSING, **ERRORS},
)
def update_webhook(webhook_id: WebhookId, request: Annotated[WebhookRequest, Body()]) -> WebhookResponse:
    return webhooks.replace_webhook(_repo(), caller_partner_id(app), webhook_id, request, stage=Settings.load().stage)


@app.delete(
    "/v1.1/webhooks/<webhook_id>",
    summary="Delete a webhook",
    operation_id="deleteWebhook",
    tags=["Webhooks"],
    responses={200: documented(MessageResponse, "Webhook deleted successfully"), **MISSING, **ERRORS},
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
        **ERRORS,
    },
)
def test_webhook(
    webhook_id: WebhookId, request: Annotated[TestWebhookRequest | None, Body()] = None
) -> TestWebhookResponse:
    event_type = (request or TestWebhookRequest()).webhook_event_type
    result = webhooks.send_test_event(
        _repo(), caller_partner_id(app), webhook_id, event_type, stage=Settings.load().stage
    )
    logger.info("Webhook tested", extra={"webhook_id": webhook_id, "is_successful": result.is_successful})
    return result


@app.get(
    "/v1.1/webhooks/<webhook_id>/deliveries",
    summary="The webhook's delivery log (attempts, status codes, latency), newest event first",
    operation_id="listWebhookDeliveries",
    tags=["Webhooks"],
    responses={200: documented(DeliveryListResponse, "A page of deliveries"), **INVALID, **MISSING, **ERRORS},
)
def list_webhook_deliveries(
    webhook_id: WebhookId,
    page_size: Annotated[int | None, Query(ge=1, le=webhooks.MAX_DELIVERIES_PAGE)] = None,
    page_token: Annotated[str | None, Query(max_length=2048)] = None,
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
        **ERRORS,
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
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
