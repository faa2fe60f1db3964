"""Attempt 1 posted inline by the fan-out, on moto: functions/webhook_dispatcher/app.py with an invocation that
has time left, real WebhookEventsQueue messages and a real receiver on 127.0.0.1; and the delivery log's batched
writes (`start_all`, `save_all`, including a cancelled transaction) and one-request `claim` against moto's DynamoDB."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from meterhub.platform.adapters import clients
from meterhub.platform.adapters.sqs_work_queue import sqs_work_queue
from meterhub.platform.event_publisher import publish
from meterhub.webhooks.adapters.deliveries import LOG_RETENTION_DAYS, TRANSACTION_ITEMS, dynamo_delivery_log
from meterhub.webhooks.adapters.subscriptions import dynamo_webhook_repository
from meterhub.webhooks.api_models import WebhookRequest
from meterhub.webhooks.records import DeliveryRecord, DeliveryStatus
from meterhub.webhooks.use_cases.subscriptions import create_webhook

from tests.conftest import (
    REGION,
    FakeLambdaContext,
    WebhookReceiver,
    function_environment,
    local_template,
    receive_all,
    sqs_event,
)

pytestmark = pytest.mark.pristine_aws  # a fixed partner id

PARTNER = "partner-a"
PAYLOAD = {"webhook_event_type": "meter.created", "meter_id": "m-1"}


class FullInvocation(FakeLambdaContext):
    """An invocation with the dispatcher's whole 120 s timeout ahead of it."""

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


