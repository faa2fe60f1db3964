"""Turn pydantic validation errors into partner-facing field errors.

One function, `field_errors`, used by the single-create API (Powertools `RequestValidationError`)
and by the batch worker (`ValidationError` from `CreateMeter.model_validate`). Each failing field
yields exactly one `FieldError`: a dot path relative to the asset and a description that names
the rule ("is required", "must be one of: ...", "must be between 0 and 999999", ...).

Descriptions are deterministic, never contain more than 64 characters of the rejected input, and
quote it only where it helps (enum values). Order is the order of the first error for each field,
which is pydantic's field-declaration order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_ECHO = 64
"""Never quote more than this many characters of a rejected value."""

_PATTERN_HINTS: dict[str, str] = {}
"""Plain-language readings of regex patterns, appended to pattern errors; see `explain_patterns`."""

_MAX_MESSAGE = 160
"""Upper bound for free text taken from an error (validator messages, JSON parser messages)."""


def explain_patterns(hints: Mapping[str, str]) -> None:
    """Registers readings of regex patterns ("a US ZIP or ZIP+4 code"). Called by the module that declares the
    patterns, when it is imported: so a model's hints live beside its patterns, and the platform, which words
    every validation error, depends on no feature's models. A pattern error can only come from a model whose
    module is imported, so its hints are always registered by then."""
    _PATTERN_HINTS.update(hints)


@dataclass(frozen=True)
class FieldError:
    """One failing field: `field` is a dot path such as "site.site_devices.1.device_type"."""

    field: str
    description: str


def field_errors(errors: Sequence[Mapping[str, Any]], *, strip_prefix: tuple[str | int, ...] = ()) -> list[FieldError]:
    """Map pydantic `ErrorDetails` to one `FieldError` per failing field, in first-seen order.

    `strip_prefix` removes the leading loc segments that match it (e.g. `("body", "provisional_asset")`
    for a Powertools request body); the last segment of a loc is never removed, so an error on the
    prefix itself (say a missing `provisional_asset`) still names that field. `json_invalid` errors
    always get the empty field "".

    Union members show up in pydantic locs as schema tags (`int`, `literal['']`, `list[...]`, a class
    name); those segments are dropped and the member errors for one field are joined with " or ".
    """
    order: list[str] = []
    grouped: dict[str, list[str]] = {}
    had_union: set[str] = set()
    for error in errors:
        error_type = str(error.get("type", ""))
        loc = tuple(error.get("loc", ()))
        if error_type == "json_invalid":
            path = ""
        else:
            loc = _strip(loc, strip_prefix)
            kept = tuple(seg for seg in loc if not _is_union_tag(seg))
            if len(kept) != len(loc):
                had_union.add(_dotted(kept))
            path = _dotted(kept)
        description = describe(error)
        if path not in grouped:
            order.append(path)
            grouped[path] = []
        if description not in grouped[path]:
            grouped[path].append(description)
    return [FieldError(path, (" or " if path in had_union else "; ").join(grouped[path])) for path in order]


def describe(error: Mapping[str, Any]) -> str:
    """The partner-facing description of one pydantic error (without the field name)."""
    error_type = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    builder = _BUILDERS.get(error_type)
    if builder is not None:
        return builder(error, ctx)
    return _fallback(error)


# --- Builders, one per pydantic error type


def _enum(error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", ""))
    values = [value or '""' for value in re.findall(r"'((?:[^'\\]|\\.)*)'", expected)] or [expected]
    return f"must be one of: {', '.join(values)} (got {_echo(error.get('input'))})"


def _pattern(_error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    pattern = str(ctx.get("pattern", ""))
    hint = _PATTERN_HINTS.get(pattern)
    return f"must match {pattern}" + (f" ({hint})" if hint else "")


def _too_short(error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    count = ctx.get("min_length")
    if isinstance(error.get("input"), str):
        return f"must be at least {count} {_plural(count, 'character')}"
    return f"must contain at least {count} {_plural(count, 'item')}"


def _too_long(error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    count = ctx.get("max_length")
    if isinstance(error.get("input"), str):
        return f"must be at most {count} {_plural(count, 'character')}"
    return f"must contain at most {count} {_plural(count, 'item')}"


def _string_too_short(_error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    count = ctx.get("min_length")
    return f"must be at least {count} {_plural(count, 'character')}"


def _string_too_long(_error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    count = ctx.get("max_length")
    return f"must be at most {count} {_plural(count, 'character')}"


def _range(_error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    return f"must be between {_number(ctx.get('ge'))} and {_number(ctx.get('le'))}"


def _bound(word: str, key: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], str]:
    def build(_error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
        return f"must be {word} {_number(ctx.get(key))}"

    return build


def _typed(rule: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], str]:
    """A wrong-JSON-type error: names the expected type and the type that was sent."""

    def build(error: Mapping[str, Any], _ctx: Mapping[str, Any]) -> str:
        return f"{rule} (got {_json_type(error.get('input'))})"

    return build


def _fixed(text: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], str]:
    def build(_error: Mapping[str, Any], _ctx: Mapping[str, Any]) -> str:
        return text

    return build


def _value_error(error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    message = str(error.get("msg", ""))
    if "reason" in ctx and message.startswith("value is not a valid email address"):
        return f"must be a valid email address: {_clip(str(ctx['reason']), _MAX_MESSAGE)}"
    if "error" in ctx:
        return _clip(str(ctx["error"]), _MAX_MESSAGE)
    return _clip(message.removeprefix("Value error, "), _MAX_MESSAGE)


def _json_invalid(error: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    reason = _clip(str(ctx.get("error") or error.get("msg", "")), _MAX_MESSAGE)
    loc = tuple(error.get("loc", ()))
    where = f" (at character {loc[-1]})" if loc and isinstance(loc[-1], int) else ""
    return f"request body is not valid JSON: {reason}{where}"


def _fallback(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "is invalid"))
    if message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    return _clip(message, _MAX_MESSAGE)


_DATE = "must be a date in YYYY-MM-DD format"
_DATETIME = "must be an ISO 8601 date-time with a UTC offset, e.g. 2026-01-31T00:00:00Z"

_BUILDERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], str]] = {
    "missing": _fixed("is required"),
    "extra_forbidden": _fixed("is not allowed"),
    "enum": _enum,
    "literal_error": _enum,
    "string_pattern_mismatch": _pattern,
    "string_too_short": _string_too_short,
    "string_too_long": _string_too_long,
    "too_short": _too_short,
    "too_long": _too_long,
    "number_range": _range,
    "greater_than_equal": _bound("at least", "ge"),
    "less_than_equal": _bound("at most", "le"),
    "greater_than": _bound("greater than", "gt"),
    "less_than": _bound("less than", "lt"),
    "string_type": _typed("must be a string"),
    "string_unicode": _fixed("must be a valid Unicode string"),
    "int_type": _typed("must be a whole number"),
    "int_parsing": _fixed("must be a whole number"),
    "int_from_float": _fixed("must be a whole number"),
    "int_parsing_size": _fixed("must be a whole number of reasonable size"),
    "float_type": _typed("must be a number"),
    "float_parsing": _fixed("must be a number"),
    "finite_number": _fixed("must be a finite number"),
    "bool_type": _typed("must be true or false"),
    "bool_parsing": _fixed("must be true or false"),
    "date_type": _typed(_DATE),
    "date_parsing": _fixed(_DATE),
    "date_from_datetime_parsing": _fixed(_DATE),
    "date_from_datetime_inexact": _fixed(_DATE),
    "datetime_type": _typed(_DATETIME),
    "datetime_parsing": _fixed(_DATETIME),
    "datetime_from_date_parsing": _fixed(_DATETIME),
    "timezone_aware": _fixed(_DATETIME),
    "uuid_type": _typed("must be a UUID"),
    "uuid_parsing": _fixed("must be a UUID"),
    "model_type": _typed("must be an object"),
    "model_attributes_type": _typed("must be an object"),
    "dict_type": _typed("must be an object"),
    "list_type": _typed("must be an array"),
    "value_error": _value_error,
    "json_invalid": _json_invalid,
}


# --- Helpers

_UNION_TAG_NAMES = frozenset(
    {"str", "int", "float", "bool", "none", "bytes", "date", "datetime", "time", "decimal", "uuid", "url"}
)


def _is_union_tag(segment: str | int) -> bool:
    """Schema tags pydantic inserts for union members; Leap's field names are all snake_case."""
    if not isinstance(segment, str) or not segment:
        return False
    return "[" in segment or segment in _UNION_TAG_NAMES or segment[0].isupper()


def _strip(loc: tuple[str | int, ...], prefix: tuple[str | int, ...]) -> tuple[str | int, ...]:
    matched = 0
    while matched < len(prefix) and matched < len(loc) - 1 and loc[matched] == prefix[matched]:
        matched += 1
    return loc[matched:]


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(segment) for segment in loc)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _echo(value: Any) -> str:
    """A rejected value as the partner sent it: strings quoted and clipped, other values by JSON type."""
    if isinstance(value, str):
        return json.dumps(_clip(value, MAX_ECHO), ensure_ascii=False)
    return _json_type(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plural(count: Any, noun: str) -> str:
    return noun if count == 1 else noun + "s"
