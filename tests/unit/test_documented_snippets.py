"""The verification snippets partners copy (README.md and docs/webhooks.md) verify our real signatures and tell
our test deliveries from real events.

A snippet that drifted from `meterhub.webhooks.rules.signing` would make every partner's receiver reject our
deliveries (or act on a test), so both copies are executed here exactly as written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from meterhub.platform.events import envelope
from meterhub.webhooks.rules.signing import signature_header
from meterhub.webhooks.use_cases.deliver import encode_event
from meterhub.webhooks.use_cases.samples import sample_payload

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_documented-snippet-test"


def _snippet(document: str, name: str = "verify") -> Callable[..., bool]:
    text = (ROOT / document).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    [code] = [block for block in blocks if "def verify(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(code, document, "exec"), namespace)  # noqa: S102 - our own documentation, under test
    function: Callable[..., bool] = namespace[name]
    return function


@pytest.mark.parametrize("document", ["README.md", "docs/webhooks.md"])
def test_the_documented_snippet_accepts_our_signature_and_refuses_tampering(document: str) -> None:
    verify = _snippet(document)
    body = b'{"webhook_event_id":"e1","payload":{"webhook_event_type":"meter.created"}}'
    header = signature_header(SECRET, body, int(time.time()))
    assert verify(SECRET, header, body)
    assert not verify(SECRET, header, body.replace(b"e1", b"e2"))  # tampered body
    assert not verify("whsec_other", header, body)  # another subscription's secret
    stale = signature_header(SECRET, body, int(time.time()) - 3600)
    assert not verify(SECRET, stale, body)  # a replay an hour later


@pytest.mark.parametrize("document", ["README.md", "docs/webhooks.md"])
def test_the_documented_snippet_tells_a_test_delivery_from_a_real_event(document: str) -> None:
    is_test = _snippet(document, "is_test")
    # The bodies as a delivery encodes them: a test delivery's and a real event's of the same payload
    assert is_test(encode_event(envelope(sample_payload(), test=True))) is True
    assert is_test(encode_event(envelope(sample_payload()))) is False
    assert is_test(b"[]") is False  # not an envelope at all
