"""One factory for every API function's resolver, so all of them answer errors the same way.

Errors use the function's envelope (`error_envelopes`): Leap's `{title, status, details}` unless the function
speaks another. An unexpected exception is logged with its stack trace and answered with the envelope's 500:
nothing internal leaks to the caller. Every route declares, besides its own responses, what API Gateway can
answer for it (401, 403, 429) and its function's 500, so no operation in openapi.json has an undeclared error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Route
from aws_lambda_powertools.event_handler.openapi.constants import (
    DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
    DEFAULT_STATUS_CODE,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.shared.types import AnyCallableT

from meterhub.platform.api.envelopes import ErrorResponse, InternalError, serialize
from meterhub.platform.api.error_envelopes import (
    TITLE_STATUS_DETAILS,
    ErrorEnvelope,
    InvalidRequestShape,
    RequestProblems,
)
from meterhub.platform.api.request_body import check_body
from meterhub.platform.api.transport import SecureRestResolver
from meterhub.platform.errors import DomainError, Unauthenticated
from meterhub.platform.observability import logger


def documented(model: Any, description: str) -> OpenAPIResponse:
    """One OpenAPI response entry: `responses={404: documented(ErrorResponse, "No such meter")}`. `model` is a
    model, or a union of models when the status can come in more than one shape."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def gateway_errors() -> dict[int, OpenAPIResponse]:
    """What API Gateway answers for any authorized route before its function runs (template.yaml's
    GatewayResponses, in `ErrorResponse`): every route declares these through `build_resolver`."""
    return {
        401: documented(ErrorResponse, "Missing or malformed bearer token (API Gateway)"),
        403: documented(ErrorResponse, "Unknown or revoked API key, or a partner not in the usage plan (API Gateway)"),
        429: {
            **documented(ErrorResponse, "Over the partner's rate limit: retry after Retry-After seconds (API Gateway)"),
            "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
        },
    }


def either(model: type[Any], other: type[Any]) -> Any:
    """`model`, or the union of both when a status can come from the function and from API Gateway in two shapes."""
    return model if model is other else model | other


def json_body_errors(model: type[Any] = ErrorResponse) -> dict[int, OpenAPIResponse]:
    """The 413 and 415 the body decoder answers on a route with a JSON body, in that function's error `model`
    (a body over API Gateway's own 10 MB limit is refused by the gateway, in `ErrorResponse`).

    The contract test fails for a route whose body is documented without them.
    """
    return {
        413: documented(either(model, ErrorResponse), "Body over 1 MiB"),
        415: documented(model, "Content-Type is not application/json"),
    }


class ApiResolver(SecureRestResolver):
    """Powertools' REST resolver that runs `request_body.check_body` on a matched route before anything reads the body.

    `_call_route` is where Powertools holds the matched route and turns exceptions into the registered handlers'
    answers, so a refusal here is worded by the function's own handlers. Powertools is pinned; the request-decoding
    tests probe every documented JSON route, so an upgrade that moves this seam fails the suite.
    """

    error_responses: Mapping[int, OpenAPIResponse] = {}
    """What every route declares unless it says otherwise (`build_resolver` sets them from the envelope)."""

    def route(
        self,
        rule: str,
        method: str | list[str] | tuple[str],
        cors: bool | None = None,
        compress: bool = False,
        cache_control: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        responses: dict[int, OpenAPIResponse] | None = None,
        response_description: str = DEFAULT_OPENAPI_RESPONSE_DESCRIPTION,
        tags: list[str] | None = None,
        operation_id: str | None = None,
        include_in_schema: bool = True,
        security: list[dict[str, list[str]]] | None = None,
        openapi_extensions: dict[str, Any] | None = None,
        deprecated: bool = False,
        enable_validation: bool | None = None,
        custom_response_validation_http_code: int | HTTPStatus | None = None,
        status_code: int = DEFAULT_STATUS_CODE,
        middlewares: list[Callable[..., Any]] | None = None,
    ) -> Callable[[AnyCallableT], AnyCallableT]:
        """Powertools' route (its signature: get, post, ... call it positionally) with `error_responses` added to
        the route's own `responses`, which win. A route that declares no success answer keeps Powertools' own
        (its return type, which Powertools documents only when the route declares no response at all)."""
        success: dict[int, OpenAPIResponse] = (
            {} if responses and status_code in responses else {status_code: {"description": response_description}}
        )
        return super().route(
            rule,
            method,
            cors,
            compress,
            cache_control,
            summary,
            description,
            {**self.error_responses, **success, **(responses or {})},
            response_description,
            tags,
            operation_id,
            include_in_schema,
            security,
            openapi_extensions,
            deprecated,
            enable_validation,
            custom_response_validation_http_code,
            status_code,
            middlewares,
        )

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
    envelope: ErrorEnvelope = TITLE_STATUS_DETAILS, invalid_requests: Mapping[str, InvalidRequestShape] | None = None
) -> ApiResolver:
    """`envelope` is the error shape the function speaks; `invalid_requests` maps a resource to the shape its
    refused requests take instead (Leap's own 400 of that route, see `error_envelopes`).

    Every route declares the envelope's 500 (an authorizer failure is API Gateway's `InternalError` whatever the
    envelope) and `gateway_errors`, unless it declares those statuses itself."""
    app = ApiResolver(enable_validation=True, serializer=serialize)
    app.error_responses = {
        **gateway_errors(),
        500: documented(either(envelope.unexpected_model, InternalError), "Unexpected error; the cause is logged"),
    }
    shapes = dict(invalid_requests or {})

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        return envelope.domain_error(error)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        problems = RequestProblems.of(error)
        shape = shapes.get(app.current_event.resource)
        return shape(problems) if shape is not None else envelope.invalid_request(problems)

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
