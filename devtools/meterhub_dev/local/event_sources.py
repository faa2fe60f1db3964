"""Relays that deliver non-HTTP events (SQS, DynamoDB streams and schedules today, S3 next) to the local functions.

On AWS, Lambda's event-source mappings and S3 notifications call functions; locally a relay plays that part.
Relays are found through a registry keyed by what the template declares, so supporting a new kind of event is
one registered factory, with no change to the runner:

* `@function_event_relay("SQS")` - a function's `Events` entry of that `Type` (implemented below: polls the
  moto queue and invokes the function with a batch, like an event-source mapping).
* `@function_event_relay("DynamoDB")` - a table's stream (implemented below: reads its shards with
  `dynamodbstreams` and invokes the function with `{"Records": [...]}` batches).
* `@resource_relay("AWS::S3::Bucket")` - a resource's own configuration, e.g. a bucket's
  `NotificationConfiguration` (none registered yet).

How to add the S3 relay (ObjectCreated -> function), for a function `Events` entry of `Type: S3`
(`Properties: {Bucket: !Ref DataBucket, Events: s3:ObjectCreated:*, Filter: ...}`):

1. Register `@function_event_relay("S3")` with a factory returning a `Relay`.
2. In `start()`, create a private queue on moto (`<bucket>-local-s3-relay`) and call
   `put_bucket_notification_configuration` on the bucket (`template.resolve(event.properties["Bucket"])`) with
   a `QueueConfigurations` entry for that queue, the event's `Events` and `Filter`. moto then enqueues the
   standard S3 event JSON (`{"Records": [{"eventName": "ObjectCreated:Put", "s3": {...}}]}`) on every upload.
3. Poll that queue exactly like `SqsRelay` does, but invoke the function with `json.loads(message["Body"])`
   (the S3 event itself, not an SQS envelope); skip moto's `s3:TestEvent` message; delete after success.
   For a bucket's `NotificationConfiguration.LambdaConfigurations`, register `@resource_relay(
   "AWS::S3::Bucket")` instead and take the function from `ref_target(configuration["Function"])`.
"""

from __future__ import annotations

import base64
import re
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from meterhub_dev.local.function_specs import EventSource, FunctionSpec
from meterhub_dev.local.intrinsics import ref_target
from meterhub_dev.local.lambda_runtime import LocalLambda, LocalLambdaError
from meterhub_dev.local.stack import LocalTemplate

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from meterhub_dev.local.aws import LocalAws


class Relay(Protocol):
    description: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class RelayContext:
    template: LocalTemplate
    lambdas: LocalLambda
    aws: LocalAws


FunctionRelayFactory = Callable[[RelayContext, FunctionSpec, EventSource], Relay]
ResourceRelayFactory = Callable[[RelayContext, str, Mapping[str, Any]], Relay | None]

_FUNCTION_RELAYS: dict[str, FunctionRelayFactory] = {}
_RESOURCE_RELAYS: dict[str, ResourceRelayFactory] = {}
# Event types handled elsewhere (Api: the HTTP server) or with nothing to relay locally.
_NOT_RELAYED = {"Api", "HttpApi"}


def function_event_relay(event_type: str) -> Callable[[FunctionRelayFactory], FunctionRelayFactory]:
    def register(factory: FunctionRelayFactory) -> FunctionRelayFactory:
        _FUNCTION_RELAYS[event_type] = factory
        return factory

    return register


def resource_relay(resource_type: str) -> Callable[[ResourceRelayFactory], ResourceRelayFactory]:
    def register(factory: ResourceRelayFactory) -> ResourceRelayFactory:
        _RESOURCE_RELAYS[resource_type] = factory
        return factory

    return register


