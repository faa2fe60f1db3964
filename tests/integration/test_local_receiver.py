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
from meterhub.platform.events import envelope
from meterhub.webhooks.api_models import SIGNATURE_HEADER, TEST_HEADER
from meterhub.webhooks.rules.signing import signature_header
from meterhub.webhooks.use_cases.deliver import encode_event
from meterhub.webhooks.use_cases.samples import sample_payload
from meterhub_dev.local.receiver import make_handler

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


def post(url: str, signature: str, body: bytes = BODY, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback test server
        url, data=body, method="POST", headers={SIGNATURE_HEADER: signature, **(headers or {})}
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


def test_a_test_delivery_is_printed_as_a_test_and_a_real_one_as_an_event(receiver: tuple[str, io.StringIO]) -> None:
    # Given a test delivery as the test route sends it, and a real event
    url, out = receiver
    test = encode_event(envelope(sample_payload(), test=True))
    # When both are posted, signed
    assert post(url, sign(SECRET, test), test, {TEST_HEADER: "true"}) == 204
    assert post(url, sign(SECRET, BODY)) == 204
    # Then the receiver says which one is the test
    test_line, real_line = out.getvalue().splitlines()
    assert test_line.split()[:4] == ["meter.created", "signature", "OK", "TEST"]
    assert real_line.split()[:4] == ["meter.created", "signature", "OK", "EVENT"]


def test_a_test_marker_in_the_header_only_is_not_believed(receiver: tuple[str, io.StringIO]) -> None:
    # Given a real event whose (unsigned) header claims it is a test
    url, out = receiver
    # When it is posted
    assert post(url, sign(SECRET, BODY), BODY, {TEST_HEADER: "true"}) == 204
    # Then the signed body decides, and the disagreement is shown
    assert f"EVENT ({TEST_HEADER} header disagrees)" in out.getvalue()
