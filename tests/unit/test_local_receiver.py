"""The development webhook receiver: verifies signatures and answers so the dispatcher can tell."""

from __future__ import annotations

import io
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from meterhub.local.receiver import make_handler
from meterhub.webhooks.signing import SIGNATURE_HEADER, signature_header

SECRET = "whsec_test-secret"
BODY = b'{"webhook_event_id":"e1","payload":{"webhook_event_type":"meter.created","meter_id":"m1"}}'


@pytest.fixture
def receiver() -> Iterator[tuple[str, io.StringIO]]:
    out = io.StringIO()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(SECRET, out))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", out
    server.shutdown()
    server.server_close()


def sign(secret: str, body: bytes) -> str:
    return signature_header(secret, body, int(time.time()))


def post(url: str, signature: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        url, data=BODY, method="POST", headers={SIGNATURE_HEADER: signature}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback test server
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_correctly_signed_delivery_is_accepted_and_printed(receiver: tuple[str, io.StringIO]) -> None:
    # Given a delivery signed with the subscription's secret
    url, out = receiver
    # When it is posted
    status = post(url, sign(SECRET, BODY))
    # Then the receiver answers 204 and prints the event with a good verdict
    assert status == 204
    assert "meter.created" in out.getvalue() and "signature OK" in out.getvalue()


def test_a_badly_signed_delivery_is_refused(receiver: tuple[str, io.StringIO]) -> None:
    # Given a delivery signed with another secret
    url, out = receiver
    # When it is posted
    status = post(url, sign("whsec_other", BODY))
    # Then the receiver answers 401 and says why
    assert status == 401
    assert "BAD SIGNATURE" in out.getvalue()
