"""The API's own public base URL, as the browser and the adapter must see it.

Why it matters: the demo utility is served by this same API, so its endpoints, the `resourceURI` it hands out
and the redirect URIs it accepts are all built from this base URL, and the adapter's SSRF guard compares
against the same base. Every party must therefore compute it the same way: this is the one implementation
(the Connect pages use it through `meterhub.platform.web.request`, to build the redirect_uri):

  * `configured` (the function's PUBLIC_BASE_URL setting) wins when set, e.g. behind a custom domain;
  * the local runner (stage `local`, or a loopback domain): `http://<domainName>` (the Host the browser used,
    port included), no stage prefix;
  * API Gateway's own domain (`*.amazonaws.com`): `https://<domainName>/<stage>`;
  * any other domain (a custom domain with a base path mapping): `https://<domainName>`.

The domain comes from `requestContext.domainName`, which API Gateway fills with the domain it served (a
forged Host header cannot change it); it is still checked to be a plain host[:port] before use.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::\d{{1,5}})?$")
_STAGE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
LOCAL_STAGE = "local"


def _is_loopback(domain: str) -> bool:
    host = urlsplit(f"//{domain}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_base_url(event: Mapping[str, Any], configured: str) -> str:
    """The base URL (no trailing slash) of the API that received `event` (an API Gateway REST proxy event), or
    `configured` when it is not empty.

    Raises ValueError when the event carries no usable domain (or `configured` is not an http(s) URL).
    """
    configured = configured.strip()
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("PUBLIC_BASE_URL must be an http(s) URL without query or fragment")
        return configured.rstrip("/")
    context = event.get("requestContext") or {}
    domain = str(context.get("domainName") or "")
    stage = str(context.get("stage") or "")
    if not _DOMAIN.match(domain):
        raise ValueError("the request carries no usable domain name")
    if stage and not _STAGE.match(stage):
        raise ValueError("the request carries an unusable stage name")
    if stage == LOCAL_STAGE or _is_loopback(domain):
        return f"http://{domain}"
    if domain.lower().endswith(".amazonaws.com") and stage:
        return f"https://{domain}/{stage}"
    return f"https://{domain}"
