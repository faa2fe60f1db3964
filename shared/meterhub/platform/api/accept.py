"""Which representation a route that can answer JSON or CSV answers in, from the request's Accept header.

Why a helper: the choice and its 415 are the API's contract, the same for any route that offers CSV; the route
only says what to do with the answer.
"""

from __future__ import annotations

from typing import Final, Literal

from meterhub.platform.errors import UnsupportedMediaType

JSON: Final = "application/json"
CSV: Final = "text/csv"
_JSON_ALIKE = frozenset({JSON, "*/*", "application/*", "text/*"})
"""Wildcards take the default, JSON (`text/*` too: CSV is only ever given to a client that names it)."""
MAX_ECHO = 64
"""The 415 quotes at most this many characters of the header."""


def json_or_csv(accept: str | None) -> Literal["application/json", "text/csv"]:
    """`text/csv` when the first media range of `accept` is text/csv; `application/json` for JSON, a wildcard
    or no header. Anything else raises UnsupportedMediaType (415) naming it.

    Only the first media range counts and q-values are not weighed: clients of this API send one type."""
    wanted = (accept or JSON).split(",")[0].split(";")[0].strip()
    if wanted == CSV:
        return CSV
    if wanted in _JSON_ALIKE:
        return JSON
    raise UnsupportedMediaType("Unsupported Accept", {"accept": wanted[:MAX_ECHO]})
