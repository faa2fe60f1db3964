"""The work-queue port: messages to a queue in batches, and the error that names the entries SQS refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class QueueSendError(Exception):
    """Some messages of a batch were not queued (the others were): the caller should fail, to be retried."""


class WorkQueue(Protocol):
    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        """Queue `message`; it becomes visible after `delay_seconds` (SQS allows 0..900)."""

    def send_all(self, messages: Sequence[tuple[dict[str, Any], int]]) -> None:
        """`send` each (message, delay_seconds) in as few requests as the queue takes; raises QueueSendError
        when any was not queued."""
