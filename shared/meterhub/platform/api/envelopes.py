"""The error and page envelopes every API function speaks; one module so a partner sees one shape per endpoint."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    """Leap's error envelope for every non-2xx answer of the meter APIs."""

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
    """400 of POST /v1.1/meters: every failing field, not just the first."""

    errors: list[CreateMeterError]
