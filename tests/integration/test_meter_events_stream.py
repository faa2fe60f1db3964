"""functions/meter_events/app.py on moto: meters written through the repository, their MetersTable stream
records read with dynamodbstreams and handed to the handler, the events read back from WebhookEventsQueue.
Also the local runner's DynamoDB stream relay, with a recording stand-in for the function."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.records import MeterRecord
from meterhub.platform.errors import AlreadyExists
from meterhub_dev.local.event_sources import DynamoDbStreamRelay, RelayContext, streams_client

pytestmark = pytest.mark.pristine_aws  # the table's whole stream

_spec = importlib.util.spec_from_file_location("_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_root = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(_root)
REGION: str = _root.REGION
TABLE_ENV: dict[str, str] = _root.TABLE_ENV
function_environment = _root.function_environment
local_template = _root.local_template
receive_all = _root.receive_all
build_asset = _root.build_asset

AT = datetime(2025, 2, 3, 10, 30, tzinfo=UTC)


def meter_record(partner_id: str, reference: str, version: int = 1, **blocks: Any) -> MeterRecord:
    data = CreateMeter.model_validate(build_asset(reference, **blocks)).model_dump(mode="json", exclude_none=True)
    return MeterRecord(
        meter_id=str(uuid.uuid5(uuid.NAMESPACE_URL, reference)),
        partner_id=partner_id,
        partner_reference=reference,
        data=data,
        created_at=AT,
        updated_at=AT,
        version=version,
    )


def stream_records(after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Every record of the MetersTable stream (after sequence number `after`) and the last sequence number."""
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=TABLE_ENV["METERS_TABLE_NAME"])
    arn = table["Table"]["LatestStreamArn"]
    streams = streams_client(None, REGION)
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        response = streams.get_records(ShardIterator=iterator["ShardIterator"])
        records.extend(response["Records"])
    if after is not None:
        records = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) > int(after)]
    last = records[-1]["dynamodb"]["SequenceNumber"] if records else after
    for record in records:  # as Lambda hands them over: JSON (epoch seconds, not datetimes)
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
    return records, last


def events_on_queue() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = function_environment()["WEBHOOK_EVENTS_QUEUE_URL"]
    messages = receive_all(sqs, queue_url)
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def handler(aws: Any, load_function: Callable[[str], ModuleType], lambda_context: Any) -> Callable[..., Any]:
    module = load_function("functions/meter_events/app.py")
    return lambda records: module.lambda_handler({"Records": records}, lambda_context)


def test_created_then_updated_meter_publishes_its_events_from_the_stream(handler: Callable[..., Any]) -> None:
    # Given a meter created through the repository (meter item + REF# guard in one transaction)
    repo = dynamo_meter_repository(TABLE_ENV["METERS_TABLE_NAME"])
    repo.create(meter_record("partner-1", "site-1"))
    records, last = stream_records()
    assert sorted(r["eventName"] for r in records) == ["INSERT", "INSERT"]

    # When the stream batch is handed to the function
    assert handler(records) == {"batchItemFailures": []}

    # Then meter.created and the initial enrollment events are on WebhookEventsQueue, for that partner
    events = events_on_queue()
    assert sorted(e["payload"]["webhook_event_type"] for e in events) == [
        "meter.created",
        "meter.enrollment.global-status.updated",
        "meter.enrollment.required-actions.updated",
    ]
    assert {e["partner_id"] for e in events} == {"partner-1"}
    created = next(e for e in events if e["payload"]["webhook_event_type"] == "meter.created")
    assert created["payload"]["partner_reference"] == "site-1"

    # And a retried batch publishes the very same event ids (receivers dedupe on them)
    assert handler(records) == {"batchItemFailures": []}
    assert {e["webhook_event_id"] for e in events_on_queue()} == {e["webhook_event_id"] for e in events}

    # When the meter is replaced with its utility block (its missing-fields actions change)
    utility = {"utility_name": "EVERSOURCE", "electric_service_account_number": "51234567890"}
    repo.replace(meter_record("partner-1", "site-1", version=2, utility=utility), expected_version=1)
    modified, _ = stream_records(after=last)
    assert [r["eventName"] for r in modified] == ["MODIFY"]
    assert handler(modified) == {"batchItemFailures": []}

    # Then only the required-actions event follows
    assert [e["payload"]["webhook_event_type"] for e in events_on_queue()] == [
        "meter.enrollment.required-actions.updated"
    ]


class RecordingLambdas:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(json.loads(json.dumps(event)))  # what Lambda hands over is JSON
        return {"batchItemFailures": []}


class MockedAws:
    endpoint_url = None

    def dynamodb(self) -> Any:
        return boto3.client("dynamodb", region_name=REGION)


def meter_events_relay(aws: Any) -> tuple[DynamoDbStreamRelay, RecordingLambdas]:
    """The local runner's relay of MeterEventsFunction's DynamoDB event on the provisioned table (not started: the
    test polls it), and the recorder of what it invokes."""
    template = local_template()
    function = template.functions["MeterEventsFunction"]
    (event,) = [e for e in function.events if e.type == "DynamoDB"]
    lambdas = RecordingLambdas()
    context = RelayContext(template=template, lambdas=lambdas, aws=MockedAws())  # type: ignore[arg-type]
    relay = DynamoDbStreamRelay(context, function, event)
    relay._stream_arn = aws.describe_table(TableName=TABLE_ENV["METERS_TABLE_NAME"])["Table"]["LatestStreamArn"]
    relay._streams = streams_client(None, REGION)
    return relay, lambdas


def test_local_stream_relay_invokes_the_function_with_stream_batches(aws: Any) -> None:
    # Given the relay of MeterEventsFunction's DynamoDB event on the provisioned table
    relay, lambdas = meter_events_relay(aws)

    # When a meter is created and the relay polls (twice: the second read finds nothing new)
    dynamo_meter_repository(TABLE_ENV["METERS_TABLE_NAME"]).create(meter_record("partner-1", "site-2"))
    assert relay.poll_once() == 2
    assert relay.poll_once() == 0

    # Then the function got one batch with both records, shaped like Lambda's stream event
    (batch,) = lambdas.events
    assert sorted(r["dynamodb"]["Keys"]["sk"]["S"].split("#")[0] for r in batch["Records"]) == ["METER", "REF"]
    assert {r["eventSource"] for r in batch["Records"]} == {"aws:dynamodb"}


def test_local_stream_relay_keeps_reading_after_moto_rolls_a_transaction_back(aws: Any) -> None:
    # Given the relay, having handed over a first meter's records
    relay, lambdas = meter_events_relay(aws)
    meters = dynamo_meter_repository(TABLE_ENV["METERS_TABLE_NAME"])
    meters.create(meter_record("partner-1", "site-1"))
    assert relay.poll_once() == 2
    # When a create is refused (its transaction fails: moto restores a copy of the table, stream and all)
    with pytest.raises(AlreadyExists):
        meters.create(meter_record("partner-1", "site-1"))
    # Then a meter created afterwards still reaches the function (before, the relay read the discarded stream)
    meters.create(meter_record("partner-1", "site-3"))
    assert relay.poll_once() == 2
    assert relay.poll_once() == 0
    references = [r["dynamodb"]["Keys"]["sk"]["S"] for r in lambdas.events[-1]["Records"]]
    assert any(reference.startswith("REF#site-3") for reference in references), references
