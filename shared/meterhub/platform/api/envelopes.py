"""The error models of every shape the API answers in, one module so each shape is declared once (README "Errors").

`error_envelopes` builds the bodies; these models are what openapi.json names them: `ErrorResponse`,
`CreateMeterErrorResponse`, `BatchValidationError`, `WebhookErrorResponse` and `InternalError`. The names are
Leap's where the shape is Leap's, so a partner's code generated from Leap's documents reads ours.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


def _without_nulls(value: Any) -> Any:
    """Absent beats null: Leap omits unset fields (and next_page_token when there is no next page)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def serialize(value: Any) -> str:
    """Every answer's JSON: compact, UTF-8 as is, without nulls."""
    return json.dumps(_without_nulls(value), separators=(",", ":"), ensure_ascii=False, default=str)


class ApiModel(BaseModel):
    """Response and filter models build their validators on first use: a Lambda instance serves a few routes
    and should not pay at cold start for the schemas of the others."""

    model_config = ConfigDict(defer_build=True)


class ErrorResponse(ApiModel):
    """`{title, status, details}`: Leap's error envelope of the meter APIs, and ours wherever Leap's documents
    give a route no other (connect, programs, intervals), API Gateway's own answers (401, 403, 404, 413, 429)
    included."""

    title: str = Field(min_length=1, max_length=2000)
    status: int
    details: dict[str, Any] | list[dict[str, Any]] = Field(default_factory=dict)


class FieldSuggestion(ApiModel):
    field: str | None = None
    suggestion: Any = None


class Suggestion(ApiModel):
    suggestions: list[FieldSuggestion] = Field(default_factory=list)


class CreateMeterError(ApiModel):
    field: str | None = Field(default=None, description="Dot path of the failing field in the request body")
    description: str = Field(description="What is wrong, naming the rule")
    suggestions: list[Suggestion] = Field(default_factory=list)


class CreateMeterErrorResponse(ApiModel):
    """Leap's 400 of POST /v1.1/meters: every failing field, not just the first."""

    errors: list[CreateMeterError]


class BatchValidationError(ApiModel):
    """Leap's ValidationError: the 400 of the provisional-asset listing (the one problem, and the query
    parameter it is about), and the entries of a refused batch job's `details`."""

    message: str
    json_index: int | None = None
    csv_row: int | None = None
    problem_field: str | None = None


class WebhookErrorResponse(ApiModel):
    """`{error, message}`: Leap's error shape of its webhooks API, which the webhook routes answer in."""

    error: str = Field(description="The HTTP status phrase", examples=["Not Found"])
    message: str = Field(examples=["The specified resource was not found"])


class InternalError(RootModel[str]):
    """Leap's 500: a bare JSON string that names nothing internal (the cause is logged with its trace)."""

    root: str = Field(examples=["An error happened whilst processing your request"])
