"""platform.codec encodes and decodes DynamoDB attribute values exactly as boto3 does.

The codec is ours (use cases may not import boto3), so boto3's TypeSerializer/TypeDeserializer are the oracle:
a few thousand generated values, of every kind a record can hold, must encode to the same attribute values and
decode back to the same Python values; the values boto3 refuses are refused here too.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from meterhub.platform.codec import from_item, to_item

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["none", "bool", "int", "decimal", "str", "strset", "numset"] + (["list", "map"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-(10**30), 10**30)
    if kind == "decimal":
        return Decimal(rng.randint(-(10**12), 10**12)).scaleb(-rng.randint(0, 20))
    if kind == "str":
        return "".join(rng.choice('aé€😀 \n"\\{}') for _ in range(rng.randint(0, 12)))
    if kind == "strset":
        return {f"s{rng.randint(0, 99)}" for _ in range(rng.randint(1, 4))}
    if kind == "numset":
        return {rng.randint(-50, 50) for _ in range(rng.randint(1, 4))}
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": _value(rng, depth + 1) for i in range(rng.randint(0, 4))}


@pytest.mark.parametrize("seed", range(40))
def test_encoding_and_decoding_match_boto3(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        values = {f"a{i}": _value(rng) for i in range(rng.randint(1, 6))}
        theirs = {key: _SERIALIZER.serialize(value) for key, value in values.items() if value is not None}
        mine = to_item(values)
        normalise = _sets_sorted
        assert normalise(mine) == normalise(theirs)
        assert from_item(mine) == {key: _DESERIALIZER.deserialize(value) for key, value in theirs.items()}


def _sets_sorted(value: Any) -> Any:
    """Sets have no order, so NS/SS lists are compared sorted."""
    if isinstance(value, dict):
        return {key: sorted(member) if key in {"NS", "SS"} else _sets_sorted(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_sets_sorted(member) for member in value]
    return value


@pytest.mark.parametrize(
    "value",
    [1.5, Decimal("Infinity"), Decimal("NaN"), Decimal("1" * 39), Decimal("1e200"), {1, "a"}, object()],
    ids=["float", "infinity", "nan", "39-digits", "exponent-overflow", "mixed-set", "object"],
)
def test_values_boto3_refuses_are_refused(value: Any) -> None:
    with pytest.raises((TypeError, ArithmeticError)):
        _SERIALIZER.serialize(value)
    with pytest.raises((TypeError, ArithmeticError)):
        to_item({"a": value})


def test_unknown_or_ambiguous_tags_are_refused() -> None:
    for bad in ({"X": "1"}, {"S": "a", "N": "1"}, {}):
        with pytest.raises(TypeError):
            from_item({"a": bad})


def test_an_empty_set_is_refused_rather_than_sent() -> None:
    """boto3 encodes `set()` as `{"NS": []}`, which DynamoDB then rejects; refusing it here names the attribute."""
    with pytest.raises(TypeError, match="non-empty"):
        to_item({"tags": set()})
