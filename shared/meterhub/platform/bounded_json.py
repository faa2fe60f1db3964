"""JSON from outside, read with a nesting bound that holds on every Python the code runs on.

Why not rely on `json.loads` raising `RecursionError`: how deep it goes first depends on the interpreter (3.11 stops
near 1,000 levels; 3.13, the Lambda runtime, reads 5,000 and more), and whatever walks the result afterwards
(pydantic, `json.dumps`, our own serialisers) may recurse further still. Every body from a partner is read here.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
"""The deepest documented body (an asset's site devices) nests 5 levels; deeper input is an attack or a bug."""


class TooDeep(ValueError):
    """The document nests more than `MAX_DEPTH` arrays and objects."""

    def __init__(self) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing documents nested deeper than `MAX_DEPTH` (`TooDeep`); invalid JSON raises
    `json.JSONDecodeError` and undecodable bytes `UnicodeDecodeError`, as `json.loads` does."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise TooDeep() from None
    if depth_exceeds(document, MAX_DEPTH):
        raise TooDeep()
    return document


def depth_exceeds(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels, found without recursion."""
    stack: list[tuple[int, Any]] = [(0, document)]
    while stack:
        depth, value = stack.pop()
        if not isinstance(value, dict | list):
            continue
        if depth + 1 > limit:
            return True
        stack.extend((depth + 1, child) for child in (value.values() if isinstance(value, dict) else value))
    return False
