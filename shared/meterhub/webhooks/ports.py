"""The webhooks feature's ports: subscriptions, the delivery log, and the HTTP poster a delivery goes through."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from meterhub.webhooks.records import DeliveryRecord, Subscription


class WebhookRepository(Protocol):
    def create(self, subscription: Subscription) -> None: ...

    def get(self, partner_id: str, webhook_id: str) -> Subscription | None: ...

    def for_partner(self, partner_id: str) -> list[Subscription]:
        """The partner's subscriptions in webhook_id order."""

    def replace(self, subscription: Subscription) -> bool:
        """Overwrite every setting but the secret and created_at; False when there is no such webhook."""

    def delete(self, partner_id: str, webhook_id: str) -> bool:
        """False when there was no such webhook."""


class Claim(NamedTuple):
    record: DeliveryRecord | None
    taken: bool


class DeliveryLog(Protocol):
    def start(self, record: DeliveryRecord) -> bool:
        """Create the entry; False (and nothing written) when the event already has one for this webhook."""

    def start_all(self, records: Sequence[DeliveryRecord], lease_until: float | None = None) -> list[bool]:
        """`start` for each record, in few requests; with `lease_until`, each new entry is created holding the
        lease of its first attempt (claimed, as by `claim`)."""

    def get(self, partner_id: str, webhook_id: str, webhook_event_id: str) -> DeliveryRecord | None: ...

    def claim(
        self,
        partner_id: str,
        webhook_id: str,
        webhook_event_id: str,
        expected: tuple[int, int],
        now: float,
        lease_until: float,
    ) -> Claim:
        """Take the lease for the attempt after `expected` (round, attempts recorded) in one request. The claim
        carries the entry as it stands (None: no entry) and whether the lease was taken: not when the entry's
        state moved on or another worker holds an unexpired lease."""

    def save(self, record: DeliveryRecord, expected_round: int, expected_count: int) -> bool:
        """Overwrite the entry (releasing any lease) iff it is still at (expected_round, expected_count)."""

    def save_all(self, changes: Sequence[tuple[DeliveryRecord, int, int]]) -> list[bool]:
        """`save` for each (record, expected_round, expected_count), in few requests."""

    def newest_first(
        self, partner_id: str, webhook_id: str, before: str | None = None
    ) -> Iterator[tuple[str, DeliveryRecord]]:
        """The webhook's entries, newest first, as (sort key, record); `before` resumes after a sort key."""


@dataclass(frozen=True)
class PostRequest:
    url: str
    address: str | None  # the vetted IP to connect to; None lets the poster resolve the host itself
    headers: Mapping[str, str]
    body: bytes
    timeout: float


class HttpPost(Protocol):
    def __call__(self, request: PostRequest) -> int:
        """Send the request; return the HTTP status. Raise OSError (incl. timeouts) when no answer came."""


@dataclass(frozen=True)
class DeliveryResult:
    is_successful: bool
    status_code: int | None = None
    response_time_ms: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "is_successful": self.is_successful,
            "status_code": self.status_code,
            "response_time_ms": self.response_time_ms,
            "error": self.error,
        }
