"""Work queues (SQS)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Protocol

from meterhub.dal import clients


class WorkQueue(Protocol):
    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        """Queue `message`; it becomes visible after `delay_seconds` (SQS allows 0..900)."""


class SqsWorkQueue:
    def __init__(self, queue_url: str) -> None:
        self._url = queue_url

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        body = json.dumps(message, separators=(",", ":"))
        if delay_seconds:
            clients.sqs().send_message(QueueUrl=self._url, MessageBody=body, DelaySeconds=delay_seconds)
        else:
            clients.sqs().send_message(QueueUrl=self._url, MessageBody=body)


class InMemoryWorkQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.delays: list[int] = []  # delay_seconds of each message, in step with `messages`

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self.messages.append(message)
        self.delays.append(delay_seconds)


@lru_cache(maxsize=4)
def sqs_work_queue(queue_url: str) -> SqsWorkQueue:
    return SqsWorkQueue(queue_url)
