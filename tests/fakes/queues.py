"""In-memory work queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


class InMemoryWorkQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.delays: list[int] = []  # delay_seconds of each message, in step with `messages`

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self.messages.append(message)
        self.delays.append(delay_seconds)

    def send_all(self, messages: Sequence[tuple[dict[str, Any], int]]) -> None:
        for message, delay_seconds in messages:
            self.send(message, delay_seconds)
