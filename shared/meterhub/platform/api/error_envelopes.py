"""Every error body the API functions answer, built here and only here (README "Errors" tells the story).

A function's resolver speaks one envelope for the four kinds of failure (a `DomainError` a use case raised, a
request that failed validation, whether Powertools or the body decoder refused it, an unknown route, and an
unexpected exception):

- `TITLE_STATUS_DETAILS`: `{title, status, details}` (`ErrorResponse`), Leap's meter-API envelope and ours
  wherever Leap gives a route no other; an unexpected error is Leap's bare 500 string (`InternalError`).
- `ERROR_MESSAGE`: `{error, message}` (`WebhookErrorResponse`), Leap's webhooks API: `error` is the status
  phrase, `message` one sentence; 401, 403, 404 and 500 carry Leap's fixed messages.

Two of Leap's routes answer a refused request in a shape of their own, whichever check refused it
(`INVALID_REQUEST_SHAPES`, which `build_resolver` takes per route): `asset_errors` (create-meter's
`{errors: [...]}`, `CreateMeterErrorResponse`) and `validation_error` (Leap's bare ValidationError
`{message, problem_field}`, `BatchValidationError`), the latter also raised as `validation_error_response` by the
provisional-asset listing for the problems its use case finds.

API Gateway answers some failures before any function runs, in `ErrorResponse` or `InternalError` too: its
bodies are template.yaml's GatewayResponses, and `resolver.gateway_errors` declares them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from meterhub.platform.api.envelopes import (
    BatchValidationError,
    CreateMeterError,
    CreateMeterErrorResponse,
    ErrorResponse,
    InternalError,
    WebhookErrorResponse,
    serialize,
)
from meterhub.platform.api.field_errors import FieldError, field_errors
from meterhub.platform.errors import DomainError

INTERNAL_ERROR_BODY = '"An error happened whilst processing your request"'
_LOCATIONS = frozenset({"body", "query", "path", "header"})


# ----- the shapes -------------------------------------------------------------------------------------------


def error_response(
    status: int, title: str, details: dict[str, Any] | list[dict[str, Any]] | None = None
) -> Response[str]:
    """`{title, status, details}`."""
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


LEAP_MESSAGES = {
    401: "Auth token is invalid",
    403: "You do not have permission to perform this action",
    404: "The specified resource was not found",
    500: "An unexpected error occurred",
}
"""The `message` Leap's webhooks API gives these statuses whatever the cause."""


def error_message_response(status: int, message: str | None = None) -> Response[str]:
    """`{error, message}`: the status phrase, and `message` or Leap's fixed one for the status."""
    body = {"error": HTTPStatus(status).phrase, "message": message or LEAP_MESSAGES.get(status, "")}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=serialize(body))


def validation_error_response(error: DomainError) -> Response[str]:
    """`{message, problem_field}` (400): the message the details carry (else the title), and the field they name."""
    details = error.details if isinstance(error.details, dict) else {}
    field = details.get("problem_field")
    return _validation_error(str(details.get("message", error.title)), str(field) if field is not None else None)


def _validation_error(message: str, problem_field: str | None) -> Response[str]:
    body = BatchValidationError(message=message, problem_field=problem_field)
    return Response(status_code=400, content_type=content_types.APPLICATION_JSON, body=serialize(body.model_dump()))


# ----- what went wrong with a request -----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestProblems:
    """A request that failed validation, its fields named as the partner wrote them (`customer.city`, not
    `body.customer.city`). A missing body is one problem with no field, and `body_missing` says so."""

    errors: list[FieldError]
    body_missing: bool

    @classmethod
    def of(cls, error: RequestValidationError) -> RequestProblems:
        located = [_relative_to_request(e) for e in error.errors()]
        missing = [not e["loc"] and e.get("type") == "missing" for e in located]
        errors = field_errors([_body_required(e) if gone else e for e, gone in zip(located, missing, strict=True)])
        return cls(errors, any(missing))


def _relative_to_request(error: Mapping[str, Any]) -> dict[str, Any]:
    loc = tuple(error.get("loc", ()))
    return {**error, "loc": loc[1:] if loc and loc[0] in _LOCATIONS else loc}


def _body_required(error: dict[str, Any]) -> dict[str, Any]:
    return {**error, "type": "value_error", "msg": "Value error, a JSON request body is required"}


# ----- a route's own shape for a refused request ------------------------------------------------------------

InvalidRequestShape = Callable[[RequestProblems], Response[str]]
"""How one route answers a request that failed validation, instead of its function's envelope."""


def asset_errors(problems: RequestProblems) -> Response[str]:
    """Create-meter's `{errors: [...]}`: every failing field of the asset."""
    return asset_errors_response(problems.errors)


def validation_error(problems: RequestProblems) -> Response[str]:
    """Leap's bare ValidationError: the first problem, and the field it is about (none for a missing body)."""
    first = problems.errors[0] if problems.errors else FieldError("", "Invalid request")
    return _validation_error(first.description, first.field or None)


# ----- the envelopes ----------------------------------------------------------------------------------------


class ErrorEnvelope(Protocol):
    """How one function answers the four kinds of failure (see the module docstring), and the models of its
    bodies, which every route of the function declares (`resolver.build_resolver`)."""

    @property
    def model(self) -> type[Any]:
        """The body of a domain error, a refused request and an unknown route."""
        ...

    @property
    def unexpected_model(self) -> type[Any]:
        """The body of the 500."""
        ...

    def domain_error(self, error: DomainError) -> Response[str]: ...

    def invalid_request(self, problems: RequestProblems) -> Response[str]: ...

    def route_not_found(self) -> Response[str]: ...

    def unexpected(self) -> Response[str]: ...


class TitleStatusDetails:
    model = ErrorResponse
    unexpected_model = InternalError

    def domain_error(self, error: DomainError) -> Response[str]:
        return error_response(error.status, error.title, error.details)

    def invalid_request(self, problems: RequestProblems) -> Response[str]:
        return error_response(400, "Invalid request", {e.field or "body": e.description for e in problems.errors})

    def route_not_found(self) -> Response[str]:
        return error_response(404, "Route not found")

    def unexpected(self) -> Response[str]:
        return Response(status_code=500, content_type=content_types.APPLICATION_JSON, body=INTERNAL_ERROR_BODY)


class ErrorMessage:
    model = WebhookErrorResponse
    unexpected_model = WebhookErrorResponse

    def domain_error(self, error: DomainError) -> Response[str]:
        return error_message_response(error.status, LEAP_MESSAGES.get(error.status) or _explained(error))

    def invalid_request(self, problems: RequestProblems) -> Response[str]:
        if problems.body_missing:
            return error_message_response(400, "A JSON request body is required")
        named = (f"{p.field}: {p.description}" if p.field else p.description for p in problems.errors)
        return error_message_response(400, "; ".join(named) or "Invalid request")

    def route_not_found(self) -> Response[str]:
        return error_message_response(404)

    def unexpected(self) -> Response[str]:
        return error_message_response(500)


def _explained(error: DomainError) -> str:
    """The title and what the details name, in the one `message` string this envelope has."""
    details = error.details
    named = [f"{k}: {v}" for k, v in details.items()] if isinstance(details, dict) else [str(d) for d in details]
    return f"{error.title} ({'; '.join(named)})" if named else error.title


TITLE_STATUS_DETAILS: ErrorEnvelope = TitleStatusDetails()
ERROR_MESSAGE: ErrorEnvelope = ErrorMessage()
