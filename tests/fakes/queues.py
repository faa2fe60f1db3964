"""In-memory work queue.

Why it exists: the use cases that hand work on (job submission and continuations, the webhook dispatcher's
delivery tasks, the utility sync fan-out) are unit tested and benchmarked without moto; tests read what was
queued from `messages` and `delays`. tests/integration/parity/test_work_queue_port.py holds it to
SqsWorkQueue's contract: a message travels as JSON (what is recorded is what a consumer would decode: tuples
become lists, a later change to the caller's dict is not seen, and a message JSON cannot carry is a TypeError
before anything is sent, for `send_all` too); a delay outside SQS's 0..900 seconds is refused, by `send` with
SQS's InvalidParameterValue error and by `send_all` with QueueSendError after the other messages went.

What it deliberately does not model: delivery itself (visibility, receive counts, redrive to a dead-letter
queue, SQS's at-least-once duplicates and loose ordering: `messages` is in send order), the batching into
SendMessageBatch requests (one `send_all` of a single message refused by SQS raises ClientError there, not
QueueSendError), and the 256 KiB message limit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError
from meterhub.platform.work_queue import QueueSendError

MAX_DELAY_SECONDS = 900


def _refused(delay_seconds: int) -> ClientError:
    message = f"Value {delay_seconds} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900."
    return ClientError({"Error": {"Code": "InvalidParameterValue", "Message": message}}, "SendMessage")


class InMemoryWorkQueue:
    """What was queued, in send order: each message as a consumer would decode it, and its delay."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.delays: list[int] = []  # delay_seconds of each message, in step with `messages`

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        body = json.dumps(message)
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise _refused(delay_seconds)
        self.messages.append(json.loads(body))
        self.delays.append(delay_seconds)

    def send_all(self, messages: Sequence[tuple[dict[str, Any], int]]) -> None:
        """Each message through `send` (a test's subclass sees every one), once all of them are JSON."""
        for message, _ in messages:
            json.dumps(message)
        refused = 0
        for message, delay_seconds in messages:
            try:
                self.send(message, delay_seconds)
            except ClientError:
                refused += 1
        if refused:
            raise QueueSendError(f"{refused} of {len(messages)} messages were not queued (InvalidParameterValue)")
