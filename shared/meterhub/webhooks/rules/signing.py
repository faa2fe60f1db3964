"""Delivery signatures (beyond Leap, which signs nothing).

Header: `Meterhub-Signature: t=<unix seconds>,v1=<hex>` where
    v1 = HMAC-SHA256(key=signing_secret as UTF-8, msg=f"{t}.{raw request body}") as lower-case hex.
The secret is the subscription's `signing_secret`, returned once by `POST /v1.1/webhooks`.
A receiver recomputes v1 over the exact bytes it received, compares in constant time, and rejects a
timestamp further than the tolerance (default 5 minutes) from its clock: a captured delivery cannot be
replayed later. Several `v1=` entries may appear (reserved for secret rotation); any match is enough.
`verify` below is the snippet docs/webhooks.md gives receivers; it depends on the standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh per-subscription signing secret (256 bits of randomness)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _as_bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def compute_signature(secret: str, timestamp: int, body: str | bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + _as_bytes(body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: str | bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: str | bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True iff `header` is a valid signature of `body` made with `secret` within `tolerance_seconds`."""
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
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
