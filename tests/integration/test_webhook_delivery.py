"""One delivery attempt against a real HTTP receiver on 127.0.0.1 (a threaded http.server)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from meterhub.platform.events import WebhookEventType, envelope
from meterhub.webhooks.adapters.http_delivery import http_client_post
from meterhub.webhooks.api_models import SIGNATURE_HEADER, TEST_HEADER
from meterhub.webhooks.ports import DeliveryResult, PostRequest
from meterhub.webhooks.records import Subscription, WebhookHeader
from meterhub.webhooks.rules.signing import verify
from meterhub.webhooks.use_cases import deliver as delivery
from meterhub.webhooks.use_cases.samples import sample_payload


def deliver(subscription: Subscription, event: Mapping[str, Any], **options: Any) -> DeliveryResult:
    """A delivery through the real poster (adapters.http_delivery): these tests talk to real sockets."""
    return delivery.deliver(subscription, event, http_client_post, **options)


SECRET = "whsec_delivery-test"


@dataclass
class Receiver:
    url: str
    status: int = 200
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            if 300 <= state.status < 400:
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks?source=meterhub"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def subscription(url: str, **changes: Any) -> Subscription:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "webhook_id": "w1",
        "partner_id": "p1",
        "event_types": [WebhookEventType.METER_CREATED],
        "receiver_url": url,
        "headers": [WebhookHeader(name="x-api-key", value="k-123")],
        "signing_secret": SECRET,
        "created_at": now,
        "updated_at": now,
    }
    return Subscription(**{**values, **changes})


def test_a_2xx_is_a_success_and_the_delivery_is_signed_with_the_partner_headers(receiver: Receiver) -> None:
    # Given a receiver answering 204
    receiver.status = 204
    event = envelope(sample_payload())
    # When an event is delivered
    result = deliver(subscription(receiver.url), event, stage="local")
    # Then it succeeded, with a status and a latency
    assert result.is_successful and result.status_code == 204 and result.error is None
    assert result.response_time_ms is not None and result.response_time_ms >= 0
    # And the receiver got the JSON envelope, the custom header and a signature the documented snippet accepts
    [(headers, body)] = receiver.received
    assert json.loads(body) == event
    assert headers["x-api-key"] == "k-123"
    assert headers["content-type"] == "application/json"
    assert headers["meterhub-event-id"] == event["webhook_event_id"]
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body)
    assert not verify("whsec_wrong", headers[SIGNATURE_HEADER.lower()], body)


def test_only_a_test_envelope_is_marked_as_a_test(receiver: Receiver) -> None:
    # Given a real event's envelope and a test envelope of the same payload
    real, test = envelope(sample_payload()), envelope(sample_payload(), test=True)
    # When both are delivered
    assert deliver(subscription(receiver.url), real, stage="local").is_successful
    assert deliver(subscription(receiver.url), test, stage="local").is_successful
    # Then only the test carries the header, and `"test": true` inside the body it signed
    [(real_headers, real_body), (test_headers, test_body)] = receiver.received
    assert TEST_HEADER.lower() not in real_headers and "test" not in json.loads(real_body)
    assert test_headers[TEST_HEADER.lower()] == "true" and json.loads(test_body)["test"] is True
    assert verify(SECRET, test_headers[SIGNATURE_HEADER.lower()], test_body)


def test_a_500_is_a_failure_with_its_status(receiver: Receiver) -> None:
    receiver.status = 500
    result = deliver(subscription(receiver.url), envelope(sample_payload()), stage="local")
    assert (result.is_successful, result.status_code, result.error) == (False, 500, None)


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.status = 302
    result = deliver(subscription(receiver.url), envelope(sample_payload()), stage="local")
    assert (result.is_successful, result.status_code) == (False, 302)
    assert len(receiver.received) == 1


def test_a_receiver_slower_than_the_timeout_fails_with_a_timeout(receiver: Receiver) -> None:
    receiver.delay = 1.0
    started = time.monotonic()
    result = deliver(subscription(receiver.url), envelope(sample_payload()), stage="local", timeout=0.2)
    assert not result.is_successful and result.status_code is None
    assert result.error is not None and "Timed out" in result.error
    assert time.monotonic() - started < 1.0


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout() -> None:
    # Given a receiver that sends its status line a byte every 50 ms (each read well inside the timeout) for 3 s
    server = socket.create_server(("127.0.0.1", 0))
    outcome: list[str] = []

    def trickle() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" * 2:
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    outcome.append("cut off")
                    return
                time.sleep(0.05)
            outcome.append("trickled to the end")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/hooks"
    # When a delivery with a 0.5 s timeout posts to it
    result = deliver(subscription(url), envelope(sample_payload()), stage="local", timeout=0.5)
    thread.join(timeout=10)
    server.close()
    # Then the post was abandoned at its deadline, not when the receiver chose to stop
    assert (result.is_successful, result.error) == (False, "Timed out after 0.5 s")
    assert outcome == ["cut off"]


def test_posts_share_one_deadline_thread_instead_of_starting_one_each(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one post made (so the deadline watchdog runs), and every thread start counted from now on
    assert deliver(subscription(receiver.url), envelope(sample_payload()), stage="local").is_successful
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    # When 20 more posts are made
    for _ in range(20):
        assert deliver(subscription(receiver.url), envelope(sample_payload()), stage="local").is_successful
    # Then the only threads started were the receiver's, one per request (a timer per post would show here)
    assert len(started) == 20
    assert all("process_request_thread" in name for name in started), started
    assert [t.name for t in threading.enumerate()].count("webhook-post-deadlines") == 1


def test_nothing_listening_is_a_connection_failure() -> None:
    result = deliver(subscription("http://127.0.0.1:9/hooks"), envelope(sample_payload()), stage="local")
    assert not result.is_successful and result.error is not None and result.error.startswith("Connection failed")


def test_the_url_is_checked_again_at_delivery_time_and_nothing_is_sent(receiver: Receiver) -> None:
    # Given a subscription whose host now resolves to the metadata service, delivered in a deployed stage
    posted: list[PostRequest] = []

    def post(request: PostRequest) -> int:
        posted.append(request)
        return 200

    sub = subscription("https://hooks.partner.example/in")
    result = delivery.deliver(
        sub, envelope(sample_payload()), post, stage="prod", resolve=lambda _h, _p: ["169.254.169.254"]
    )
    # Then it is refused before any connection
    assert not result.is_successful and result.error is not None and result.error.startswith("Refused")
    assert posted == []


def test_the_poster_connects_to_the_vetted_address_and_signs_with_the_injected_clock() -> None:
    posted: list[PostRequest] = []

    def post(request: PostRequest) -> int:
        posted.append(request)
        return 200

    sub = subscription("https://hooks.partner.example/in")
    result = delivery.deliver(
        sub, envelope(sample_payload()), post, lambda: 1_700_000_000, stage="prod", resolve=lambda _h, _p: ["8.8.8.8"]
    )
    assert result.is_successful
    [request] = posted
    assert request.address == "8.8.8.8" and request.timeout == 10.0
    assert request.headers[SIGNATURE_HEADER].startswith("t=1700000000,v1=")
    assert verify(SECRET, request.headers[SIGNATURE_HEADER], request.body, now=1_700_000_000)


def test_partner_headers_cannot_override_ours() -> None:
    posted: list[PostRequest] = []

    def post(request: PostRequest) -> int:
        posted.append(request)
        return 200

    sub = subscription("http://127.0.0.1:9/", headers=[WebhookHeader(name="Content-Type", value="text/plain")])
    delivery.deliver(sub, envelope(sample_payload()), post, stage="local")
    assert posted[0].headers["content-type"] == "application/json"
