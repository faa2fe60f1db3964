"""The samples test deliveries carry: one per published type, obviously not real, and the ones documented."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from meterhub.platform.events import WebhookEventType
from meterhub.webhooks.use_cases.dispatch import Payload
from meterhub.webhooks.use_cases.samples import SAMPLE_REFERENCE, sample_payload

pytestmark = pytest.mark.usefixtures("no_network")

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = sorted(WebhookEventType)


def _values(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, leaf value) of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                yield from _values(item)
            else:
                yield key, item
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)


@pytest.mark.parametrize("event_type", PUBLISHED)
def test_every_published_type_has_a_sample_of_that_type(event_type: WebhookEventType) -> None:
    payload = sample_payload(event_type)
    assert Payload.model_validate(payload).webhook_event_type is event_type  # what the dispatcher accepts
    assert len(payload) > 1  # more than the type: the fields of the real event


@pytest.mark.parametrize("event_type", PUBLISHED)
def test_a_samples_ids_and_references_are_obviously_not_real(event_type: WebhookEventType) -> None:
    for key, value in _values(sample_payload(event_type)):
        if key == "market_group_id":  # derived from the group's name, which names the sample zone
            assert "SAMPLE-ZONE" in sample_payload(event_type)["market_group_name"]
        elif key.endswith("_id"):
            assert str(uuid.UUID(value)).startswith("00000000-0000-0000-0000-00000000000"), (key, value)
        if key == "partner_reference":
            assert value == SAMPLE_REFERENCE
        if key in {"file_name", "file_path"}:
            assert value.endswith("sample.csv")


def test_the_market_group_sample_is_the_snapshot_of_a_group_of_the_sample_meter() -> None:
    sample = sample_payload(WebhookEventType.ENROLLMENT_GROUP_UPDATED)
    assert sample["meter_ids"] == ["00000000-0000-0000-0000-000000000001"]
    assert sample["market_group_name"] == "ERCOT-ERS_ONCOR_SAMPLE-ZONE"
    assert set(sample) == {
        "webhook_event_type",
        "market_group_id",
        "market_group_name",
        "start_date_time",
        "end_date_time",
        "meter_ids",
        "meter_ids_part",
        "meter_ids_parts",
    }
    assert (sample["meter_ids_part"], sample["meter_ids_parts"]) == (1, 1)


def test_a_sample_handed_out_is_a_copy() -> None:
    sample_payload()["meter_id"] = "changed by a caller"
    assert sample_payload()["meter_id"] == "00000000-0000-0000-0000-000000000001"


def test_docs_list_exactly_our_samples() -> None:
    # Given the sample table of docs/webhooks.md ("Test deliveries")
    text = (ROOT / "docs/webhooks.md").read_text(encoding="utf-8")
    section = text.split("## Test deliveries", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_.-]+)` \| `(\{.*\})` \|$", section, flags=re.MULTILINE)
    # Then every published type is there once, with the sample a test delivery carries
    documented = {event_type: json.loads(payload) for event_type, payload in rows}
    assert len(rows) == len(documented)
    assert documented == {event_type.value: sample_payload(event_type) for event_type in PUBLISHED}
    # And the documented test delivery body is the default sample, marked as a test
    [body] = re.findall(r'^\{"webhook_event_id":"<a new uuid each time>",.*\}$', section, flags=re.MULTILINE)
    event = json.loads(body)
    assert event == {"webhook_event_id": event["webhook_event_id"], "test": True, "payload": sample_payload()}
