"""Python values <-> DynamoDB attribute values, in one place.

Documents (a meter's full JSON) are stored as one JSON string attribute, `doc`: it keeps the item small and
exact (no float -> Decimal conversions) while the attributes we filter or index on are stored beside it. A few
records (partners, API keys, meter jobs) are stored as native attributes instead; `decode` reads either.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

DOC = "doc"
_Model = TypeVar("_Model", bound=BaseModel)


@cache
def _serializers() -> tuple[TypeSerializer, TypeDeserializer]:
    # boto3 is imported on first use so that importing a handler stays cheap (see meterhub.platform.adapters.clients).
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


def decode(item: Mapping[str, Any], model: type[_Model]) -> _Model:
    """The record an item (or a stream image) holds. A record stored as a document is read from its `doc`; one
    stored as native attributes from those of its fields (keys and index attributes are not fields)."""
    doc = item.get(DOC)
    if doc is not None:
        return model.model_validate_json(doc["S"])
    values = from_item(item)
    return model.model_validate({name: value for name, value in values.items() if name in model.model_fields})
