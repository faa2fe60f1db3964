"""The template's tables, buckets and queues, read into the arguments of the AWS calls that create them.

Keys, indexes, TTL, versioning, queue attributes and redrive: what `sam deploy` would create, as data that
`stack` collects into a `LocalTemplate` and `provisioning` turns into calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meterhub_dev.local.intrinsics import Resolver, ref_target, stringify

if TYPE_CHECKING:
    pass

_TABLE_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    physical_name: str
    create_kwargs: Mapping[str, Any]
    ttl_attribute: str | None


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    physical_name: str
    versioned: bool
    notification_configuration: Mapping[str, Any]  # raw, for event-source relays


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    physical_name: str
    attributes: Mapping[str, str]
    dead_letter_queue: str | None  # logical id of the redrive target, created first


def build_table(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> TableSpec:
    where = f"{logical_id}.Properties"

    def get(name: str) -> Any:
        return resolver.resolve(properties.get(name), f"{where}.{name}")

    kwargs: dict[str, Any] = {
        "TableName": resolver.physical_name(logical_id),
        "AttributeDefinitions": get("AttributeDefinitions"),
        "KeySchema": get("KeySchema"),
        "BillingMode": get("BillingMode") or "PROVISIONED",
    }
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = get("ProvisionedThroughput") or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes: Sequence[Mapping[str, Any]] = get(index_kind) or []
        if indexes:
            kwargs[index_kind] = [{k: v for k, v in index.items() if k in _TABLE_INDEX_KEYS} for index in indexes]
    stream = get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    ttl: Mapping[str, Any] = get("TimeToLiveSpecification") or {}
    enabled = ttl.get("Enabled") is True or str(ttl.get("Enabled")).lower() == "true"
    return TableSpec(
        logical_id=logical_id,
        physical_name=kwargs["TableName"],
        create_kwargs=kwargs,
        ttl_attribute=str(ttl["AttributeName"]) if enabled and ttl.get("AttributeName") else None,
    )


def build_bucket(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> BucketSpec:
    versioning = resolver.resolve(properties.get("VersioningConfiguration") or {}, f"{logical_id}.Versioning")
    return BucketSpec(
        logical_id=logical_id,
        physical_name=resolver.physical_name(logical_id),
        versioned=versioning.get("Status") == "Enabled",
        notification_configuration=properties.get("NotificationConfiguration") or {},
    )


_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


def build_queue(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> QueueSpec:
    where = f"{logical_id}.Properties"
    attributes = {
        name: stringify(resolver.resolve(properties[name], f"{where}.{name}"))
        for name in _QUEUE_ATTRIBUTES
        if properties.get(name) is not None
    }
    dead_letter_queue = None
    redrive = properties.get("RedrivePolicy")
    if redrive:
        dead_letter_queue = ref_target(redrive.get("deadLetterTargetArn"))
        policy = resolver.resolve(redrive, f"{where}.RedrivePolicy")
        attributes["RedrivePolicy"] = _json(policy)
    return QueueSpec(
        logical_id=logical_id,
        physical_name=resolver.physical_name(logical_id),
        attributes=attributes,
        dead_letter_queue=dead_letter_queue,
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
