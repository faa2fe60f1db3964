"""DynamoDB stream records, decoded once for every stream consumer (meter, job and Connect events)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from meterhub.platform.codec import decode

_Model = TypeVar("_Model", bound=BaseModel)
WRITES = frozenset({"INSERT", "MODIFY"})


@dataclass(frozen=True)
class StreamChange:
    """One DynamoDB stream record: its id, INSERT/MODIFY/REMOVE, keys and images (DynamoDB JSON)."""

    event_id: str
    event_name: str
    keys: Mapping[str, Any]
    new_image: Mapping[str, Any] | None = None
    old_image: Mapping[str, Any] | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StreamChange:
        """From a Lambda DynamoDB stream event record (or a dynamodbstreams GetRecords record)."""
        change = record.get("dynamodb") or {}
        return cls(
            event_id=str(record["eventID"]),
            event_name=str(record.get("eventName", "")),
            keys=change.get("Keys") or {},
            new_image=change.get("NewImage"),
            old_image=change.get("OldImage"),
        )

    @property
    def sort_key(self) -> str:
        """The changed item's sort key ("" when the record carries none)."""
        return str((self.keys.get("sk") or {}).get("S", ""))

    @property
    def is_write(self) -> bool:
        """INSERT or MODIFY: the item exists after the change (a REMOVE has no new image to act on)."""
        return self.event_name in WRITES

    def new(self, model: type[_Model]) -> _Model | None:
        """The record the item holds after the change; None without a new image. Stream consumers read records
        through this and `old`, never the DynamoDB JSON of the images."""
        return decode(self.new_image, model) if self.new_image else None

    def old(self, model: type[_Model]) -> _Model | None:
        """The record the item held before the change; None without an old image (an INSERT)."""
        return decode(self.old_image, model) if self.old_image else None
