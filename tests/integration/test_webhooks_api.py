"""functions/webhooks_api/app.py over moto: CRUD, tenant isolation, `{error, message}` errors, test deliveries.

The aws fixture runs the function with STAGE=local, where plain http to loopback is the allowed receiver.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from meterhub.webhooks.rules.signing import verify

from tests.conftest import WebhookReceiver, api_event

pytestmark = pytest.mark.pristine_aws  # fixed partner ids

Invoke = Callable[..., tuple[int, Any]]
LEAP_404 = {"error": "Not Found", "message": "The specified resource was not found"}
# The documented samples (docs/webhooks.md, "Test deliveries"): obviously not a real meter or reference.
SAMPLE_METER_CREATED = {
    "webhook_event_type": "meter.created",
    "meter_id": "00000000-0000-0000-0000-000000000001",
    "partner_reference": "sample-reference",
    "transmission_region": "ERCOT",
    "meter_type": "UTILITY_METER",
}
SAMPLE_CONNECT_SESSION_UPDATED = {
    "webhook_event_type": "connect_session.updated",
    "partner_reference": "sample-reference",
    "status": "CREATED",
}


def _event(method: str, path: str, body: Any, partner_id: str) -> dict[str, Any]:
    resource, params = path, None
    parts = path.split("/")
    if len(parts) >= 4 and parts[3]:
        params = {"webhook_id": parts[3]}
        resource = "/v1.1/webhooks/{webhook_id}" + ("/test" if path.endswith("/test") else "")
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
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/local{path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "198.51.100.7"},
            "authorizer": {"partner_id": partner_id},
        },
    }


@pytest.fixture
def call(aws: Any, lambda_context: Any, load_function: Callable[[str], ModuleType]) -> Invoke:
    module = load_function("functions/webhooks_api/app.py")

    def call(method: str, path: str, body: Any = None, *, partner_id: str = "partner-a") -> tuple[int, Any]:
        response = module.lambda_handler(_event(method, path, body, partner_id), lambda_context)
        return int(response["statusCode"]), json.loads(response["body"])

    return call


def request(url: str = "http://127.0.0.1:9/hooks", **changes: Any) -> dict[str, Any]:
    return {
        "event_types": ["meter.created", "interval_upload.completed"],
        "receiver_url": url,
        "headers": [{"name": "X-Api-Key", "value": "k-1"}],
        **changes,
    }


def test_create_list_replace_delete(call: Invoke) -> None:
    # When a webhook is created
    status, created = call("POST", "/v1.1/webhooks", request())
    # Then the answer is Leap's 200 with the id, plus the signing secret (this once)
    assert status == 200
    assert set(created) == {"webhook_id", "signing_secret"}
    assert created["signing_secret"].startswith("whsec_")
    webhook_id = created["webhook_id"]

    # And the list shows it without the secret (header names lower-cased, as Leap delivers them)
    status, listed = call("GET", "/v1.1/webhooks")
    assert status == 200
    assert listed == {
        "webhooks": [
            {
                "webhook_id": webhook_id,
                "event_types": ["meter.created", "interval_upload.completed"],
                "headers": [{"name": "x-api-key", "value": "k-1"}],
                "receiver_url": "http://127.0.0.1:9/hooks",
            }
        ]
    }
    assert "whsec_" not in json.dumps(listed)

    # When it is replaced without headers, every setting is overwritten
    status, replaced = call(
        "PUT",
        f"/v1.1/webhooks/{webhook_id}",
        {"event_types": ["meter_job.completed"], "receiver_url": "http://localhost:9/x"},
    )
    assert (status, replaced) == (200, {"webhook_id": webhook_id})
    _, listed = call("GET", "/v1.1/webhooks")
    assert listed["webhooks"] == [
        {
            "webhook_id": webhook_id,
            "event_types": ["meter_job.completed"],
            "headers": [],
            "receiver_url": "http://localhost:9/x",
        }
    ]

    # When it is deleted, it is gone and a second delete is a 404
    assert call("DELETE", f"/v1.1/webhooks/{webhook_id}") == (200, {"message": "Operation completed successfully"})
    assert call("GET", "/v1.1/webhooks") == (200, {"webhooks": []})
    assert call("DELETE", f"/v1.1/webhooks/{webhook_id}") == (404, LEAP_404)


def test_another_partners_webhook_is_not_found_on_every_route(call: Invoke) -> None:
    # Given partner A's webhook
    _, created = call("POST", "/v1.1/webhooks", request(), partner_id="partner-a")
    webhook_id = created["webhook_id"]
    # Then partner B neither sees, replaces, tests nor deletes it
    assert call("GET", "/v1.1/webhooks", partner_id="partner-b") == (200, {"webhooks": []})
    assert call("PUT", f"/v1.1/webhooks/{webhook_id}", request(), partner_id="partner-b") == (404, LEAP_404)
    assert call("POST", f"/v1.1/webhooks/{webhook_id}/test", partner_id="partner-b") == (404, LEAP_404)
    assert call("DELETE", f"/v1.1/webhooks/{webhook_id}", partner_id="partner-b") == (404, LEAP_404)
    # And it is still there for A
    _, listed = call("GET", "/v1.1/webhooks", partner_id="partner-a")
    assert [w["webhook_id"] for w in listed["webhooks"]] == [webhook_id]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (request(event_types=["meter.deleted"]), "event_types.0"),
        (request(event_types=[]), "event_types"),
        (request(event_types=["meter.created", "meter.created"]), "event_types"),
        ({"event_types": ["meter.created"]}, "receiver_url"),
        (request(url="http://hooks.partner.example/in"), "receiver_url"),
        (request(url="ftp://127.0.0.1/in"), "receiver_url"),
        (request(headers=[{"name": "x-api-key"}]), "headers.0.value"),
        (request(headers=[{"name": "bad name", "value": "v"}]), "headers.0.name"),
        (request(headers=[{"name": "Meterhub-Signature", "value": "v"}]), "headers.0.name"),
        (request(headers=[{"name": "Meterhub-Test", "value": "false"}]), "headers.0.name"),
        (request(headers=[{"name": "x-a", "value": "v"}, {"name": "X-A", "value": "w"}]), "headers"),
        (request(extra=1), "extra"),
    ],
)
def test_bad_inputs_are_400s_naming_the_field(call: Invoke, body: dict[str, Any], field: str) -> None:
    status, answer = call("POST", "/v1.1/webhooks", body)
    assert status == 400
    assert answer["error"] == "Bad Request"
    assert answer["message"].startswith(f"{field}:"), answer
    assert set(answer) == {"error", "message"}


def test_a_missing_or_broken_body_is_a_400_in_this_apis_shape(call: Invoke) -> None:
    assert call("POST", "/v1.1/webhooks") == (
        400,
        {"error": "Bad Request", "message": "A JSON request body is required"},
    )
    status, answer = call("POST", "/v1.1/webhooks", "{not json")
    assert status == 400 and set(answer) == {"error", "message"}


def test_put_validates_like_post(call: Invoke) -> None:
    _, created = call("POST", "/v1.1/webhooks", request())
    status, answer = call("PUT", f"/v1.1/webhooks/{created['webhook_id']}", request(url="http://10.0.0.1/"))
    assert status == 400 and answer["message"].startswith("receiver_url:")


def test_unknown_ids_are_404s(call: Invoke) -> None:
    unknown = str(uuid.uuid4())
    assert call("PUT", f"/v1.1/webhooks/{unknown}", request()) == (404, LEAP_404)
    assert call("POST", f"/v1.1/webhooks/{unknown}/test") == (404, LEAP_404)


@pytest.fixture
def call_log(
    aws: Any, lambda_context: Any, load_function: Callable[[str], ModuleType]
) -> Callable[..., tuple[int, Any]]:
    """The delivery-log routes (GET deliveries, POST redeliver), with query parameters."""
    module = load_function("functions/webhooks_api/app.py")

    def call_log(method: str, path: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
        parts = path.split("/")  # "", "v1.1", "webhooks", webhook_id, "deliveries"[, event id, "redeliver"]
        params, resource = {"webhook_id": parts[3]}, "/v1.1/webhooks/{webhook_id}/deliveries"
        if len(parts) > 5:
            params["webhook_event_id"] = parts[5]
            resource += "/{webhook_event_id}/redeliver"
        event = api_event(
            method, resource, path, path_parameters=params, query=query, authorizer={"partner_id": "partner-a"}
        )
        response = module.lambda_handler(event, lambda_context)
        return int(response["statusCode"]), json.loads(response["body"])

    return call_log


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ({"page_size": "1"}, None),
        ({"page_size": "100"}, None),
        ({"page_size": "0"}, "page_size: must be at least 1"),
        ({"page_size": "101"}, "page_size: must be at most 100"),
        ({"page_token": "A" * 2049}, "page_token: must be at most 2048 characters"),
    ],
)
def test_the_delivery_log_bounds_its_paging_in_this_apis_envelope(
    call: Invoke, call_log: Callable[..., tuple[int, Any]], query: dict[str, str], refusal: str | None
) -> None:
    webhook_id = call("POST", "/v1.1/webhooks", request())[1]["webhook_id"]
    answer = call_log("GET", f"/v1.1/webhooks/{webhook_id}/deliveries", query)
    if refusal is None:
        assert answer == (200, {"deliveries": []})
    else:
        assert answer == (400, {"error": "Bad Request", "message": refusal})


def test_the_longest_page_token_reaches_the_use_case(call: Invoke, call_log: Callable[..., tuple[int, Any]]) -> None:
    webhook_id = call("POST", "/v1.1/webhooks", request())[1]["webhook_id"]
    status, body = call_log("GET", f"/v1.1/webhooks/{webhook_id}/deliveries", {"page_token": "A" * 2048})
    assert status == 400 and body["message"].startswith("page_token is not a token this API issued"), body


def test_ids_documented_as_uuids_are_404s_when_malformed(
    call: Invoke, call_log: Callable[..., tuple[int, Any]]
) -> None:
    # Leap answers 404 for any id that names nothing: the uuid format is documented, not a reason for a 400
    webhook_id = call("POST", "/v1.1/webhooks", request())[1]["webhook_id"]
    assert call("PUT", "/v1.1/webhooks/not-a-uuid", request()) == (404, LEAP_404)
    assert call("DELETE", "/v1.1/webhooks/not-a-uuid") == (404, LEAP_404)
    assert call_log("GET", "/v1.1/webhooks/not-a-uuid/deliveries") == (404, LEAP_404)
    assert call_log("POST", f"/v1.1/webhooks/{webhook_id}/deliveries/not-a-uuid/redeliver") == (404, LEAP_404)


def _delivered(receiver: WebhookReceiver) -> tuple[dict[str, str], bytes, dict[str, Any]]:
    [(headers, body)] = receiver.received
    return headers, body, json.loads(body)


@pytest.mark.parametrize("body", [None, {}, {"webhook_event_type": "meter.created"}], ids=["none", "empty", "type"])
def test_the_test_route_delivers_a_signed_sample_marked_as_a_test(
    call: Invoke, webhook_receiver: WebhookReceiver, body: dict[str, Any] | None
) -> None:
    # Given a webhook pointing at a receiver on loopback
    webhook_receiver.status = 202
    _, created = call("POST", "/v1.1/webhooks", request(webhook_receiver.url))
    # When it is tested without a payload, or naming meter.created
    status, answer = call("POST", f"/v1.1/webhooks/{created['webhook_id']}/test", body)
    # Then the receiver's 202 is reported
    assert status == 200
    assert answer["is_successful"] is True and answer["status_code"] == 202
    assert isinstance(answer["response_time_ms"], int)
    assert "error" not in answer
    # And the receiver got our sample meter.created with the partner header and a valid signature, marked as a
    # test twice: by the Meterhub-Test header and by `"test": true` inside the signed body
    headers, raw, event = _delivered(webhook_receiver)
    assert headers["meterhub-test"] == "true"
    assert event["test"] is True
    assert event["payload"] == SAMPLE_METER_CREATED
    assert uuid.UUID(event["webhook_event_id"])
    assert headers["x-api-key"] == "k-1"
    assert verify(created["signing_secret"], headers["meterhub-signature"], raw)


def test_the_test_route_sends_our_sample_of_the_chosen_type(call: Invoke, webhook_receiver: WebhookReceiver) -> None:
    # Given a webhook
    _, created = call("POST", "/v1.1/webhooks", request(webhook_receiver.url))
    # When a test of connect_session.updated is asked for
    body = {"webhook_event_type": "connect_session.updated"}
    status, answer = call("POST", f"/v1.1/webhooks/{created['webhook_id']}/test", body)
    # Then our sample of that type arrives, marked as a test
    assert status == 200 and answer["is_successful"] is True
    headers, raw, event = _delivered(webhook_receiver)
    assert (headers["meterhub-test"], event["test"]) == ("true", True)
    assert event["payload"] == SAMPLE_CONNECT_SESSION_UPDATED
    assert verify(created["signing_secret"], headers["meterhub-signature"], raw)


FORGED_METER = {
    "webhook_event_type": "meter.created",
    "meter_id": "5d0e4a63-0d3c-4d7c-9a0e-3f7e2f1b9c10",
    "partner_reference": "customer-site-123",
    "transmission_region": "CAISO",
    "meter_type": "UTILITY_METER",
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (FORGED_METER, "meter_id"),
        (
            {"webhook_event_type": "connect_session.updated", "partner_reference": "ref-9", "status": "COMPLETED"},
            "partner_reference",
        ),
        ({"webhook_event_type": "meter.created", "payload": FORGED_METER}, "payload"),
        ({"webhook_event_id": str(uuid.uuid4()), "payload": FORGED_METER}, "webhook_event_id"),
        ({"webhook_event_type": "meter.created", "test": False}, "test"),
    ],
    ids=["forged-meter", "forged-connect", "payload", "envelope", "unmarked"],
)
def test_the_test_route_refuses_a_caller_supplied_payload(
    call: Invoke, webhook_receiver: WebhookReceiver, body: dict[str, Any], field: str
) -> None:
    # Given a webhook, and a caller (say, one holding a leaked API key) who writes the event's content
    _, created = call("POST", "/v1.1/webhooks", request(webhook_receiver.url))
    # When it is sent to the test route
    status, answer = call("POST", f"/v1.1/webhooks/{created['webhook_id']}/test", body)
    # Then it is a 400 in this API's shape naming the field, and nothing reaches the receiver
    assert status == 400
    assert set(answer) == {"error", "message"} and answer["error"] == "Bad Request"
    assert answer["message"].startswith(f"{field}: is not allowed"), answer
    assert webhook_receiver.received == []


def test_the_test_route_reports_an_unreachable_receiver(call: Invoke) -> None:
    _, created = call("POST", "/v1.1/webhooks", request("http://127.0.0.1:9/hooks"))
    status, answer = call("POST", f"/v1.1/webhooks/{created['webhook_id']}/test")
    assert status == 200
    assert answer["is_successful"] is False and answer["error"].startswith("Connection failed")
    assert "status_code" not in answer


def test_the_test_route_rejects_an_unknown_event_type(call: Invoke) -> None:
    _, created = call("POST", "/v1.1/webhooks", request())
    status, answer = call("POST", f"/v1.1/webhooks/{created['webhook_id']}/test", {"webhook_event_type": "nope"})
    assert status == 400 and answer["message"].startswith("webhook_event_type:")
