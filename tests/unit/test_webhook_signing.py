"""Delivery signatures and Leap's retry schedule."""

from __future__ import annotations

import hashlib
import hmac

from meterhub.webhooks.rules.schedule import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, attempt_offsets, delay_before_attempt
from meterhub.webhooks.rules.signing import SECRET_PREFIX, new_secret, signature_header, verify

SECRET = "whsec_test-secret"
BODY = b'{"webhook_event_id":"e1","payload":{"webhook_event_type":"meter.created"}}'
NOW = 1_750_000_000


def test_header_is_t_and_hex_hmac_of_timestamp_dot_body() -> None:
    header = signature_header(SECRET, BODY, NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_a_good_signature_verifies_as_bytes_or_text() -> None:
    header = signature_header(SECRET, BODY, NOW)
    assert verify(SECRET, header, BODY, now=NOW + 10)
    assert verify(SECRET, header, BODY.decode(), now=NOW - 10)


def test_a_tampered_body_fails() -> None:
    header = signature_header(SECRET, BODY, NOW)
    assert not verify(SECRET, header, BODY.replace(b"meter.created", b"meter.deleted"), now=NOW)


def test_an_old_or_future_timestamp_fails_outside_the_tolerance() -> None:
    header = signature_header(SECRET, BODY, NOW)
    assert not verify(SECRET, header, BODY, now=NOW + 301)
    assert not verify(SECRET, header, BODY, now=NOW - 301)
    assert verify(SECRET, header, BODY, tolerance_seconds=600, now=NOW + 301)


def test_a_wrong_secret_fails() -> None:
    header = signature_header(SECRET, BODY, NOW)
    assert not verify("whsec_other", header, BODY, now=NOW)


def test_a_replayed_signature_with_a_new_timestamp_fails() -> None:
    signature = signature_header(SECRET, BODY, NOW).split(",")[1]
    assert not verify(SECRET, f"t={NOW + 1000},{signature}", BODY, now=NOW + 1000)


def test_malformed_headers_fail() -> None:
    for header in ("", "garbage", f"t={NOW}", "v1=abc", f"t=x,v1={'0' * 64}"):
        assert not verify(SECRET, header, BODY, now=NOW)


def test_any_of_several_v1_entries_may_match() -> None:
    good = signature_header(SECRET, BODY, NOW).split(",")[1]
    assert verify(SECRET, f"t={NOW},v1={'0' * 64},{good}", BODY, now=NOW)


def test_secrets_are_prefixed_and_unique() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith(SECRET_PREFIX) and len(s) > 40 for s in secrets)


def test_retry_schedule_is_leaps_ten_attempts_over_eight_hours() -> None:
    assert MAX_ATTEMPTS == 10
    assert RETRY_DELAYS_SECONDS == (0, 60, 120, 240, 480, 960, 1740, 3600, 7200, 14400)
    minutes = [offset // 60 for offset in attempt_offsets()]
    assert minutes == [0, 1, 3, 7, 15, 31, 60, 120, 240, 480]
    assert delay_before_attempt(1) == 0
    assert delay_before_attempt(10) == 14400
    assert delay_before_attempt(11) is None
    assert delay_before_attempt(0) is None
