"""Verifying a webhook delivery's `Meterhub-Signature` (docs/webhooks.md "Verifying a signature").

The scheme, reimplemented here so the client needs nothing of the server: `t=<unix seconds>,v1=<hex>` where v1
is the lower-case hex HMAC-SHA256, keyed with the subscription's signing secret (UTF-8), of `<t>.<raw body>`.
Several `v1=` entries may appear (any match is enough); a timestamp further than the tolerance from the clock
is refused, so a captured delivery cannot be replayed. A test signs with the server's signer and verifies here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

SIGNATURE_HEADER = "Meterhub-Signature"
EVENT_ID_HEADER = "Meterhub-Event-Id"
TEST_HEADER = "Meterhub-Test"
TEST_FIELD = "test"
"""A test delivery (POST /v1.1/webhooks/{id}/test) has `"test": true` in its signed body."""
DEFAULT_TOLERANCE_SECONDS = 300


def verify_signature(
    secret: str,
    header: str,
    body: str | bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True iff `header` signs exactly `body` with `secret`, at a time within `tolerance_seconds` of `now`.

    Verify the raw bytes received, before parsing them: re-serialized JSON would not match.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + raw, hashlib.sha256)
    return any(hmac.compare_digest(expected.hexdigest(), candidate) for candidate in candidates)


def is_test_delivery(body: str | bytes) -> bool:
    """A test delivery carries our sample payload: acknowledge it, never act on it. Decide on the signed body,
    not the (unsigned) Meterhub-Test header."""
    try:
        event = json.loads(body)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get(TEST_FIELD) is True
