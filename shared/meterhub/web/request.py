"""What the public (browser-facing) handlers read from an API Gateway proxy event: form fields, cookies and
the API's own public base URL.

Why the base URL comes from `requestContext` and not the Host header: API Gateway fills `domainName` with the
domain it actually served, so a forged Host cannot make us build an OAuth redirect_uri (or a demo utility
URL the sync later fetches) that points elsewhere. In the local runner the domain is the loopback address
the browser used.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

MAX_FORM_BYTES = 16 * 1024
CONNECT_COOKIE = "meterhub_connect"


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


def public_base_url(event: Mapping[str, Any]) -> str:
    """`https://<api-id>.execute-api.<region>.amazonaws.com/<stage>` on AWS, the custom domain behind a base
    path mapping, `http://127.0.0.1:<port>` in the local runner; PUBLIC_BASE_URL overrides all three."""
    configured = os.environ.get("PUBLIC_BASE_URL")
    if configured:
        return configured.rstrip("/")
    context = event.get("requestContext") or {}
    domain = str(context.get("domainName") or "")
    stage = str(context.get("stage") or "")
    if stage == "local":
        return f"http://{domain}"
    if domain.endswith(".amazonaws.com") and stage:
        return f"https://{domain}/{stage}"
    return f"https://{domain}"
