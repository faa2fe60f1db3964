"""bounded_json: the nesting bound holds whatever the interpreter's own recursion limit is."""

from __future__ import annotations

import json

import pytest
from meterhub.platform import bounded_json
from meterhub.platform.bounded_json import MAX_DEPTH, TooDeep


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + "1" + closer * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100, 5_000, 100_000])
def test_deeper_than_the_bound_is_refused_at_any_depth(depth: int) -> None:
    # Python 3.11's json stops near 1,000 levels, 3.13's (the Lambda runtime's) reads 5,000 and more.
    with pytest.raises(TooDeep):
        bounded_json.loads(nested(depth))
    with pytest.raises(TooDeep):
        bounded_json.loads(nested(depth, '{"a":', "}"))


def test_the_bound_itself_is_read() -> None:
    assert bounded_json.loads(nested(MAX_DEPTH)) is not None
    assert bounded_json.loads(nested(MAX_DEPTH, '{"a":', "}")) is not None


def test_scalars_and_wide_documents_are_not_deep() -> None:
    assert bounded_json.loads("1") == 1
    assert bounded_json.loads(json.dumps({"assets": [{"a": [1, 2]}] * 10_000}))["assets"][0] == {"a": [1, 2]}


def test_invalid_json_raises_as_json_loads_does() -> None:
    with pytest.raises(json.JSONDecodeError):
        bounded_json.loads('{"a": tru')
    with pytest.raises(UnicodeDecodeError):
        bounded_json.loads(b'{"a": "\xff"}')
