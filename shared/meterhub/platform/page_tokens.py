"""Opaque page tokens shared by every paged listing.

A token carries the sort key of the last item served and a fingerprint of the filters it was issued for:
reusing it with other filters is a 400, and a forged token can only move the cursor inside the caller's own
partition (the partition always comes from the authenticated partner, never from the token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from meterhub.platform.errors import InvalidInput


def fingerprint(filters: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode(cursor: str, filters_fingerprint: str) -> str:
    raw = json.dumps({"after": cursor, "filters": filters_fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, filters_fingerprint: str, *, prefix: str = "") -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor, filters = decoded["after"], decoded["filters"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput("page_token is not a token this API issued", {"page_token": token[:64]}) from None
    if not isinstance(cursor, str) or not cursor.startswith(prefix) or filters != filters_fingerprint:
        raise InvalidInput("page_token belongs to a search with different filters", {"page_token": token[:64]})
    return cursor


MAX_PAGE_SIZE = 500
"""The largest page any listing returns, whatever `page_size` asks for."""
