"""A delivery whose webhook is deleted, or stops wanting the event's type, while a retry is pending.

functions/webhook_dispatcher/app.py and functions/webhooks_api/app.py on moto, with real WebhookEventsQueue
messages and a real receiver on 127.0.0.1. The task for the next attempt must end the delivery-log entry
(FAILED, with an `end_reason`), post nothing and be acknowledged, instead of leaving the entry PENDING for good
or posting an event type the partner unsubscribed from. The retry schedule is replaced by zeros, and the
messages are handed over one step at a time so the webhook can change between two attempts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from meterhub.platform.adapters.sqs_work_queue import sqs_work_queue
from meterhub.platform.event_publisher import publish
from meterhub.webhooks.adapters.deliveries import dynamo_delivery_log
from meterhub.webhooks.records import DeliveryRecord, DeliveryStatus

from tests.conftest import (
    REGION,
    FakeLambdaContext,
    WebhookReceiver,
    api_event,
    function_environment,
    local_template,
    receive_all,
    resource_for,
    sqs_event,
)

pytestmark = pytest.mark.pristine_aws  # a fixed partner id

PARTNER = "partner-a"
METER_CREATED = "meter.created"
JOB_COMPLETED = "meter_job.completed"
PAYLOAD = {"webhook_event_type": METER_CREATED, "meter_id": "m-1"}


class Stack:
    """The webhooks API and the dispatcher, with WebhookEventsQueue driven one step at a time."""

    def __init__(self, load_function: Callable[[str], ModuleType]) -> None:
        self.api = load_function("functions/webhooks_api/app.py")
        self.dispatcher = load_function("functions/webhook_dispatcher/app.py")
        vars(self.dispatcher)["RETRY_DELAYS"] = (0,) * 10
        env = function_environment()
        self.queue_url = env["WEBHOOK_EVENTS_QUEUE_URL"]
        self.log = dynamo_delivery_log(env["WEBHOOKS_TABLE_NAME"])
        self.sqs = boto3.client("sqs", region_name=REGION)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        routes = [(r.method, r.path) for r in local_template().routes if r.function_id == "WebhooksApiFunction"]
        resource, params = resource_for(routes, method, path)
        event = api_event(
            method,
            resource,
            path,
            path_parameters=params,
            body=None if body is None else json.dumps(body),
            authorizer={"partner_id": PARTNER},
        )
        response = self.api.lambda_handler(event, FakeLambdaContext())
        return int(response["statusCode"]), json.loads(response["body"])

    def subscribe(self, url: str, event_types: list[str]) -> str:
        status, created = self.call("POST", "/v1.1/webhooks", {"event_types": event_types, "receiver_url": url})
        assert status == 200, created
        return str(created["webhook_id"])

    def queued(self) -> list[dict[str, Any]]:
        """Every message now visible (in flight until `handle` acknowledges it)."""
        messages: list[dict[str, Any]] = receive_all(self.sqs, self.queue_url)
        return messages

    def handle(self, messages: list[dict[str, Any]]) -> list[str]:
        """One invocation; deletes the messages it did not report as failures (as the event source mapping
        does) and returns the ids of those it did."""
        result = self.dispatcher.lambda_handler(sqs_event(messages, "WebhookEventsQueue"), FakeLambdaContext())
        failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return failed

    def step(self) -> None:
        """Hand over what is queued now (one invocation), all of it acknowledged."""
        messages = self.queued()
        assert messages, "nothing was queued"
        assert self.handle(messages) == []

    def run_queue(self, max_rounds: int = 30) -> None:
        """Hand over whatever is queued, round after round, until the queue is empty."""
        for _ in range(max_rounds):
            messages = self.queued()
            if not messages:
                return
            assert self.handle(messages) == []
        raise AssertionError("WebhookEventsQueue did not drain")

    def entry(self, webhook_id: str, event_id: str) -> DeliveryRecord:
        record = self.log.get(PARTNER, webhook_id, event_id)
        assert record is not None
        return record


@pytest.fixture
def stack(aws: Any, load_function: Callable[[str], ModuleType]) -> Stack:
    return Stack(load_function)


def first_attempt_fails(stack: Stack, webhook_receiver: WebhookReceiver, event_types: list[str]) -> tuple[str, str]:
    """A webhook, an event fanned out to it and attempt 1 answered 500: attempt 2 is queued. (webhook, event)."""
    webhook_receiver.status = 500
    webhook_id = stack.subscribe(webhook_receiver.url, event_types)
    event_id = publish(sqs_work_queue(stack.queue_url), PARTNER, PAYLOAD)
    stack.step()  # the event: fan-out
    stack.step()  # attempt 1: 500, attempt 2 queued
    assert len(webhook_receiver.received) == 1
    record = stack.entry(webhook_id, event_id)
    assert (record.status, record.attempt_count, record.next_attempt_at is not None) == (
        DeliveryStatus.PENDING,
        1,
        True,
    )
    return webhook_id, event_id


def test_a_webhook_deleted_while_a_retry_waits_ends_its_delivery_failed(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    # Given attempt 1 failed and attempt 2 is queued
    webhook_id, event_id = first_attempt_fails(stack, webhook_receiver, [METER_CREATED])
    # When the webhook is deleted and the queue hands attempt 2 over
    assert stack.call("DELETE", f"/v1.1/webhooks/{webhook_id}")[0] == 200
    stack.run_queue()
    # Then nothing more was posted, the message was acknowledged, and the entry has ended
    assert len(webhook_receiver.received) == 1
    assert stack.queued() == []
    record = stack.entry(webhook_id, event_id)
    assert record.status is DeliveryStatus.FAILED
    assert record.end_reason == "webhook deleted"
    assert record.next_attempt_at is None
    assert [(a.n, a.status_code) for a in record.attempts] == [(1, 500)]


def test_a_long_wait_ends_at_its_next_hop_not_when_it_falls_due(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    # Given attempt 2 waits for hours (the task hops the queue in 15-minute steps, carrying `not_before`)
    webhook_id, event_id = first_attempt_fails(stack, webhook_receiver, [METER_CREATED])
    [task] = stack.queued()
    body = {**json.loads(task["Body"]), "not_before": time.time() + 4 * 3600}
    hop = {**task, "Body": json.dumps(body)}
    # When the webhook is deleted and the next hop arrives
    assert stack.call("DELETE", f"/v1.1/webhooks/{webhook_id}")[0] == 200
    assert stack.handle([hop]) == []
    # Then the entry ends now: no further hop is queued and nothing is posted
    assert stack.queued() == []
    assert len(webhook_receiver.received) == 1
    record = stack.entry(webhook_id, event_id)
    assert (record.status, record.end_reason) == (DeliveryStatus.FAILED, "webhook deleted")


def test_a_put_that_drops_the_event_type_ends_the_delivery_and_redeliver_restarts_it(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    # Given a webhook for two types whose attempt 1 of a meter.created event failed
    webhook_id, event_id = first_attempt_fails(stack, webhook_receiver, [METER_CREATED, JOB_COMPLETED])
    # When a PUT keeps only meter_job.completed and attempt 2 is handed over
    put = {"event_types": [JOB_COMPLETED], "receiver_url": webhook_receiver.url}
    assert stack.call("PUT", f"/v1.1/webhooks/{webhook_id}", put)[0] == 200
    stack.run_queue()
    # Then the meter.created event is not posted again and the log (still reachable) shows it ended
    assert len(webhook_receiver.received) == 1
    assert stack.entry(webhook_id, event_id).end_reason == f"no longer subscribed to {METER_CREATED}"
    status, page = stack.call("GET", f"/v1.1/webhooks/{webhook_id}/deliveries")
    assert status == 200
    [listed] = page["deliveries"]
    assert (listed["status"], len(listed["attempts"]), listed.get("next_attempt_at")) == ("FAILED", 1, None)
    assert listed["end_reason"] == f"no longer subscribed to {METER_CREATED}"  # the partner sees why
    # And once subscribed again, the ended entry can be redelivered like any FAILED one
    webhook_receiver.status = 204
    put["event_types"] = [METER_CREATED, JOB_COMPLETED]
    assert stack.call("PUT", f"/v1.1/webhooks/{webhook_id}", put)[0] == 200
    status, redelivered = stack.call("POST", f"/v1.1/webhooks/{webhook_id}/deliveries/{event_id}/redeliver")
    assert (status, redelivered["status"]) == (200, "PENDING")
    assert "end_reason" not in redelivered  # the new round has not ended
    stack.run_queue()
    record = stack.entry(webhook_id, event_id)
    assert (record.status, record.round, record.end_reason) == (DeliveryStatus.DELIVERED, 2, None)
    assert len(webhook_receiver.received) == 2


def test_the_ending_task_handed_over_twice_changes_nothing_more(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    webhook_id, event_id = first_attempt_fails(stack, webhook_receiver, [METER_CREATED])
    [task] = stack.queued()
    assert stack.call("DELETE", f"/v1.1/webhooks/{webhook_id}")[0] == 200
    assert stack.handle([task]) == []
    ended = stack.entry(webhook_id, event_id)
    # The queue hands the same task over again (e.g. a lost acknowledgement)
    again = sqs_event([task], "WebhookEventsQueue", 2)
    assert stack.dispatcher.lambda_handler(again, FakeLambdaContext()) == {"batchItemFailures": []}
    assert stack.entry(webhook_id, event_id) == ended
    assert len(webhook_receiver.received) == 1
    assert stack.queued() == []


def test_an_attempt_in_progress_elsewhere_is_not_ended_under_it(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    # Given another worker holds the lease on attempt 2 (it is posting right now)
    webhook_id, event_id = first_attempt_fails(stack, webhook_receiver, [METER_CREATED])
    [task] = stack.queued()
    now = time.time()
    entry = stack.entry(webhook_id, event_id)
    assert stack.log.claim(PARTNER, webhook_id, event_id, (entry.round, entry.attempt_count), now, now + 1.0).taken
    assert stack.call("DELETE", f"/v1.1/webhooks/{webhook_id}")[0] == 200
    # When a copy of attempt 2 arrives meanwhile, it is handed back to the queue and the entry left alone
    assert stack.handle([task]) == [task["MessageId"]]
    assert stack.entry(webhook_id, event_id).status is DeliveryStatus.PENDING
    # Then, once the lease has run out, the queue's retry ends the entry
    time.sleep(max(0.0, now + 1.05 - time.time()))
    retry = sqs_event([task], "WebhookEventsQueue", 2)
    assert stack.dispatcher.lambda_handler(retry, FakeLambdaContext()) == {"batchItemFailures": []}
    record = stack.entry(webhook_id, event_id)
    assert (record.status, record.end_reason) == (DeliveryStatus.FAILED, "webhook deleted")
    assert len(webhook_receiver.received) == 1


def test_a_task_without_a_log_entry_for_a_deleted_webhook_creates_none(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    webhook_id, event_id = first_attempt_fails(stack, webhook_receiver, [METER_CREATED])
    [task] = stack.queued()
    assert stack.call("DELETE", f"/v1.1/webhooks/{webhook_id}")[0] == 200
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=function_environment()["WEBHOOKS_TABLE_NAME"],
        Key={"pk": {"S": f"PARTNER#{PARTNER}#WEBHOOK#{webhook_id}"}, "sk": {"S": f"DELIVERY#{event_id}"}},
    )
    assert stack.handle([task]) == []
    assert stack.log.get(PARTNER, webhook_id, event_id) is None
    assert len(webhook_receiver.received) == 1