class Stack:
    def __init__(self, load_function: Callable[[str], ModuleType]) -> None:
        self.dispatcher = load_function("functions/webhook_dispatcher/app.py")
        env = function_environment()
        self.queue_url = env["WEBHOOK_EVENTS_QUEUE_URL"]
        self.table = env["WEBHOOKS_TABLE_NAME"]
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.dynamodb_calls: list[str] = []
        self.sqs_calls: list[str] = []  # the dispatcher's own (this class's polling uses another client)
        clients.dynamodb().meta.events.register("before-call.dynamodb", self._count_dynamodb)
        clients.sqs().meta.events.register("before-call.sqs", self._count_sqs)

    def _count_dynamodb(self, model: Any, **_: Any) -> None:
        self.dynamodb_calls.append(model.name)

    def _count_sqs(self, model: Any, **_: Any) -> None:
        self.sqs_calls.append(model.name)

    def subscribe(self, url: str, count: int) -> None:
        repo = dynamo_webhook_repository(self.table)
        for _ in range(count):
            request = WebhookRequest.model_validate({"event_types": ["meter.created"], "receiver_url": url})
            create_webhook(repo, PARTNER, request, stage="local")

    def invoke(self, context: Any, messages: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """One invocation with `messages` (default: every visible one), acknowledged as the event source mapping
        does; returns the messages it queued, received (and so in flight) for the next invocation."""
        if messages is None:
            messages = receive_all(self.sqs, self.queue_url)
        self.dynamodb_calls.clear()
        self.sqs_calls.clear()
        result = self.dispatcher.lambda_handler(sqs_event(messages, "WebhookEventsQueue"), context)
        assert result == {"batchItemFailures": []}
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        queued: list[dict[str, Any]] = receive_all(self.sqs, self.queue_url)
        return queued


@pytest.fixture
def stack(aws: Any, load_function: Callable[[str], ModuleType]) -> Stack:
    return Stack(load_function)


def test_an_event_is_delivered_to_its_subscriptions_in_one_invocation_with_three_dynamodb_calls(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    url, received = webhook_receiver.url, webhook_receiver.received
    stack.subscribe(url, 4)
    event_id = publish(sqs_work_queue(stack.queue_url), PARTNER, PAYLOAD)
    queued = stack.invoke(FullInvocation())
    # Delivered by the fan-out itself: no task queued, and the subscriptions query plus two transactions
    assert queued == []
    assert len(received) == 4
    assert stack.dynamodb_calls == ["Query", "TransactWriteItems", "TransactWriteItems"]
    assert stack.sqs_calls == []
    entries = _entries(stack.table, event_id)
    assert [(e.status, e.attempt_count, e.attempts[0].status_code) for e in entries] == [
        (DeliveryStatus.DELIVERED, 1, 200)
    ] * 4


def test_an_inline_failure_is_retried_by_a_queued_task(stack: Stack, webhook_receiver: WebhookReceiver) -> None:
    url, received = webhook_receiver.url, webhook_receiver.received
    webhook_receiver.status = 503
    vars(stack.dispatcher)["RETRY_DELAYS"] = (0,) * 10  # attempt 2 due at once, so the test need not wait
    stack.subscribe(url, 2)
    event_id = publish(sqs_work_queue(stack.queue_url), PARTNER, PAYLOAD)
    queued = stack.invoke(FullInvocation())
    assert sorted(m["Body"].count('"attempt":2') for m in queued) == [1, 1]
    assert stack.sqs_calls == ["SendMessageBatch"]  # both retries in one request
    webhook_receiver.status = 200
    assert stack.invoke(FullInvocation(), queued) == []
    # Each retry: the subscription, the claim (which also reads the entry) and the record
    assert stack.dynamodb_calls == ["GetItem", "UpdateItem", "PutItem"] * 2
    assert len(received) == 4
    entries = _entries(stack.table, event_id)
    assert [[a.status_code for a in e.attempts] for e in entries] == [[503, 200]] * 2


def test_an_invocation_short_of_time_queues_attempt_1_instead(stack: Stack, webhook_receiver: WebhookReceiver) -> None:
    url, received = webhook_receiver.url, webhook_receiver.received
    stack.subscribe(url, 2)
    publish(sqs_work_queue(stack.queue_url), PARTNER, PAYLOAD)
    queued = stack.invoke(FakeLambdaContext())  # 10 s left: less than one post's timeout plus the reserves
    assert received == [] and len(queued) == 2
    assert stack.invoke(FakeLambdaContext(), queued) == []
    assert len(received) == 2


# ----- the delivery log's batched writes on moto --------------------------------------------------------------
def _record(event_id: str, webhook_id: str) -> DeliveryRecord:
    now = datetime.now(UTC)
    return DeliveryRecord(
        partner_id=PARTNER,
        webhook_id=webhook_id,
        webhook_event_id=event_id,
        webhook_event_type="meter.created",
        event={"webhook_event_id": event_id, "payload": PAYLOAD},
        created_at=now,
        updated_at=now,
    )


def _entries(table: str, event_id: str) -> list[DeliveryRecord]:
    log = dynamo_delivery_log(table)
    repo = dynamo_webhook_repository(table)
    found = [log.get(PARTNER, s.webhook_id, event_id) for s in repo.for_partner(PARTNER)]
    return [entry for entry in found if entry is not None]


def test_start_all_writes_what_is_new_when_the_transaction_is_cancelled(aws: Any) -> None:
    log = dynamo_delivery_log(function_environment()["WEBHOOKS_TABLE_NAME"])
    event_id = str(uuid.uuid4())
    records = [_record(event_id, f"w{n}") for n in range(3)]
    assert log.start(records[1])
    # One of three already exists: the transaction is cancelled, and each entry is then written on its own
    assert log.start_all(records, lease_until=2e9) == [True, False, True]
    assert all(log.get(PARTNER, f"w{n}", event_id) is not None for n in range(3))
    # The new ones hold the lease of attempt 1; the one started before does not
    claims = [log.claim(PARTNER, r.webhook_id, event_id, (1, 0), now=1e9, lease_until=1e9 + 60) for r in records]
    assert [claim.taken for claim in claims] == [False, True, False]


def test_save_all_refuses_an_entry_that_moved_on_and_saves_the_others(aws: Any) -> None:
    log = dynamo_delivery_log(function_environment()["WEBHOOKS_TABLE_NAME"])
    event_id = str(uuid.uuid4())
    records = [_record(event_id, f"w{n}") for n in range(3)]
    assert log.start_all(records) == [True] * 3
    delivered = [r.model_copy(update={"status": DeliveryStatus.DELIVERED, "attempt_count": 1}) for r in records]
    assert log.save(delivered[0], 1, 0)  # recorded elsewhere meanwhile
    assert log.save_all([(d, 1, 0) for d in delivered]) == [False, True, True]
    assert [log.get(PARTNER, f"w{n}", event_id).attempt_count for n in range(3)] == [1, 1, 1]  # type: ignore[union-attr]


def test_start_all_splits_more_entries_than_one_transaction_takes(aws: Any) -> None:
    log = dynamo_delivery_log(function_environment()["WEBHOOKS_TABLE_NAME"])
    event_id = str(uuid.uuid4())
    records = [_record(event_id, f"w{n:03}") for n in range(TRANSACTION_ITEMS * 2 + 3)]
    assert log.start_all(records) == [True] * len(records)
    assert log.start_all(records) == [False] * len(records)


def test_an_ended_entry_expires_30_days_after_its_last_change_and_a_pending_one_never(aws: Any) -> None:
    table = function_environment()["WEBHOOKS_TABLE_NAME"]
    log = dynamo_delivery_log(table)
    record = _record(str(uuid.uuid4()), "w1")

    def expiry() -> int | None:
        key = {"pk": {"S": f"PARTNER#{PARTNER}#WEBHOOK#w1"}, "sk": {"S": f"DELIVERY#{record.webhook_event_id}"}}
        item = boto3.client("dynamodb", region_name=REGION).get_item(TableName=table, Key=key)["Item"]
        return int(item["expires_at_epoch"]["N"]) if "expires_at_epoch" in item else None

    assert log.start(record) and expiry() is None
    ended_at = datetime(2026, 11, 1, tzinfo=UTC)
    failed = record.model_copy(update={"status": DeliveryStatus.FAILED, "attempt_count": 10, "updated_at": ended_at})
    assert log.save(failed, 1, 0)
    assert expiry() == int((ended_at + timedelta(days=LOG_RETENTION_DAYS)).timestamp()) and LOG_RETENTION_DAYS == 30
    # A redelivery makes it PENDING again: it is kept until the new round ends
    assert log.save(failed.model_copy(update={"status": DeliveryStatus.PENDING, "round": 2, "attempt_count": 0}), 1, 10)
    assert expiry() is None


def test_webhooks_table_has_ttl_on_expires_at_epoch() -> None:
    assert local_template().tables["WebhooksTable"].ttl_attribute == "expires_at_epoch"


def test_claim_takes_the_lease_in_one_request_and_otherwise_shows_the_entry_as_it_stands(aws: Any) -> None:
    log = dynamo_delivery_log(function_environment()["WEBHOOKS_TABLE_NAME"])
    event_id = str(uuid.uuid4())
    record = _record(event_id, "w1")
    # No entry: nothing taken, nothing created
    assert log.claim(PARTNER, "w1", event_id, (1, 0), 1e9, 1e9 + 60) == (None, False)
    assert log.get(PARTNER, "w1", event_id) is None
    # Taken: the claim carries the entry
    assert log.start(record)
    assert log.claim(PARTNER, "w1", event_id, (1, 0), 1e9, 1e9 + 60) == (record, True)
    # Held by that lease, or expecting another state: not taken, and the entry comes back as it stands
    assert log.claim(PARTNER, "w1", event_id, (1, 0), 1e9 + 30, 1e9 + 90) == (record, False)
    assert log.claim(PARTNER, "w1", event_id, (1, 1), 1e9 + 90, 1e9 + 150) == (record, False)
    # Once the lease has run out it can be taken again
    assert log.claim(PARTNER, "w1", event_id, (1, 0), 1e9 + 61, 1e9 + 121).taken
