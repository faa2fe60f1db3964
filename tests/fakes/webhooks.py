"""In-memory subscription repository and delivery log.

Why they exist: the webhook use cases (the subscription API, the dispatcher's fan-out, delivery attempts
with their leases, redelivery, the delivery listing) are unit tested and benchmarked without moto.
tests/integration/parity/test_webhooks_port.py holds them to DynamoWebhookRepository's and
DynamoDeliveryLog's contract: a webhook id created once (AlreadyExists); listings in webhook-id order;
`replace` keeps the secret and creation time and, like `delete`, is False for a missing webhook; an entry
started once; a claim taken only over the expected (round, attempts) and an expired lease (a lease holds
through its last instant), carrying the entry as it stands (None: no entry); `save` only over the expected
state, releasing the lease; the batch forms answering per entry; entries newest first by the adapter's own
`sort_key`, so page tokens are the same strings; everything keyed by partner; records are copies.

What they deliberately do not model: the `expires_at_epoch` TTL of ended entries (DynamoDB deletes them
lazily, days later; no use case reads it), TransactWriteItems' limits and the entry-by-entry retry of a
cancelled transaction (the outcome per entry is the same), the GSI's eventual consistency, and throttling.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from meterhub.platform.errors import AlreadyExists
from meterhub.webhooks.adapters.deliveries import sort_key
from meterhub.webhooks.adapters.subscriptions import _SECRET
from meterhub.webhooks.ports import Claim
from meterhub.webhooks.records import DeliveryRecord, Subscription


class InMemoryWebhookRepository:
    """Subscriptions by (partner, webhook id)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Subscription] = {}

    def create(self, subscription: Subscription) -> None:
        k = (subscription.partner_id, subscription.webhook_id)
        if k in self.items:
            raise AlreadyExists("Webhook already exists")
        self.items[k] = subscription.model_copy(deep=True)

    def get(self, partner_id: str, webhook_id: str) -> Subscription | None:
        subscription = self.items.get((partner_id, webhook_id))
        return subscription.model_copy(deep=True) if subscription else None

    def for_partner(self, partner_id: str) -> list[Subscription]:
        return [s.model_copy(deep=True) for (pid, _), s in sorted(self.items.items()) if pid == partner_id]

    def replace(self, subscription: Subscription) -> bool:
        current = self.items.get((subscription.partner_id, subscription.webhook_id))
        if current is None:
            return False
        self.items[(subscription.partner_id, subscription.webhook_id)] = subscription.model_copy(
            update={"created_at": current.created_at, _SECRET: current.signing_secret}, deep=True
        )
        return True

    def delete(self, partner_id: str, webhook_id: str) -> bool:
        return self.items.pop((partner_id, webhook_id), None) is not None


class InMemoryDeliveryLog:
    """Entries and their leases (epoch seconds) by (partner, webhook id, event id)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], DeliveryRecord] = {}
        self.leases: dict[tuple[str, str, str], float] = {}

    @staticmethod
    def _k(record: DeliveryRecord) -> tuple[str, str, str]:
        return (record.partner_id, record.webhook_id, record.webhook_event_id)

    def start(self, record: DeliveryRecord) -> bool:
        if self._k(record) in self.items:
            return False
        self.items[self._k(record)] = record.model_copy(deep=True)
        return True

    def start_all(self, records: Sequence[DeliveryRecord], lease_until: float | None = None) -> list[bool]:
        started = [self.start(record) for record in records]
        if lease_until is not None:
            for record, is_new in zip(records, started, strict=True):
                if is_new:
                    self.leases[self._k(record)] = lease_until
        return started

    def get(self, partner_id: str, webhook_id: str, webhook_event_id: str) -> DeliveryRecord | None:
        record = self.items.get((partner_id, webhook_id, webhook_event_id))
        return record.model_copy(deep=True) if record else None

    def _at(self, record: DeliveryRecord, expected_round: int, expected_count: int) -> bool:
        current = self.items.get(self._k(record))
        return current is not None and (current.round, current.attempt_count) == (expected_round, expected_count)

    def claim(
        self,
        partner_id: str,
        webhook_id: str,
        webhook_event_id: str,
        expected: tuple[int, int],
        now: float,
        lease_until: float,
    ) -> Claim:
        k = (partner_id, webhook_id, webhook_event_id)
        current = self.get(*k)
        if current is None or (current.round, current.attempt_count) != expected:
            return Claim(current, taken=False)
        if self.leases.get(k, float("-inf")) >= now:
            return Claim(current, taken=False)
        self.leases[k] = lease_until
        return Claim(current, taken=True)

    def save(self, record: DeliveryRecord, expected_round: int, expected_count: int) -> bool:
        if not self._at(record, expected_round, expected_count):
            return False
        self.items[self._k(record)] = record.model_copy(deep=True)
        self.leases.pop(self._k(record), None)
        return True

    def save_all(self, changes: Sequence[tuple[DeliveryRecord, int, int]]) -> list[bool]:
        return [self.save(*change) for change in changes]

    def newest_first(
        self, partner_id: str, webhook_id: str, before: str | None = None
    ) -> Iterator[tuple[str, DeliveryRecord]]:
        mine = [(sort_key(r), r) for (pid, wid, _), r in self.items.items() if (pid, wid) == (partner_id, webhook_id)]
        for sk, record in sorted(mine, key=lambda pair: pair[0], reverse=True):
            if before is None or sk < before:
                yield sk, record.model_copy(deep=True)