class Relays:
    """Every relay the template calls for; started together, stopped before moto goes away."""

    def __init__(self, context: RelayContext) -> None:
        self.context = context
        self.relays: list[Relay] = []
        self.skipped: list[str] = []

    def start(self) -> None:
        template = self.context.template
        for function in template.functions.values():
            for event in function.events:
                factory = _FUNCTION_RELAYS.get(event.type)
                if factory is not None:
                    self.relays.append(factory(self.context, function, event))
                elif event.type not in _NOT_RELAYED:
                    self.skipped.append(f"{function.logical_id}.{event.name} ({event.type})")
        for logical_id, resource in template.resources.items():
            resource_factory = _RESOURCE_RELAYS.get(str(resource.get("Type")))
            relay = resource_factory(self.context, logical_id, resource) if resource_factory else None
            if relay is not None:
                self.relays.append(relay)
        for relay in self.relays:
            relay.start()

    def stop(self) -> None:
        """All at once: each relay finishes its current poll (an SQS receive waits up to a second) before it
        stops, so stopping them one after another made the runner's shutdown take seconds per queue."""
        if not self.relays:
            return
        with ThreadPoolExecutor(max_workers=len(self.relays), thread_name_prefix="relay-stop") as pool:
            for stopping in [pool.submit(relay.stop) for relay in self.relays]:
                stopping.result()

    def schedules(self) -> dict[str, ScheduleRelay]:
        """The scheduled functions by logical id, for the runner's on-demand trigger."""
        return {relay.function_id: relay for relay in self.relays if isinstance(relay, ScheduleRelay)}


# ----- EventBridge schedules -----------------------------------------------------------------------------------

SCHEDULES_PATH = "/_local/schedules/"
"""The runner's own route (never a template route): POST /_local/schedules/<FunctionLogicalId>[?time=<ISO>]."""
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleRelay:
    """An EventBridge schedule rule: `rate(...)` fires the function every period from the runner's start (the
    first after one period, as a new rule does); `cron(...)` fires only on demand. `fire` invokes it now, with
    EventBridge's Scheduled Event, whose `time` may be set to try what a later run would do."""

    def __init__(self, context: RelayContext, function: FunctionSpec, event: EventSource) -> None:
        where = f"{function.logical_id}.Events.{event.name}.Properties"
        properties = context.template.resolve(dict(event.properties), where)
        expression = str(properties.get("Schedule", ""))
        rate = _RATE.fullmatch(expression)
        if rate is None and not expression.startswith("cron("):
            raise ValueError(f"{where}.Schedule must be rate(N unit) or cron(...), not {expression!r}")
        self.function_id = function.logical_id
        self.expression = expression
        self._period = int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")] if rate else None
        self._lambdas = context.lambdas
        self._region = context.template.context.region
        self._account = context.template.context.account_id
        self._rule_arn = f"arn:aws:events:{self._region}:{self._account}:rule/{function.logical_id}{event.name}"
        self._enabled = properties.get("Enabled", True) not in {False, "false", "False"}
        on_demand = f"{SCHEDULES_PATH}{function.logical_id}"
        self.description = f"Schedule {expression} -> {function.logical_id} (on demand: POST {on_demand})"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.description, daemon=True)

    def start(self) -> None:
        if self._enabled and self._period is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def event(self, at: datetime) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self._account,
            "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [self._rule_arn],
            "detail": {},
        }

    def fire(self, at: datetime | None = None) -> Any:
        """Invoke the function with a Scheduled Event for `at` (now by default); raises LocalLambdaError."""
        return self._lambdas.invoke(self.function_id, self.event(at or datetime.now(UTC)))

    def _run(self) -> None:
        assert self._period is not None
        while not self._stopping.wait(self._period):
            try:
                self.fire()
            except LocalLambdaError as error:
                print(f"[local] {self.description}: the run failed: {error}\n{error.details}", file=sys.stderr)


function_event_relay("Schedule")(ScheduleRelay)


# ----- SQS ---------------------------------------------------------------------------------------------------


LOCAL_SQS_POLLERS = 5
"""Batches of one queue in flight at once. Lambda starts an SQS mapping with five concurrent batches and scales up
from there (to `ScalingConfig.MaximumConcurrency` or the function's reserved concurrency when set); five is as many
as a laptop runs usefully, and enough to show what races when a queue's consumer runs beside itself."""


