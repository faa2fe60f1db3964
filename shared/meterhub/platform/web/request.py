"""What the public (browser-facing) handlers read from an API Gateway proxy event: form fields and cookies.
The API's own public base URL (for redirect URIs) is `meterhub.platform.web.base_url.public_base_url`, re-exported
here so the pages and the demo utility compute it one way.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from meterhub.platform.web.base_url import public_base_url

MAX_FORM_BYTES = 16 * 1024
CONNECT_COOKIE = "meterhub_connect"
__all__ = ["CONNECT_COOKIE", "cookie", "form_fields", "public_base_url"]


def form_fields(event: Mapping[str, Any]) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; the first value of each field. Anything else is empty."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if not str(headers.get("content-type", "")).lower().startswith("application/x-www-form-urlencoded"):
        return {}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    if len(raw) > MAX_FORM_BYTES:
        return {}
    fields: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def cookie(event: Mapping[str, Any], name: str) -> str | None:
    values = (event.get("multiValueHeaders") or {}).get("Cookie") or (event.get("multiValueHeaders") or {}).get(
        "cookie"
    )
    if not values:
        single = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("cookie")
        values = [single] if single else []
    for header in values:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        if name in jar:
            return jar[name].value
    return None
