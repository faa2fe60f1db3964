"""functions/webhook_dispatcher/app.py and the webhooks API's delivery log on moto, with real queue messages
(WebhookEventsQueue) and a real receiver on 127.0.0.1. The retry schedule is replaced by zeros."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from meterhub.platform.adapters.sqs_work_queue import sqs_work_queue
from meterhub.platform.event_publisher import publish
from meterhub.webhooks.rules.signing import verify

from tests.conftest import REGION, FakeLambdaContext, WebhookReceiver, function_environment, receive_all, sqs_event

pytestmark = pytest.mark.pristine_aws  # fixed partner ids

PAYLOAD = {"webhook_event_type": "meter.created", "meter_id": "m-1"}


def _api_event(method: str, resource: str, path: str, params: dict[str, str], body: Any, pid: str) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "198.51.100.7"},
            "authorizer": {"partner_id": pid},
        },
    }


class Stack:
    def __init__(self, load_function: Callable[[str], ModuleType]) -> None:
        self.api = load_function("functions/webhooks_api/app.py")
        self.dispatcher = load_function("functions/webhook_dispatcher/app.py")
        vars(self.dispatcher)["RETRY_DELAYS"] = (0,) * 10
        self.queue_url = function_environment()["WEBHOOK_EVENTS_QUEUE_URL"]
        self.sqs = boto3.client("sqs", region_name=REGION)

    def call(self, method: str, path: str, body: Any = None, *, pid: str = "partner-a") -> tuple[int, Any]:
        parts = path.split("/")
        params = {"webhook_id": parts[3]} if len(parts) > 3 else {}
        resource = "/v1.1/webhooks" + ("/{webhook_id}" if params else "")
        if len(parts) > 4:
            resource += "/deliveries"
        if len(parts) > 6:
            params["webhook_event_id"] = parts[5]
            resource += "/{webhook_event_id}/redeliver"
        response = self.api.lambda_handler(_api_event(method, resource, path, params, body, pid), FakeLambdaContext())
        return int(response["statusCode"]), json.loads(response["body"])

    def run_queue(self, max_rounds: int = 30) -> int:
        handled = 0
        for _ in range(max_rounds):
            messages = receive_all(self.sqs, self.queue_url)
            if not messages:
                return handled
            result = self.dispatcher.lambda_handler(sqs_event(messages, "WebhookEventsQueue"), FakeLambdaContext())
            assert result == {"batchItemFailures": []}
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            handled += len(messages)
        raise AssertionError("WebhookEventsQueue did not drain")


@pytest.fixture
def stack(aws: Any, load_function: Callable[[str], ModuleType]) -> Stack:
    return Stack(load_function)


def test_published_event_is_delivered_signed_then_retried_and_logged(
    stack: Stack, webhook_receiver: WebhookReceiver
) -> None:
    url, received = webhook_receiver.url, webhook_receiver.received
    status, created = stack.call("POST", "/v1.1/webhooks", {"event_types": ["meter.created"], "receiver_url": url})
    assert status == 200
    webhook_id, secret = created["webhook_id"], created["signing_secret"]
    # A first event is delivered at once, a second only after a 500
    first = publish(sqs_work_queue(stack.queue_url), "partner-a", PAYLOAD)
    stack.run_queue()
    webhook_receiver.status = 500
    second = publish(sqs_work_queue(stack.queue_url), "partner-a", PAYLOAD)
    stack.run_queue()  # ten attempts, all 500
    headers, body = received[0]
    assert verify(secret, headers["meterhub-signature"], body)
    assert len(received) == 11
    # The log lists both, newest first, one per page
    status, page = stack.call("GET", f"/v1.1/webhooks/{webhook_id}/deliveries")
    assert status == 200
    assert [(d["webhook_event_id"], d["status"], len(d["attempts"])) for d in page["deliveries"]] == [
        (second, "FAILED", 10),
        (first, "DELIVERED", 1),
    ]
    # A failed event is redelivered on request as attempt 1 of round 2
    webhook_receiver.status = 204
    status, redelivered = stack.call("POST", f"/v1.1/webhooks/{webhook_id}/deliveries/{second}/redeliver")
    assert (status, redelivered["status"]) == (200, "PENDING")
    status, again = stack.call("POST", f"/v1.1/webhooks/{webhook_id}/deliveries/{second}/redeliver")
    assert status == 409 and set(again) == {"error", "message"}
    stack.run_queue()
    assert len(received) == 12
    status, page = stack.call("GET", f"/v1.1/webhooks/{webhook_id}/deliveries")
    latest = page["deliveries"][0]
    assert latest["status"] == "DELIVERED"
    assert (latest["attempts"][-1]["round"], latest["attempts"][-1]["status_code"]) == (2, 204)


def test_delivery_log_and_redeliver_are_tenant_isolated(stack: Stack, webhook_receiver: WebhookReceiver) -> None:
    url, received = webhook_receiver.url, webhook_receiver.received
    _, created = stack.call("POST", "/v1.1/webhooks", {"event_types": ["meter.created"], "receiver_url": url})
    webhook_id = created["webhook_id"]
    event_id = publish(sqs_work_queue(stack.queue_url), "partner-a", PAYLOAD)
    # Another partner's event never reaches partner-a's webhook
    publish(sqs_work_queue(stack.queue_url), "partner-b", PAYLOAD)
    stack.run_queue()
    assert len(received) == 1
    missing = {"error": "Not Found", "message": "The specified resource was not found"}
    assert stack.call("GET", f"/v1.1/webhooks/{webhook_id}/deliveries", pid="partner-b") == (404, missing)
    path = f"/v1.1/webhooks/{webhook_id}/deliveries/{event_id}/redeliver"
    assert stack.call("POST", path, pid="partner-b") == (404, missing)
    assert stack.call("POST", f"/v1.1/webhooks/{webhook_id}/deliveries/{uuid.uuid4()}/redeliver") == (404, missing)
    status, page = stack.call("GET", f"/v1.1/webhooks/{webhook_id}/deliveries")
    assert status == 200 and [d["webhook_event_id"] for d in page["deliveries"]] == [event_id]


def test_a_redelivered_queue_message_does_not_post_twice(stack: Stack, webhook_receiver: WebhookReceiver) -> None:
    url, received = webhook_receiver.url, webhook_receiver.received
    stack.call("POST", "/v1.1/webhooks", {"event_types": ["meter.created"], "receiver_url": url})
    publish(sqs_work_queue(stack.queue_url), "partner-a", PAYLOAD)
    [event_message] = receive_all(stack.sqs, stack.queue_url)
    stack.dispatcher.lambda_handler(sqs_event([event_message], "WebhookEventsQueue"), FakeLambdaContext())
    [task] = receive_all(stack.sqs, stack.queue_url)
    for _ in range(2):  # the queue hands the task over twice (e.g. a lost acknowledgement)
        result = stack.dispatcher.lambda_handler(sqs_event([task], "WebhookEventsQueue", 2), FakeLambdaContext())
        assert result == {"batchItemFailures": []}
    assert len(received) == 1