class SqsRelay:
    """An event-source mapping: receive a batch, invoke, delete what succeeded; several batches at once.

    With `FunctionResponseTypes: [ReportBatchItemFailures]` the messages listed in `batchItemFailures` stay
    on the queue (they come back after the visibility timeout), as on AWS; without it a successful
    invocation deletes the whole batch and a failed one keeps it all. Like Lambda's pollers, up to
    `concurrency` batches run at the same time, each in an execution environment of its own.
    """

    def __init__(self, context: RelayContext, function: FunctionSpec, event: EventSource) -> None:
        where = f"{function.logical_id}.Events.{event.name}.Properties"
        queue_id = ref_target(event.properties.get("Queue"))
        if queue_id is None or queue_id not in context.template.queues:
            raise ValueError(f"{where}.Queue must be !GetAtt <AWS::SQS::Queue in this template>.Arn")
        properties = context.template.resolve(dict(event.properties), where)
        self.description = f"SQS {queue_id} -> {function.logical_id}"
        self._lambdas = context.lambdas
        self._function_id = function.logical_id
        self._queue_arn = str(properties["Queue"])
        self._queue_url = context.template.resolver.queue_url(queue_id)
        self._region = context.template.context.region
        self._batch_size = min(int(properties.get("BatchSize", 10)), 10)
        self._report_failures = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        self._enabled = properties.get("Enabled", True) not in {False, "false", "False"}
        function_properties = context.template.resources[function.logical_id].get("Properties") or {}
        reserved = context.template.resolve(
            function_properties.get("ReservedConcurrentExecutions"),
            f"{function.logical_id}.Properties.ReservedConcurrentExecutions",
        )
        self.concurrency = _sqs_concurrency(properties.get("ScalingConfig"), reserved)
        self.description += f" ({self.concurrency} batches at once)"
        self._sqs: SQSClient = context.aws.sqs()  # boto3 clients may be shared between threads
        self._stopping = threading.Event()
        self._backlog = threading.Event()  # set while batches keep coming: the other pollers join the first
        self._threads = [
            threading.Thread(target=self._run, args=(n == 0,), name=f"{self.description} #{n}", daemon=True)
            for n in range(self.concurrency)
        ]

    def start(self) -> None:
        if self._enabled:
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)

    def _run(self, first: bool) -> None:
        """The first poller always polls; the others only while it finds messages, as Lambda adds pollers to a
        mapping with a backlog: an idle runner then long-polls each queue once at a time, not five times."""
        while not self._stopping.is_set():
            if not first and not self._backlog.wait(timeout=0.5):
                continue
            try:
                received = self.poll_once()
            except (BotoCoreError, ClientError) as error:
                if self._stopping.is_set():
                    return
                print(f"[local] {self.description}: polling failed: {error}; retrying", file=sys.stderr)
                self._stopping.wait(1)
                continue
            if first and not received:
                self._backlog.clear()

    def poll_once(self) -> int:
        """Receive one batch and hand it over; returns how many messages were received."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=1,  # short, so stop() is prompt
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        self._backlog.set()  # before the invocation, which may take long: more may be waiting behind this batch
        event = {"Records": [self._record(message) for message in messages]}
        try:
            result = self._lambdas.invoke(self._function_id, event)
        except LocalLambdaError as error:
            print(f"[local] {self.description}: batch left on the queue: {error}\n{error.details}", file=sys.stderr)
            return len(messages)
        failed: set[str] = set()
        if self._report_failures and isinstance(result, Mapping):
            failed = {str(item.get("itemIdentifier")) for item in result.get("batchItemFailures") or []}
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        attributes: dict[str, dict[str, Any]] = {}
        for name, value in message.get("MessageAttributes", {}).items():
            attribute: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
            if "StringValue" in value:
                attribute["stringValue"] = value["StringValue"]
            if "BinaryValue" in value:  # Lambda hands binary attributes over base64-encoded
                attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
            attributes[name] = attribute
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }


function_event_relay("SQS")(SqsRelay)


def _sqs_concurrency(scaling: Any, reserved: Any) -> int:
    """`LOCAL_SQS_POLLERS`, or fewer where the template caps the mapping or the function below it."""
    caps = [LOCAL_SQS_POLLERS]
    if isinstance(scaling, Mapping) and scaling.get("MaximumConcurrency") is not None:
        caps.append(int(scaling["MaximumConcurrency"]))
    if reserved is not None:
        caps.append(int(reserved))
    return max(1, min(caps))


# ----- DynamoDB streams --------------------------------------------------------------------------------------


def streams_client(endpoint_url: str | None, region: str) -> Any:
    """A `dynamodbstreams` client moto understands: botocore's account-based stream endpoint
    (`<account>.streams-ddb.<region>.amazonaws.com`) is not routed by moto, the classic one is."""
    import boto3
    from botocore.config import Config

    config = Config(account_id_endpoint_mode="disabled")
    return boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region, config=config)


class DynamoDbStreamRelay:
    """An event-source mapping on a table's stream: read each shard in order, invoke with batches of records.

    A position is kept per shard, as Lambda's checkpoint is: after the last record handed over, or at the
    record to read again. Every poll asks for a fresh iterator from that position rather than following
    NextShardIterator: moto rolls a failed TransactWriteItems back by putting a deep copy of the table in
    place, stream included, and an iterator taken before that keeps reading the discarded copy (the records
    written after it, e.g. every meter created after a refused duplicate, would never arrive). With
    `ReportBatchItemFailures` a batch whose result lists failures is read again from the first failed record; a
    failed invocation is retried from the batch's first record. After `MAX_ATTEMPTS` the batch is skipped
    (logged), as an OnFailure destination would take it.
    """

    MAX_ATTEMPTS = 3
    DISCOVER_EVERY = 10
    IDLE_WAITS = (0.1, 0.25, 0.5)

    def __init__(self, context: RelayContext, function: FunctionSpec, event: EventSource) -> None:
        where = f"{function.logical_id}.Events.{event.name}.Properties"
        table_id = ref_target(event.properties.get("Stream"))
        if table_id is None or table_id not in context.template.tables:
            raise ValueError(f"{where}.Stream must be !GetAtt <AWS::DynamoDB::Table in this template>.StreamArn")
        properties = context.template.resolve(dict(event.properties), where)
        self.description = f"DynamoDB stream {table_id} -> {function.logical_id}"
        self._lambdas = context.lambdas
        self._function_id = function.logical_id
        self._table_name = context.template.tables[table_id].physical_name
        self._region = context.template.context.region
        self._batch_size = min(int(properties.get("BatchSize", 100)), 1000)
        self._starting_position = str(properties.get("StartingPosition", "LATEST"))
        self._report_failures = "ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or [])
        self._enabled = properties.get("Enabled", True) not in {False, "false", "False"}
        self._aws = context.aws
        self._streams: Any = None
        self._stream_arn = ""
        # shard id -> (iterator type, sequence number) to read from next; None once the shard is closed
        self._positions: dict[str, tuple[str, str | None] | None] = {}
        self._attempts: dict[str, int] = {}  # shard id -> failed attempts of its current batch
        self._polls = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.description, daemon=True)

    def start(self) -> None:
        if not self._enabled:
            return
        stream_arn = self._aws.dynamodb().describe_table(TableName=self._table_name)["Table"].get("LatestStreamArn")
        if not stream_arn:
            raise ValueError(f"{self.description}: table {self._table_name} has no stream")
        self._stream_arn = stream_arn
        self._streams = streams_client(self._aws.endpoint_url, self._region)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        idle = 0  # polls in a row that found nothing
        while not self._stopping.is_set():
            try:
                if self.poll_once() == 0:
                    # Lambda polls a shard four times a second; an idle runner backs off to twice, which halves
                    # what its three streams cost the machine while nothing is written.
                    self._stopping.wait(self.IDLE_WAITS[min(idle, len(self.IDLE_WAITS) - 1)])
                    idle += 1
                else:
                    idle = 0
            except (BotoCoreError, ClientError) as error:
                if self._stopping.is_set():
                    return
                print(f"[local] {self.description}: polling failed: {error}; retrying", file=sys.stderr)
                self._stopping.wait(1)

    def _discover_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = str(shard["ShardId"])
            if shard_id not in self._positions:
                self._positions[shard_id] = self._start(shard_id)

    def _start(self, shard_id: str) -> tuple[str, str | None]:
        """Where a newly found shard is read from: its start, or (LATEST) after the records it holds now."""
        if self._starting_position != "LATEST":
            return ("TRIM_HORIZON", None)
        position: tuple[str, str | None] = ("TRIM_HORIZON", None)
        while True:
            records = self._read(shard_id, position)
            if not records:
                return position
            position = _after(records)

    def _read(self, shard_id: str, position: tuple[str, str | None]) -> list[dict[str, Any]]:
        """One batch from `position`, through a fresh iterator (see the class docstring); marks a shard that
        has closed (no NextShardIterator) as done."""
        kind, sequence_number = position
        request: dict[str, Any] = {"StreamArn": self._stream_arn, "ShardId": shard_id, "ShardIteratorType": kind}
        if sequence_number is not None:
            request["SequenceNumber"] = sequence_number
        iterator = self._streams.get_shard_iterator(**request)["ShardIterator"]
        response = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
        records = [self._record(record) for record in response.get("Records", [])]
        if not records and not response.get("NextShardIterator"):
            self._positions[shard_id] = None
        return records

    def poll_once(self) -> int:
        """Read one batch from every open shard and hand each over; returns how many records were read. New
        shards are looked for every `DISCOVER_EVERY` polls (a table's stream adds one rarely), which keeps an
        idle runner's polling to two requests a poll."""
        self._polls += 1
        if self._polls % self.DISCOVER_EVERY == 1 or not any(self._positions.values()):
            self._discover_shards()
        total = 0
        for shard_id, position in list(self._positions.items()):
            if position is None or self._stopping.is_set():
                continue
            records = self._read(shard_id, position)
            if records:
                total += len(records)
                self._deliver(shard_id, records)
        return total

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        retry_from: str | None = None
        try:
            result = self._lambdas.invoke(self._function_id, {"Records": records})
        except LocalLambdaError as error:
            print(f"[local] {self.description}: batch failed: {error}\n{error.details}", file=sys.stderr)
            retry_from = str(records[0]["dynamodb"]["SequenceNumber"])
        else:
            if self._report_failures and isinstance(result, Mapping):
                failed = [str(item.get("itemIdentifier")) for item in result.get("batchItemFailures") or []]
                if failed:
                    retry_from = min(failed, key=int)
        if retry_from is None:
            self._attempts.pop(shard_id, None)
            self._positions[shard_id] = _after(records)
            return
        attempts = self._attempts.get(shard_id, 0) + 1
        if attempts >= self.MAX_ATTEMPTS:
            print(f"[local] {self.description}: batch skipped after {attempts} attempts", file=sys.stderr)
            self._attempts.pop(shard_id, None)
            self._positions[shard_id] = _after(records)
            return
        self._attempts[shard_id] = attempts
        self._positions[shard_id] = ("AT_SEQUENCE_NUMBER", retry_from)

    def _record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A GetRecords record as Lambda hands it over (JSON-safe, with the source ARN and region)."""
        change = dict(record.get("dynamodb") or {})
        created = change.get("ApproximateCreationDateTime")
        if created is not None and hasattr(created, "timestamp"):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record.get("eventID"),
            "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": change,
            "eventSourceARN": self._stream_arn,
        }


def _after(records: list[dict[str, Any]]) -> tuple[str, str | None]:
    """The stream position just past the last of `records`."""
    return ("AFTER_SEQUENCE_NUMBER", str(records[-1]["dynamodb"]["SequenceNumber"]))


function_event_relay("DynamoDB")(DynamoDbStreamRelay)
