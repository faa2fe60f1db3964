"""Every error shape our APIs answer in, built here and only here; a function's resolver speaks one of them.

- `TITLE_STATUS_DETAILS`: `{title, status, details}` (`ErrorResponse`), the meter APIs' envelope. A route whose
  body is one asset answers its 400s in create-meter's `{errors: [...]}` (`asset_errors_response`), and an
  unexpected error is Leap's bare 500 string.
- `ERROR_MESSAGE`: `{error, message}` (webhooks' `WebhookErrorResponse`), Leap's webhooks API: `error` is the
  status phrase, `message` one sentence; 401, 403, 404 and 500 carry Leap's fixed messages.
- Leap's bare ValidationError `{message, problem_field}` (`BatchValidationError`), which the provisional-asset
  listing answers a bad query with (`validation_error_response`).

Each envelope words the same four events, whoever raised them (a use case, Powertools' validation, or the
request-body decoder's typed refusals): a `DomainError`, a request that failed validation, an unknown route,
and an unexpected exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from meterhub.platform.api.envelopes import CreateMeterError, CreateMeterErrorResponse, serialize
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
    body = {"message": str(details.get("message", error.title)), "problem_field": details.get("problem_field")}
    return Response(status_code=400, content_type=content_types.APPLICATION_JSON, body=serialize(body))


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


# ----- the envelopes ----------------------------------------------------------------------------------------


class ErrorEnvelope(Protocol):
    """How one function answers the four kinds of failure (see the module docstring)."""

    def domain_error(self, error: DomainError) -> Response[str]: ...

    def invalid_request(self, problems: RequestProblems) -> Response[str]: ...

    def route_not_found(self) -> Response[str]: ...

    def unexpected(self) -> Response[str]: ...


class TitleStatusDetails:
    def domain_error(self, error: DomainError) -> Response[str]:
        return error_response(error.status, error.title, error.details)

    def invalid_request(self, problems: RequestProblems) -> Response[str]:
        return error_response(400, "Invalid request", {e.field or "body": e.description for e in problems.errors})

    def route_not_found(self) -> Response[str]:
        return error_response(404, "Route not found")

    def unexpected(self) -> Response[str]:
        return Response(status_code=500, content_type=content_types.APPLICATION_JSON, body=INTERNAL_ERROR_BODY)


class ErrorMessage:
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
