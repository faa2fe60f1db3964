"""One delivery attempt of one event to one subscription.

`deliver` re-checks the receiver URL (the subscription was checked when saved, but DNS can change since),
signs the exact body it sends, posts it with the partner's headers through the injected poster (the
`HttpPost` port; `adapters.http_delivery` is the real one) and reports `{is_successful, status_code,
response_time_ms, error}`. Success is any 2xx within the timeout (10 s, Leap's rule: a 2xx after 10 s counts as
a failure). Redirects are never followed: a 3xx is a failure, so a receiver cannot bounce a delivery to an
internal address.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from meterhub.platform.events import TEST_FIELD
from meterhub.webhooks.api_models import RESERVED_HEADERS, SIGNATURE_HEADER, TEST_HEADER
from meterhub.webhooks.ports import DeliveryResult, HttpPost, PostRequest
from meterhub.webhooks.records import Subscription
from meterhub.webhooks.rules.schedule import DEFAULT_TIMEOUT_SECONDS
from meterhub.webhooks.rules.signing import signature_header
from meterhub.webhooks.rules.urls import Resolver, UnsafeReceiver, check_receiver, system_resolver

USER_AGENT = "meterhub-webhooks/1.0"


def encode_event(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_headers(subscription: Subscription, event: Mapping[str, Any], body: bytes, timestamp: int) -> dict[str, str]:
    headers = {h.name.lower(): h.value for h in subscription.headers if h.name.lower() not in RESERVED_HEADERS}
    headers.update(
        {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(subscription.signing_secret, body, timestamp),
            "meterhub-event-id": str(event.get("webhook_event_id", "")),
        }
    )
    if event.get(TEST_FIELD) is True:
        headers[TEST_HEADER] = "true"
    return headers


def deliver(
    subscription: Subscription,
    event: Mapping[str, Any],
    http_post: HttpPost,
    now: Callable[[], float] = time.time,
    *,
    stage: str,
    resolve: Resolver = system_resolver,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> DeliveryResult:
    """One attempt. Never raises for receiver-side problems: they come back as an unsuccessful result."""
    try:
        receiver = check_receiver(subscription.receiver_url, stage, resolve)
    except UnsafeReceiver as error:
        return DeliveryResult(is_successful=False, error=f"Refused: receiver_url {error.reason}")
    body = encode_event(event)
    request = PostRequest(
        url=subscription.receiver_url,
        address=receiver.addresses[0],
        headers=build_headers(subscription, event, body, int(now())),
        body=body,
        timeout=timeout,
    )
    started = time.monotonic()
    try:
        status = http_post(request)
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, TimeoutError) or time.monotonic() - started >= timeout:  # a read cut at the deadline
            return DeliveryResult(is_successful=False, error=f"Timed out after {timeout:g} s")
        return DeliveryResult(is_successful=False, error=f"Connection failed: {type(error).__name__}")
    elapsed = time.monotonic() - started
    elapsed_ms = int(elapsed * 1000)
    if elapsed > timeout:
        return DeliveryResult(False, status, elapsed_ms, f"Answered after the {timeout:g} s timeout")
    return DeliveryResult(is_successful=200 <= status < 300, status_code=status, response_time_ms=elapsed_ms)
