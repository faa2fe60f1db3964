"""What every HTTP answer carries whatever route or error produced it: today, HSTS on answers served over https.

Why a resolver subclass rather than a middleware or per-response headers: Powertools runs exception handlers and
the not-found handler outside the middleware chain, so only the finished response dict is certain to be every
answer. API Gateway's own answers (401, 403, 429, 5XX) get the same header from the template's GatewayResponses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

HSTS_HEADER = "Strict-Transport-Security"
HSTS_VALUE = "max-age=31536000; includeSubDomains"
"""One year, the value browsers' preload lists ask for; subdomains included, as every stage is https-only."""


def served_over_https(event: Mapping[str, Any]) -> bool:
    """API Gateway terminates TLS and says so in X-Forwarded-Proto; the local runner serves plain http.

    RFC 6797 7.2: the header must not be sent over plain http, so its presence follows the request's scheme.
    """
    headers = event.get("headers") or {}
    proto = next((value for key, value in headers.items() if key.lower() == "x-forwarded-proto"), "")
    return str(proto).strip().lower() == "https"


def with_transport_security(event: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Add HSTS in the header map the response already uses (Powertools answers REST events with multiValueHeaders)."""
    if not served_over_https(event):
        return response
    if isinstance(response.get("multiValueHeaders"), dict):
        multi = {k: v for k, v in response["multiValueHeaders"].items() if k.lower() != HSTS_HEADER.lower()}
        response["multiValueHeaders"] = {**multi, HSTS_HEADER: [HSTS_VALUE]}
    else:
        single = {k: v for k, v in (response.get("headers") or {}).items() if k.lower() != HSTS_HEADER.lower()}
        response["headers"] = {**single, HSTS_HEADER: HSTS_VALUE}
    return response


class SecureRestResolver(APIGatewayRestResolver):
    """Powertools' REST resolver whose every answer carries the transport-security headers."""

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        return with_transport_security(event, super().resolve(event, context))
