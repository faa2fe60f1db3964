"""The client's webhook verification (meterhub_client.signatures, written without meterhub) against the server's
signer (meterhub.webhooks.rules.signing): what the server signs, the client accepts, and nothing else."""

from __future__ import annotations

import json

import pytest
from meterhub.platform import events
from meterhub.webhooks import api_models
from meterhub.webhooks.rules.signing import new_secret, signature_header
from meterhub_client import is_test_delivery, verify_signature
from meterhub_client import signatures as client_signatures

BODY = b'{"webhook_event_id":"e1","payload":{"webhook_event_type":"meter.created"}}'
NOW = 1_750_000_000


def test_the_client_names_the_headers_and_field_the_server_uses() -> None:
    assert client_signatures.SIGNATURE_HEADER == api_models.SIGNATURE_HEADER
    assert client_signatures.TEST_HEADER == api_models.TEST_HEADER
    assert client_signatures.TEST_FIELD == events.TEST_FIELD


@pytest.mark.parametrize("body", [BODY, '{"é": "ü"}'.encode(), b""])
def test_what_the_server_signs_the_client_verifies(body: bytes) -> None:
    secret = new_secret()
    header = signature_header(secret, body, NOW)
    assert verify_signature(secret, header, body, now=NOW + 299)
    assert verify_signature(secret, header, body.decode(), now=NOW - 299)


def test_a_changed_body_another_secret_or_an_old_timestamp_is_refused() -> None:
    secret = new_secret()
    header = signature_header(secret, BODY, NOW)
    assert not verify_signature(secret, header, BODY + b" ", now=NOW)
    assert not verify_signature(new_secret(), header, BODY, now=NOW)
    assert not verify_signature(secret, header, BODY, now=NOW + 301)
    assert verify_signature(secret, header, BODY, now=NOW + 301, tolerance_seconds=600)


def test_any_of_several_v1_entries_may_match_and_malformed_headers_fail() -> None:
    secret = new_secret()
    good = signature_header(secret, BODY, NOW).split(",")[1]
    assert verify_signature(secret, f"t={NOW},v1={'0' * 64},{good}", BODY, now=NOW)
    for header in ("", "garbage", f"t={NOW}", good, f"t=x,{good}"):
        assert not verify_signature(secret, header, BODY, now=NOW)


def test_a_test_delivery_is_told_by_its_signed_body() -> None:
    assert is_test_delivery(json.dumps({events.TEST_FIELD: True, "payload": {}}))
    assert not is_test_delivery(BODY)
    assert not is_test_delivery(b"not json")
    assert not is_test_delivery(b'[{"test": true}]')
