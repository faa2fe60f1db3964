"""Creating a `LocalTemplate`'s resources: tables, buckets, queues and KMS aliases, on whatever clients it is
given (the runner's embedded moto server, or `mock_aws` in tests and benchmarks).

Apart from `resource_specs` (what to create) so that the stack model, which collects the specs, and this module,
which needs the model, import one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

    from meterhub_dev.local.stack import LocalTemplate

from meterhub_dev.local.resource_specs import BucketSpec, QueueSpec


@dataclass
class Provisioned:
    tables: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    queues: dict[str, str] = field(default_factory=dict)  # physical name -> URL
    kms_aliases: list[str] = field(default_factory=list)
    usage_plans: dict[str, str] = field(default_factory=dict)  # logical id -> API Gateway usage plan id


def provision(
    template: LocalTemplate, dynamodb: DynamoDBClient, s3: S3Client, sqs: SQSClient, kms: KMSClient | None = None
) -> Provisioned:
    """The template's tables (keys, indexes, TTL), buckets (versioning), queues (redrive) and KMS aliases on
    the given clients: the embedded moto server here, `mock_aws` in tests."""
    created = Provisioned()
    if kms is not None:
        for alias in template.kms_aliases.values():
            key_id = kms.create_key(Description=f"local {alias}")["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            created.kms_aliases.append(alias)
    region = dynamodb.meta.region_name
    for table in template.tables.values():
        dynamodb.create_table(**table.create_kwargs)
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table.physical_name,
                TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
            )
        created.tables.append(table.physical_name)
    for bucket in template.buckets.values():
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket.physical_name)
        else:
            s3.create_bucket(
                Bucket=bucket.physical_name,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
        if bucket.versioned:
            s3.put_bucket_versioning(Bucket=bucket.physical_name, VersioningConfiguration={"Status": "Enabled"})
        created.buckets.append(bucket.physical_name)
    for queue in _dead_letter_queues_first(list(template.queues.values())):
        url = sqs.create_queue(
            QueueName=queue.physical_name,
            Attributes=cast("dict[QueueAttributeNameType, str]", dict(queue.attributes)),
        )["QueueUrl"]
        created.queues[queue.physical_name] = url
    for bucket in template.buckets.values():
        notifications = _queue_notifications(template, bucket)
        if notifications:
            # S3 -> SQS as the stack wires it; the queue's SQS relay then delivers to the function.
            s3.put_bucket_notification_configuration(
                Bucket=bucket.physical_name,
                NotificationConfiguration={"QueueConfigurations": notifications},  # type: ignore[typeddict-item]
            )
    return created


def _queue_notifications(template: LocalTemplate, bucket: BucketSpec) -> list[dict[str, Any]]:
    """A bucket's CloudFormation `QueueConfigurations` in the S3 API's shape."""
    entries: list[dict[str, Any]] = []
    for n, entry in enumerate(bucket.notification_configuration.get("QueueConfigurations") or []):
        where = f"{bucket.logical_id}.NotificationConfiguration.QueueConfigurations[{n}]"
        resolved = template.resolve(dict(entry), where)
        rules = ((resolved.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        notification: dict[str, Any] = {"QueueArn": resolved["Queue"], "Events": [resolved["Event"]]}
        if rules:
            notification["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
        entries.append(notification)
    return entries


def _dead_letter_queues_first(queues: list[QueueSpec]) -> list[QueueSpec]:
    """A redrive target must exist before the queue that names it."""
    ordered: list[QueueSpec] = []
    pending = {queue.logical_id: queue for queue in queues}
    while pending:
        ready = [
            queue
            for queue in pending.values()
            if queue.dead_letter_queue is None or queue.dead_letter_queue not in pending
        ]
        if not ready:
            raise ValueError(f"Queues redrive to each other in a cycle: {sorted(pending)}")
        for queue in ready:
            ordered.append(queue)
            del pending[queue.logical_id]
    return ordered
