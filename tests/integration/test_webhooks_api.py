"""functions/webhooks_api/app.py over moto: CRUD, tenant isolation, `{error, message}` errors, test deliveries.

The aws fixture runs the function with STAGE=local, where plain http to loopback is the allowed receiver.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest
from meterhub.webhooks.signing import verify

Invoke = Callable[..., tuple[int, Any]]
LEAP_404 = {"error": "Not Found", "message": "The specified resource was not found"}


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


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    finally:
        server.shutdown()
        server.server_close()


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


def test_the_test_route_delivers_a_signed_sample_to_a_loopback_receiver(
    call: Invoke, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    # Given a webhook pointing at a receiver on loopback
    url, received = receiver
    _, created = call("POST", "/v1.1/webhooks", request(url))
    # When it is tested without a payload
    status, answer = call("POST", f"/v1.1/webhooks/{created['webhook_id']}/test")
    # Then the receiver's 202 is reported
    assert status == 200
    assert answer["is_successful"] is True and answer["status_code"] == 202
    assert isinstance(answer["response_time_ms"], int)
    assert "error" not in answer
    # And the receiver got a sample meter.created, with the partner header and a valid signature
    [(headers, body)] = received
    event = json.loads(body)
    assert event["payload"]["webhook_event_type"] == "meter.created"
    assert uuid.UUID(event["webhook_event_id"])
    assert headers["x-api-key"] == "k-1"
    assert verify(created["signing_secret"], headers["meterhub-signature"], body)


def test_the_test_route_sends_the_given_payload(
    call: Invoke, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    _, created = call("POST", "/v1.1/webhooks", request(url))
    payload = {"webhook_event_type": "connect_session.updated", "partner_reference": "ref-9", "status": "CREATED"}
    status, answer = call("POST", f"/v1.1/webhooks/{created['webhook_id']}/test", payload)
    assert status == 200 and answer["is_successful"] is True
    assert json.loads(received[0][1])["payload"] == payload


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
