"""The one place a request body is read: content type, size, encoding, JSON nesting and control characters.

Why one place: Powertools would otherwise pick a parser from the Content-Type (JSON, form, multipart) and let
whatever that parser raises become a 500. `build_resolver`'s `ApiResolver` runs `check_body` for every matched route
before Powertools reads the body, so a new route cannot forget a check. Each refusal is a typed error the function's
own exception handlers turn into its documented envelope: `RequestValidationError` (400, naming the field),
`UnsupportedMediaType` (415) or `PayloadTooLarge` (413).
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from meterhub.platform import bounded_json
from meterhub.platform.errors import PayloadTooLarge, UnsupportedMediaType

MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""Lambda's own cap on a synchronous payload; the routes that take files document tighter limits of their own."""

MAX_JSON_BYTES = 1024 * 1024
"""A JSON request (one asset, a search, a webhook) is a few kilobytes; 1 MiB leaves room for 1,000 references."""

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv"})
"""What the file routes take; they name the one they want in their own 415."""

ALLOWED_CONTROLS = frozenset("\t\n\r")
"""The control characters JSON text may carry inside strings; identifier fields refuse these too (models)."""


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`; absent -> empty."""
    return (content_type or "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """No content type counts as JSON, as API Gateway's default mapping and Powertools both assume."""
    return media in {"", "application/json"} or (media.startswith("application/") and media.endswith("+json"))


def body_error(message: str, *path: str | int) -> RequestValidationError:
    """A 400 that the function's RequestValidationError handler words in its own envelope."""
    return RequestValidationError([{"type": "value_error", "loc": ("body", *path), "msg": message, "input": None}])


def raw_bytes(event: Mapping[str, Any]) -> bytes:
    """The body as the client sent it (API Gateway base64-encodes binary and non-UTF-8 bodies)."""
    body = event.get("body")
    if not body:
        return b""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise body_error("the request body is marked base64 but is not valid base64") from None
    else:
        raw = str(body).encode("utf-8", "surrogatepass")
    if len(raw) > MAX_REQUEST_BYTES:
        raise PayloadTooLarge("Request body too large", {"body": f"at most {MAX_REQUEST_BYTES} bytes"})
    return raw


def decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise body_error(f"the request body must be UTF-8 text (invalid byte at offset {error.start})") from None


def parse_json(text: str) -> Any:
    """JSON with the size, nesting and control-character rules applied; raises before any model sees it."""
    if len(text) > MAX_JSON_BYTES:
        limit = f"a JSON request takes at most {MAX_JSON_BYTES} bytes"
        raise PayloadTooLarge("Request body too large", {"body": limit})
    try:
        document = bounded_json.loads(text)
    except json.JSONDecodeError as error:
        problem = {"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error"}
        raise RequestValidationError([{**problem, "ctx": {"error": error.msg}}]) from None
    except bounded_json.TooDeep as error:
        raise body_error(f"the JSON body is {error}") from None
    _check_strings(document)
    return document


def _check_strings(document: Any) -> None:
    """Walk the parsed body without recursion (bounded_json has already bounded its depth)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, (*path, key))
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))


def _check_text(text: str, path: tuple[str | int, ...]) -> None:
    position = next(_controls(text), None)
    if position is not None:
        code = f"U+{ord(text[position]):04X}"
        raise body_error(f"must not contain control characters ({code} at position {position})", *path)


def _controls(text: str) -> Iterator[int]:
    if text.isprintable():
        return
    for index, char in enumerate(text):
        if char not in ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            yield index


def check_body(event: Mapping[str, Any], *, json_route: bool) -> None:
    """Refuse a body before any parser sees it. `json_route`: the route declares a JSON body model.

    Routes that take files (CSV) read `raw_bytes` themselves and name the media type they want in their own 415.
    """
    raw = raw_bytes(event)
    if not raw or not json_route:
        return
    media = media_type(header(event, "content-type"))
    if not is_json(media):
        raise UnsupportedMediaType(
            "Unsupported content type", {"content-type": f"{media[:64]} is not accepted: send application/json"}
        )
    parse_json(decode_text(raw))


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A header of the proxy event, case-insensitively (API Gateway passes the client's spelling)."""
    wanted = name.lower()
    found = [value for key, value in (event.get("headers") or {}).items() if key.lower() == wanted]
    return found[-1] if found else None
