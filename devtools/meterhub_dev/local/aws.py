"""An embedded moto server holding the template's tables, buckets and queues.

A real HTTP endpoint (rather than `moto.mock_aws` patching this process) is what lets other processes, the
admin CLI, the AWS CLI or a test, read and write the same data the local API serves. The environment is
pointed at it before any boto3 client exists, and fake credentials replace whatever is configured, so
nothing the runner does can reach a real AWS account. Where moto itself must act more like AWS (complete S3
event records, atomic DynamoDB requests), `meterhub_dev.local.moto_fidelity` says why and how.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import boto3
from meterhub.platform.adapters import clients
from moto.server import ThreadedMotoServer

from meterhub_dev.local import moto_fidelity
from meterhub_dev.local.template import DEFAULT_REGION, BucketSpec, LocalTemplate, QueueSpec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class Provisioned:
    tables: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    queues: dict[str, str] = field(default_factory=dict)  # physical name -> URL
    kms_aliases: list[str] = field(default_factory=list)
    usage_plans: dict[str, str] = field(default_factory=dict)  # logical id -> API Gateway usage plan id


class LocalAws:
    """moto on 127.0.0.1 and a free port; `start()` also points this process's AWS settings at it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._endpoint_url: str | None = None
        self._fidelity = ExitStack()

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("LocalAws.start() has not been called")
        return self._endpoint_url

    @property
    def region(self) -> str:
        return os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION)

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log is noise here
        self._fidelity.enter_context(moto_fidelity.installed())
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        configure_environment(self._endpoint_url)
        return self._endpoint_url

    def stop(self) -> None:
        if self._endpoint_url is not None:
            self._server.stop()
            self._endpoint_url = None
        self._fidelity.close()

    def dynamodb(self) -> DynamoDBClient:
        return boto3.client("dynamodb", endpoint_url=self.endpoint_url, region_name=self.region)

    def s3(self) -> S3Client:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    def sqs(self) -> SQSClient:
        return boto3.client("sqs", endpoint_url=self.endpoint_url, region_name=self.region)

    def kms(self) -> KMSClient:
        return boto3.client("kms", endpoint_url=self.endpoint_url, region_name=self.region)

    def apigateway(self) -> Any:
        """An API Gateway client (the project carries no type stubs for it)."""
        return boto3.client("apigateway", endpoint_url=self.endpoint_url, region_name=self.region)

    def provision(self, template: LocalTemplate) -> Provisioned:
        """Create every table, bucket, queue, KMS key alias and usage plan of the template, as `sam deploy`
        would."""
        created = provision(template, self.dynamodb(), self.s3(), self.sqs(), self.kms())
        apigateway = self.apigateway()
        for plan in template.usage_plans.values():
            # The plan's keys live here (the admin CLI adds partners' keys); its throttle is read from the
            # template by the local API (meterhub_dev.local.usage_plans).
            created.usage_plans[plan.logical_id] = apigateway.create_usage_plan(name=plan.name)["id"]
        return created


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


def configure_environment(endpoint_url: str) -> None:
    """Send every boto3 client of this process (and of child processes) to moto, with fake credentials."""
    for name in list(os.environ):
        # A service-specific endpoint or a session token would override or leak past the moto endpoint.
        if name.startswith("AWS_ENDPOINT_URL_") or name in {"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}:
            del os.environ[name]
    os.environ.pop("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", None)
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    clients.reset()


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
