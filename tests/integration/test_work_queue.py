"""The SQS work queue's batched send on moto: order, delays, batching by count and by size, and a partial
failure (which moto cannot produce: botocore's Stubber stands in for SQS answering one entry Failed)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from meterhub.platform.adapters import clients
from meterhub.platform.adapters.sqs_work_queue import BATCH_BYTES, sqs_work_queue
from meterhub.platform.work_queue import QueueSendError

from tests.conftest import REGION, function_environment, receive_all


def _calls(operation: str) -> list[int]:
    """Counts each call of `operation` the shared SQS client makes (a one-element list, read after)."""
    count = [0]

    def seen(**_: Any) -> None:
        count[0] += 1

    clients.sqs().meta.events.register(f"before-call.sqs.{operation}", seen)
    return count


def test_send_all_queues_every_message_in_batches_of_ten_with_its_delay(aws: Any) -> None:
    url = function_environment()["WEBHOOK_EVENTS_QUEUE_URL"]
    batches, singles = _calls("SendMessageBatch"), _calls("SendMessage")
    sqs_work_queue(url).send_all([({"n": n}, 0) for n in range(21)] + [({"n": "later"}, 900)])
    # 22 messages: two full batches of ten, then one batch of the last two (the delayed one is in flight later)
    assert (batches[0], singles[0]) == (3, 0)
    visible = receive_all(boto3.client("sqs", region_name=REGION), url)
    assert sorted(json.loads(m["Body"])["n"] for m in visible) == list(range(21))


def test_send_all_splits_a_batch_before_it_outgrows_sqs_size_limit(aws: Any) -> None:
    url = function_environment()["WEBHOOK_EVENTS_QUEUE_URL"]
    batches, singles = _calls("SendMessageBatch"), _calls("SendMessage")
    large = "x" * (BATCH_BYTES // 3)
    sqs_work_queue(url).send_all([({"n": n, "pad": large}, 0) for n in range(4)])
    # Each message is a third of the budget, so no batch holds more than two
    assert (batches[0], singles[0]) == (2, 0)
    assert len(receive_all(boto3.client("sqs", region_name=REGION), url)) == 4


def test_send_all_raises_when_sqs_refuses_part_of_a_batch(aws: Any) -> None:
    url = function_environment()["WEBHOOK_EVENTS_QUEUE_URL"]
    with Stubber(clients.sqs()) as stub:
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [{"Id": "0", "MessageId": "m-0", "MD5OfMessageBody": "x"}],
                "Failed": [{"Id": "1", "SenderFault": False, "Code": "InternalError"}],
            },
        )
        with pytest.raises(QueueSendError, match=r"1 of 2 messages were not queued \(InternalError\)"):
            sqs_work_queue(url).send_all([({"n": 0}, 0), ({"n": 1}, 0)])
