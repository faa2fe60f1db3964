"""WorkQueue: InMemoryWorkQueue and SqsWorkQueue keep one contract.

The port only sends; what was sent is read back through `Sent`: on SQS by receiving (a delayed message is not
visible yet), on the fake from what it recorded (a message with a delay counts as not yet visible).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from meterhub.platform.adapters.sqs_work_queue import SqsWorkQueue
from meterhub.platform.work_queue import QueueSendError, WorkQueue

from tests.conftest import REGION, receive_all
from tests.fakes.queues import InMemoryWorkQueue


@dataclass
class Sent:
    queue: WorkQueue
    visible: Callable[[], list[Any]]
    """The messages a consumer could receive now (decoded), in no particular order."""


@pytest.fixture
def sent(implementation: str, env: dict[str, str]) -> Sent:
    if implementation == "fake":
        fake = InMemoryWorkQueue()
        return Sent(fake, lambda: [m for m, delay in zip(fake.messages, fake.delays, strict=True) if delay == 0])
    url = env["UTILITY_SYNC_QUEUE_URL"]
    sqs = boto3.client("sqs", region_name=REGION)
    return Sent(SqsWorkQueue(url), lambda: [json.loads(m["Body"]) for m in receive_all(sqs, url)])


def _key(message: Any) -> str:
    return json.dumps(message, sort_keys=True)


def test_a_sent_message_arrives_as_json(sent: Sent) -> None:
    sent.queue.send({"partner_id": "p-1", "ids": ("a", "b"), "n": 1, "nested": {"ok": True}})
    assert sent.visible() == [{"partner_id": "p-1", "ids": ["a", "b"], "n": 1, "nested": {"ok": True}}]


def test_a_change_to_a_message_after_sending_is_not_sent(sent: Sent) -> None:
    message: dict[str, Any] = {"ids": ["a"]}
    sent.queue.send(message)
    message["ids"].append("b")
    assert sent.visible() == [{"ids": ["a"]}]


def test_a_message_that_is_not_json_is_refused(sent: Sent) -> None:
    with pytest.raises(TypeError):
        sent.queue.send({"at": datetime(2025, 1, 1, tzinfo=UTC)})
    with pytest.raises(TypeError):
        sent.queue.send_all([({"n": 1}, 0), ({"at": datetime(2025, 1, 1, tzinfo=UTC)}, 0)])
    assert sent.visible() == []


def test_send_all_sends_every_message_and_delayed_ones_later(sent: Sent) -> None:
    messages = [({"n": n}, 0) for n in range(12)] + [({"n": "later"}, 900), ({"n": "soon"}, 5)]
    sent.queue.send_all(messages)
    sent.queue.send({"n": "delayed"}, delay_seconds=60)
    assert sorted(map(_key, sent.visible())) == sorted(_key({"n": n}) for n in range(12))


def test_send_all_of_nothing_sends_nothing(sent: Sent) -> None:
    sent.queue.send_all([])
    assert sent.visible() == []


def test_a_delay_longer_than_sqs_allows_is_refused(sent: Sent) -> None:
    with pytest.raises(ClientError) as raised:
        sent.queue.send({"n": 1}, delay_seconds=901)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(QueueSendError, match="1 of 2"):
        sent.queue.send_all([({"n": 2}, 0), ({"n": 3}, 901)])
    assert sent.visible() == [{"n": 2}]
