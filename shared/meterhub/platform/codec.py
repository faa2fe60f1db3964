"""Python values <-> DynamoDB attribute values, in one place, without boto3.

Why not boto3's TypeSerializer: stream projectors (use cases) read records out of stream images, and only
adapters may import boto3. The encoding is small and fixed by DynamoDB's API, and a test pins it to boto3's.

Documents (a meter's full JSON) are stored as one JSON string attribute, `doc`: it keeps the item small and
exact (no float -> Decimal conversions) while the attributes we filter or index on are stored beside it. A few
records (partners, API keys, meter jobs) are stored as native attributes instead; `decode` reads either.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence, Set
from typing import Any, TypeVar

from pydantic import BaseModel

DOC = "doc"
_Model = TypeVar("_Model", bound=BaseModel)

# DynamoDB's number rules (38 significant digits, exponents -128..126), trapping anything that would lose a digit.
# The same context as boto3's TypeSerializer: values encoded here and there are interchangeable, and
# tests/unit/test_platform_codec.py checks both directions against boto3 on every kind of value we store.
_NUMBERS = decimal.Context(
    prec=38,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-128,
    Emax=126,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)


def _number(value: int | decimal.Decimal) -> str:
    number = str(_NUMBERS.create_decimal(value))
    if number in {"Infinity", "-Infinity", "NaN", "sNaN"}:
        raise TypeError("Infinity and NaN cannot be stored")
    return number


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        # A float would be stored as whatever its binary value prints as; records store floats inside `doc`.
        raise TypeError("float is not stored as a DynamoDB number: use int or Decimal")
    return isinstance(value, int | decimal.Decimal) and not isinstance(value, bool)


def _encode(value: Any) -> Any:
    """One Python value as a DynamoDB attribute value (the JSON of the low-level API)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Set):
        if value and all(_is_number(member) for member in value):
            return {"NS": [_number(member) for member in value]}
        if value and all(isinstance(member, str) for member in value):
            return {"SS": list(value)}
        if value and all(isinstance(member, bytes | bytearray) for member in value):
            return {"BS": [bytes(member) for member in value]}
        raise TypeError("a set is stored only when non-empty and of one kind (numbers, strings or bytes)")
    if isinstance(value, Mapping):
        return {"M": {str(key): _encode(member) for key, member in value.items()}}
    if isinstance(value, Sequence):
        return {"L": [_encode(member) for member in value]}
    raise TypeError(f"{type(value).__name__} cannot be stored as a DynamoDB attribute")


def _decode(value: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as Python: numbers are Decimal, as boto3 reads them."""
    if len(value) != 1:
        raise TypeError("an attribute value has exactly one type tag")
    ((tag, body),) = value.items()
    match tag:
        case "NULL":
            return None
        case "BOOL" | "S" | "B":
            return body
        case "N":
            return _NUMBERS.create_decimal(body)
        case "SS" | "BS":
            return set(body)
        case "NS":
            return {_NUMBERS.create_decimal(member) for member in body}
        case "L":
            return [_decode(member) for member in body]
        case "M":
            return {key: _decode(member) for key, member in body.items()}
    raise TypeError(f"unknown DynamoDB type tag {tag!r}")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """An item's attributes from Python values; `None` values are left out (DynamoDB has no absent-but-set)."""
    return {key: _encode(value) for key, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _decode(value) for key, value in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def decode(item: Mapping[str, Any], model: type[_Model]) -> _Model:
    """The record an item (or a stream image) holds. A record stored as a document is read from its `doc`; one
    stored as native attributes from those of its fields (keys and index attributes are not fields)."""
    doc = item.get(DOC)
    if doc is not None:
        return model.model_validate_json(doc["S"])
    values = from_item(item)
    return model.model_validate({name: value for name, value in values.items() if name in model.model_fields})
