"""Python values <-> DynamoDB attribute values, in one place.

Documents (a meter's full JSON) are stored as one JSON string attribute: it keeps the item small and exact
(no float -> Decimal conversions) while the attributes we filter or index on are stored beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


@cache
def _serializers() -> tuple[TypeSerializer, TypeDeserializer]:
    # boto3 is imported on first use so that importing a handler stays cheap (see clients.py).
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    serializer = _serializers()[0]
    return {key: serializer.serialize(value) for key, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    deserializer = _serializers()[1]
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def key(pk: str, sk: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}
