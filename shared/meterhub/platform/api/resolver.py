"""One factory for every API function's resolver, so all of them answer errors the same way.

Errors use the function's envelope (`error_envelopes`): Leap's `{title, status, details}` unless the function
speaks another. An unexpected exception is logged with its stack trace and answered with the envelope's 500:
nothing internal leaks to the caller.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Route
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from meterhub.platform.api.envelopes import ErrorResponse, serialize
from meterhub.platform.api.error_envelopes import (
    TITLE_STATUS_DETAILS,
    ErrorEnvelope,
    RequestProblems,
    asset_errors_response,
)
from meterhub.platform.api.request_body import check_body
from meterhub.platform.api.transport import SecureRestResolver
from meterhub.platform.errors import DomainError, Unauthenticated
from meterhub.platform.observability import logger


def documented(model: type[Any], description: str) -> OpenAPIResponse:
    """One OpenAPI response entry: `responses={404: documented(ErrorResponse, "No such meter")}`."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def auth_errors() -> dict[int, OpenAPIResponse]:
    """The 401/403 every authorized route documents (API Gateway answers them from the template)."""

    return {
        401: documented(ErrorResponse, "Missing or malformed bearer token"),
        403: documented(ErrorResponse, "Unknown or revoked API key"),
    }


def json_body_errors(model: type[Any] = ErrorResponse) -> dict[int, OpenAPIResponse]:
    """The 413 and 415 the body decoder answers on a route with a JSON body, in that function's error `model`.

    The contract test fails for a route whose body is documented without them.
    """
    return {
        413: documented(model, "Body over 1 MiB"),
        415: documented(model, "Content-Type is not application/json"),
    }


class ApiResolver(SecureRestResolver):
    """Powertools' REST resolver that runs `request_body.check_body` on a matched route before anything reads the body.

    `_call_route` is where Powertools holds the matched route and turns exceptions into the registered handlers'
    answers, so a refusal here is worded by the function's own handlers. Powertools is pinned; the request-decoding
    tests probe every documented JSON route, so an upgrade that moves this seam fails the suite.
    """

    def _call_route(self, route: Route, route_arguments: dict[str, str]) -> ResponseBuilder[Any]:
        try:
            check_body(self.current_event.raw_event, json_route=bool(route.dependant.body_params))
        except Exception as problem:
            answer = self._call_exception_handler(problem, route)
            if answer is None:
                raise
            return answer
        return super()._call_route(route, route_arguments)


def build_resolver(
    asset_routes: frozenset[str] = frozenset(), envelope: ErrorEnvelope = TITLE_STATUS_DETAILS
) -> ApiResolver:
    """`envelope` is the error shape the function speaks; `asset_routes` are the resources whose body is one
    asset: their 400s use CreateMeterErrorResponse."""
    app = ApiResolver(enable_validation=True, serializer=serialize)

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        return envelope.domain_error(error)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        problems = RequestProblems.of(error)
        if app.current_event.resource in asset_routes:
            return asset_errors_response(problems.errors)
        return envelope.invalid_request(problems)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return envelope.route_not_found()

    @app.exception_handler(Exception)
    def unexpected(_: Exception) -> Response[str]:
        logger.exception("Unhandled error")
        return envelope.unexpected()

    return app


def caller_partner_id(app: APIGatewayRestResolver) -> str:
    """The partner the authorizer resolved; its absence means the route was deployed without auth."""
    partner_id = app.current_event.request_context.authorizer.get("partner_id")
    if not isinstance(partner_id, str) or not partner_id:
        raise Unauthenticated("Unauthorized")
    return partner_id
