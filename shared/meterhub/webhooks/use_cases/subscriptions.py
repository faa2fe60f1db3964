"""Webhook subscription use cases: create, list, replace, delete, test; the delivery log and redelivery.
Transport-free."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from meterhub.platform import page_tokens
from meterhub.platform.errors import Conflict, NotFound
from meterhub.platform.events import WebhookEventType, envelope
from meterhub.platform.work_queue import WorkQueue
from meterhub.webhooks.api_models import (
    CreateWebhookResponse,
    Delivery,
    DeliveryAttemptView,
    DeliveryListResponse,
    Header,
    TestWebhookResponse,
    Webhook,
    WebhookListResponse,
    WebhookRequest,
    WebhookResponse,
)
from meterhub.webhooks.ports import DeliveryLog, HttpPost, WebhookRepository
from meterhub.webhooks.records import DeliveryRecord, DeliveryStatus, Subscription, WebhookHeader
from meterhub.webhooks.rules.signing import new_secret
from meterhub.webhooks.rules.urls import Resolver, check_receiver, system_resolver
from meterhub.webhooks.use_cases.deliver import deliver
from meterhub.webhooks.use_cases.dispatch import task_message

NOT_FOUND_MESSAGE = "The specified resource was not found"


def _now() -> datetime:
    return datetime.now(UTC)


def _view(subscription: Subscription) -> Webhook:
    return Webhook(
        webhook_id=subscription.webhook_id,
        event_types=subscription.event_types,
        headers=[Header(name=h.name, value=h.value) for h in subscription.headers],
        receiver_url=subscription.receiver_url,
    )


def _settings(request: WebhookRequest, stage: str, resolve: Resolver) -> dict[str, Any]:
    check_receiver(request.receiver_url, stage, resolve)
    return {
        "event_types": list(request.event_types),
        "receiver_url": request.receiver_url,
        "headers": [WebhookHeader(name=h.name.lower(), value=h.value) for h in request.headers],
    }


def create_webhook(
    repo: WebhookRepository,
    partner_id: str,
    request: WebhookRequest,
    *,
    stage: str,
    resolve: Resolver = system_resolver,
) -> CreateWebhookResponse:
    """The secret is in this answer only; it is never returned again (nor logged)."""
    now = _now()
    subscription = Subscription(
        webhook_id=str(uuid.uuid4()),
        partner_id=partner_id,
        signing_secret=new_secret(),
        created_at=now,
        updated_at=now,
        **_settings(request, stage, resolve),
    )
    repo.create(subscription)
    return CreateWebhookResponse(webhook_id=subscription.webhook_id, signing_secret=subscription.signing_secret)


def list_webhooks(repo: WebhookRepository, partner_id: str) -> WebhookListResponse:
    return WebhookListResponse(webhooks=[_view(s) for s in repo.for_partner(partner_id)])


def _existing(repo: WebhookRepository, partner_id: str, webhook_id: str) -> Subscription:
    subscription = repo.get(partner_id, webhook_id)
    if subscription is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return subscription


def replace_webhook(
    repo: WebhookRepository,
    partner_id: str,
    webhook_id: str,
    request: WebhookRequest,
    *,
    stage: str,
    resolve: Resolver = system_resolver,
) -> WebhookResponse:
    current = _existing(repo, partner_id, webhook_id)
    replacement = current.model_copy(update={**_settings(request, stage, resolve), "updated_at": _now()})
    if not repo.replace(replacement):
        raise NotFound(NOT_FOUND_MESSAGE)
    return WebhookResponse(webhook_id=webhook_id)


def delete_webhook(repo: WebhookRepository, partner_id: str, webhook_id: str) -> None:
    if not repo.delete(partner_id, webhook_id):
        raise NotFound(NOT_FOUND_MESSAGE)


def send_test_event(
    repo: WebhookRepository,
    partner_id: str,
    webhook_id: str,
    event_type: WebhookEventType = WebhookEventType.METER_CREATED,
    *,
    stage: str,
    http_post: HttpPost,
    resolve: Resolver = system_resolver,
    now: Callable[[], float] | None = None,
) -> TestWebhookResponse:
    """Sends our sample of `event_type` now, once, signed like a real delivery and marked as a test (the body's
    `"test": true`, the Meterhub-Test header). Never caller-written content: a leaked API key must not make a
    receiver see a forged event that verifies."""
    # Imported here: the samples pull in the stream derivations (enrollment, the catalog, the Connect models),
    # which the API's other routes never need, so its cold start does not pay for them
    from meterhub.webhooks.use_cases.samples import sample_payload

    subscription = _existing(repo, partner_id, webhook_id)
    event = envelope(sample_payload(event_type), test=True)
    result = deliver(subscription, event, http_post, now or time.time, stage=stage, resolve=resolve)
    return TestWebhookResponse(**result.as_dict())


# ----- delivery log and redelivery ------------------------------------------------------------------------
DEFAULT_DELIVERIES_PAGE = 25
MAX_DELIVERIES_PAGE = 100


def _delivery_view(record: DeliveryRecord) -> Delivery:
    return Delivery(
        webhook_event_id=record.webhook_event_id,
        webhook_event_type=record.webhook_event_type,
        status=record.status.value,
        attempts=[DeliveryAttemptView(**a.model_dump()) for a in record.attempts],
        next_attempt_at=record.next_attempt_at,
        end_reason=record.end_reason,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def list_deliveries(
    repo: WebhookRepository,
    log: DeliveryLog,
    partner_id: str,
    webhook_id: str,
    *,
    page_size: int | None = None,
    page_token: str | None = None,
) -> DeliveryListResponse:
    """The webhook's delivery log, newest event first.

    `page_size` (1 to MAX_DELIVERIES_PAGE) is bounded by the route, this function's only caller.
    """
    _existing(repo, partner_id, webhook_id)
    size = DEFAULT_DELIVERIES_PAGE if page_size is None else page_size
    fingerprint = page_tokens.fingerprint({"webhook_id": webhook_id})
    before = page_tokens.decode(page_token, fingerprint) if page_token else None
    selected: list[DeliveryRecord] = []
    last = ""
    for sort_key, record in log.newest_first(partner_id, webhook_id, before):
        if len(selected) == size:
            return DeliveryListResponse(
                deliveries=[_delivery_view(r) for r in selected], next_page_token=page_tokens.encode(last, fingerprint)
            )
        selected.append(record)
        last = sort_key
    return DeliveryListResponse(deliveries=[_delivery_view(r) for r in selected])


def redeliver(
    repo: WebhookRepository,
    log: DeliveryLog,
    queue: WorkQueue,
    partner_id: str,
    webhook_id: str,
    webhook_event_id: str,
    now: Callable[[], float] = time.time,
) -> Delivery:
    """Queue a DELIVERED or FAILED event again, as attempt 1 of a new round (the schedule starts over)."""
    _existing(repo, partner_id, webhook_id)
    record = log.get(partner_id, webhook_id, webhook_event_id)
    if record is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    if record.status is DeliveryStatus.PENDING:
        raise Conflict("The event is still being delivered; retry when it is DELIVERED or FAILED")
    at = datetime.fromtimestamp(now(), UTC)
    restarted = record.model_copy(
        update={
            "status": DeliveryStatus.PENDING,
            "round": record.round + 1,
            "attempt_count": 0,
            "next_attempt_at": at,
            "end_reason": None,  # a new round: why the last one ended no longer describes this entry
            "updated_at": at,
        }
    )
    if not log.save(restarted, record.round, record.attempt_count):
        raise Conflict("The event is being redelivered already")
    queue.send(task_message(restarted, 1))
    return _delivery_view(restarted)
