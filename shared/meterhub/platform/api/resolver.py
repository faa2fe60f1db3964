"""One factory for every API function's resolver, so all of them answer errors the same way.

Errors use Leap's `{title, status, details}` envelope. An unexpected exception is logged with its stack trace
and answered with Leap's bare 500 string: nothing internal leaks to the caller.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Route
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from meterhub.platform.api.envelopes import CreateMeterError, CreateMeterErrorResponse, ErrorResponse
from meterhub.platform.api.field_errors import FieldError, field_errors
from meterhub.platform.api.request_body import check_body
from meterhub.platform.api.transport import SecureRestResolver
from meterhub.platform.errors import DomainError, Unauthenticated
from meterhub.platform.observability import logger

_LOCATIONS = frozenset({"body", "query", "path", "header"})
INTERNAL_ERROR_BODY = '"An error happened whilst processing your request"'


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


def _without_nulls(value: Any) -> Any:
    """Absent beats null: Leap omits unset fields (and next_page_token when there is no next page)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def serialize(value: Any) -> str:
    return json.dumps(_without_nulls(value), separators=(",", ":"), ensure_ascii=False, default=str)


def error_response(
    status: int, title: str, details: dict[str, Any] | list[dict[str, Any]] | None = None
) -> Response[str]:
    body = {"title": title, "status": status, "details": details if details is not None else {}}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=serialize(body))


def asset_errors_response(errors: list[FieldError], prefix: str = "") -> Response[str]:
    """Leap's CreateMeterErrorResponse: one entry per failing field of the submitted asset."""
    body = CreateMeterErrorResponse(
        errors=[
            CreateMeterError(field=f"{prefix}{e.field}" if e.field else None, description=e.description) for e in errors
        ]
    )
    return Response(status_code=400, content_type=content_types.APPLICATION_JSON, body=serialize(body.model_dump()))


def _relative_to_request(error: dict[str, Any]) -> dict[str, Any]:
    """Name fields as the partner wrote them: `customer.city`, `update_existing` (not `body.customer.city`).

    A missing body becomes a body-level error with no field.
    """
    loc = tuple(error.get("loc", ()))
    if loc and loc[0] in _LOCATIONS:
        loc = loc[1:]
    if not loc and error.get("type") == "missing":
        return {**error, "loc": (), "type": "value_error", "msg": "Value error, a JSON request body is required"}
    return {**error, "loc": loc}


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


def build_resolver(asset_routes: frozenset[str] = frozenset()) -> ApiResolver:
    """`asset_routes` are the resources whose body is one asset: their 400s use CreateMeterErrorResponse."""
    app = ApiResolver(enable_validation=True, serializer=serialize)

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        return error_response(error.status, error.title, error.details)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        errors = field_errors([_relative_to_request(e) for e in error.errors()])
        if app.current_event.resource in asset_routes:
            return asset_errors_response(errors)
        details = {e.field or "body": e.description for e in errors}
        return error_response(400, "Invalid request", details)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return error_response(404, "Route not found")

    @app.exception_handler(Exception)
    def unexpected(_: Exception) -> Response[str]:
        logger.exception("Unhandled error")
        return Response(status_code=500, content_type=content_types.APPLICATION_JSON, body=INTERNAL_ERROR_BODY)

    return app


def caller_partner_id(app: APIGatewayRestResolver) -> str:
    """The partner the authorizer resolved; its absence means the route was deployed without auth."""
    partner_id = app.current_event.request_context.authorizer.get("partner_id")
    if not isinstance(partner_id, str) or not partner_id:
        raise Unauthenticated("Unauthorized")
    return partner_id
