"""Work queues (SQS)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Protocol

from meterhub.dal import clients


class WorkQueue(Protocol):
    def send(self, message: dict[str, Any]) -> None: ...


class SqsWorkQueue:
    def __init__(self, queue_url: str) -> None:
        self._url = queue_url

    def send(self, message: dict[str, Any]) -> None:
        clients.sqs().send_message(QueueUrl=self._url, MessageBody=json.dumps(message, separators=(",", ":")))


class InMemoryWorkQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


@lru_cache(maxsize=4)
def sqs_work_queue(queue_url: str) -> SqsWorkQueue:
    return SqsWorkQueue(queue_url)
