"""WebhookRepository and DeliveryLog: the in-memory fakes and the DynamoDB adapters keep one contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from meterhub.platform.errors import AlreadyExists
from meterhub.platform.events import WebhookEventType
from meterhub.webhooks.adapters.deliveries import DynamoDeliveryLog
from meterhub.webhooks.adapters.subscriptions import DynamoWebhookRepository
from meterhub.webhooks.ports import Claim, DeliveryLog, WebhookRepository
from meterhub.webhooks.records import DeliveryAttempt, DeliveryRecord, DeliveryStatus, Subscription, WebhookHeader

from tests.fakes.webhooks import InMemoryDeliveryLog, InMemoryWebhookRepository

T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
EVENT_TYPE = next(iter(WebhookEventType))


@pytest.fixture
def subscriptions(implementation: str, env: dict[str, str]) -> WebhookRepository:
    if implementation == "fake":
        return InMemoryWebhookRepository()
    return DynamoWebhookRepository(env["WEBHOOKS_TABLE_NAME"])


@pytest.fixture
def log(implementation: str, env: dict[str, str]) -> DeliveryLog:
    if implementation == "fake":
        return InMemoryDeliveryLog()
    return DynamoDeliveryLog(env["WEBHOOKS_TABLE_NAME"])


# ----- subscriptions -------------------------------------------------------------------------------------------
def _subscription(partner_id: str, webhook_id: str | None = None) -> Subscription:
    return Subscription(
        webhook_id=webhook_id or str(uuid.uuid4()),
        partner_id=partner_id,
        event_types=[EVENT_TYPE],
        receiver_url="https://receiver.example/hooks",
        headers=[WebhookHeader(name="X-Token", value="abc")],
        signing_secret="whsec_" + uuid.uuid4().hex,
        created_at=T0,
        updated_at=T0,
    )


def test_a_subscription_is_created_once_and_read_back_with_its_secret(
    subscriptions: WebhookRepository, partner_ids: tuple[str, str]
) -> None:
    subscription = _subscription(partner_ids[0])
    subscriptions.create(subscription)
    assert subscriptions.get(subscription.partner_id, subscription.webhook_id) == subscription
    with pytest.raises(AlreadyExists):
        subscriptions.create(subscription.model_copy(update={"receiver_url": "https://other.example/"}))
    assert subscriptions.get(subscription.partner_id, subscription.webhook_id) == subscription
    assert subscriptions.get(subscription.partner_id, str(uuid.uuid4())) is None


def test_for_partner_lists_in_webhook_id_order(subscriptions: WebhookRepository, partner_ids: tuple[str, str]) -> None:
    mine = [_subscription(partner_ids[0], webhook_id) for webhook_id in ("w-b", "w-c", "w-a")]
    for subscription in mine:
        subscriptions.create(subscription)
    subscriptions.create(_subscription(partner_ids[1], "w-0"))
    assert subscriptions.for_partner(partner_ids[0]) == sorted(mine, key=lambda s: s.webhook_id)


def test_replace_keeps_the_secret_and_creation_time(
    subscriptions: WebhookRepository, partner_ids: tuple[str, str]
) -> None:
    subscription = _subscription(partner_ids[0])
    subscriptions.create(subscription)
    changed = subscription.model_copy(
        update={
            "receiver_url": "https://new.example/hooks",
            "headers": [],
            "signing_secret": "whsec_ignored",
            "created_at": T0 + timedelta(days=9),
            "updated_at": T0 + timedelta(days=1),
        }
    )
    assert subscriptions.replace(changed) is True
    assert subscriptions.get(subscription.partner_id, subscription.webhook_id) == changed.model_copy(
        update={"signing_secret": subscription.signing_secret, "created_at": T0}
    )


def test_replace_and_delete_of_a_missing_subscription_are_false(
    subscriptions: WebhookRepository, partner_ids: tuple[str, str]
) -> None:
    subscription = _subscription(partner_ids[0])
    assert subscriptions.replace(subscription) is False
    assert subscriptions.get(subscription.partner_id, subscription.webhook_id) is None
    subscriptions.create(subscription)
    assert subscriptions.delete(subscription.partner_id, subscription.webhook_id) is True
    assert subscriptions.delete(subscription.partner_id, subscription.webhook_id) is False
    assert subscriptions.get(subscription.partner_id, subscription.webhook_id) is None


def test_a_partner_reaches_none_of_another_partners_subscriptions(
    subscriptions: WebhookRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    subscription = _subscription(mine)
    subscriptions.create(subscription)
    forged = subscription.model_copy(update={"partner_id": theirs})
    assert subscriptions.get(theirs, subscription.webhook_id) is None
    assert subscriptions.for_partner(theirs) == []
    assert subscriptions.replace(forged) is False
    assert subscriptions.delete(theirs, subscription.webhook_id) is False
    assert subscriptions.get(mine, subscription.webhook_id) == subscription


def test_a_subscription_read_back_is_a_copy(subscriptions: WebhookRepository, partner_ids: tuple[str, str]) -> None:
    subscription = _subscription(partner_ids[0])
    subscriptions.create(subscription)
    expected = subscription.model_copy(deep=True)
    subscription.event_types.clear()
    read = subscriptions.get(subscription.partner_id, subscription.webhook_id)
    assert read is not None
    read.headers.clear()
    assert subscriptions.get(subscription.partner_id, subscription.webhook_id) == expected
    assert subscriptions.for_partner(subscription.partner_id) == [expected]


# ----- delivery log --------------------------------------------------------------------------------------------
def _delivery(partner_id: str, webhook_id: str = "w-1", minutes: int = 0) -> DeliveryRecord:
    at = T0 + timedelta(minutes=minutes)
    return DeliveryRecord(
        partner_id=partner_id,
        webhook_id=webhook_id,
        webhook_event_id=str(uuid.uuid4()),
        webhook_event_type=EVENT_TYPE.value,
        event={"id": "e", "data": {"n": minutes}},
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )


def _attempted(record: DeliveryRecord, status: DeliveryStatus = DeliveryStatus.PENDING) -> DeliveryRecord:
    n = record.attempt_count + 1
    at = record.updated_at + timedelta(minutes=1)
    attempt = DeliveryAttempt(n=n, round=record.round, at=at, status_code=500)
    return record.model_copy(
        update={"attempt_count": n, "attempts": [*record.attempts, attempt], "status": status, "updated_at": at}
    )


def _ids(record: DeliveryRecord) -> tuple[str, str, str]:
    return record.partner_id, record.webhook_id, record.webhook_event_id


def test_an_entry_is_started_once(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    record = _delivery(partner_ids[0])
    assert log.start(record) is True
    assert log.start(record.model_copy(update={"event": {"other": True}})) is False
    assert log.get(*_ids(record)) == record
    assert log.get(record.partner_id, record.webhook_id, str(uuid.uuid4())) is None


def test_start_all_reports_each_entry_on_its_own(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    existing = _delivery(partner_ids[0], "w-1")
    log.start(existing)
    fresh = [_delivery(partner_ids[0], f"w-{n}") for n in (2, 3)]
    assert log.start_all([fresh[0], existing.model_copy(update={"event": {}}), fresh[1]]) == [True, False, True]
    assert [log.get(*_ids(record)) for record in (existing, *fresh)] == [existing, *fresh]


def test_a_claim_takes_the_lease_over_the_expected_state_only(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    record = _delivery(partner_ids[0])
    log.start(record)
    assert log.claim(*_ids(record), expected=(1, 1), now=100.0, lease_until=160.0) == Claim(record, taken=False)
    assert log.claim(*_ids(record), expected=(1, 0), now=100.0, lease_until=160.0) == Claim(record, taken=True)
    held = log.claim(*_ids(record), expected=(1, 0), now=160.0, lease_until=220.0)
    assert held == Claim(record, taken=False)  # a lease holds through its last instant
    assert log.claim(*_ids(record), expected=(1, 0), now=160.5, lease_until=220.0) == Claim(record, taken=True)


def test_a_claim_on_a_missing_entry_carries_none(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    assert log.claim(partner_ids[0], "w-1", str(uuid.uuid4()), expected=(1, 0), now=1.0, lease_until=2.0) == Claim(
        None, taken=False
    )


def test_start_all_with_a_lease_starts_entries_claimed(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    record = _delivery(partner_ids[0])
    assert log.start_all([record], lease_until=50.0) == [True]
    assert log.claim(*_ids(record), expected=(1, 0), now=49.0, lease_until=99.0).taken is False
    assert log.claim(*_ids(record), expected=(1, 0), now=51.0, lease_until=99.0).taken is True


def test_save_writes_over_the_expected_state_and_releases_the_lease(
    log: DeliveryLog, partner_ids: tuple[str, str]
) -> None:
    record = _delivery(partner_ids[0])
    log.start_all([record], lease_until=1_000.0)
    first = _attempted(record)
    assert log.save(first, 1, 0) is True
    assert log.get(*_ids(record)) == first
    assert log.save(_attempted(record), 1, 0) is False  # a redelivered task recording attempt 1 again
    assert log.get(*_ids(record)) == first
    assert log.claim(*_ids(record), expected=(1, 1), now=10.0, lease_until=70.0) == Claim(first, taken=True)


def test_save_of_a_missing_entry_is_false(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    record = _delivery(partner_ids[0])
    assert log.save(_attempted(record), 1, 0) is False
    assert log.get(*_ids(record)) is None


def test_save_all_reports_each_change_on_its_own(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    records = [_delivery(partner_ids[0], f"w-{n}") for n in range(3)]
    log.start_all(records)
    changes = [(_attempted(records[0]), 1, 0), (_attempted(records[1]), 1, 5), (_attempted(records[2]), 1, 0)]
    assert log.save_all(changes) == [True, False, True]
    assert [log.get(*_ids(record)) for record in records] == [changes[0][0], records[1], changes[2][0]]


def test_entries_list_newest_first_and_resume_before_a_sort_key(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    records = [_delivery(partner_ids[0], "w-1", minutes) for minutes in (3, 1, 4, 2)]
    log.start_all(records)
    log.start(_delivery(partner_ids[0], "w-2", 9))
    newest_first = sorted(records, key=lambda record: record.created_at, reverse=True)
    listed = list(log.newest_first(partner_ids[0], "w-1"))
    assert [record for _, record in listed] == newest_first
    assert [record for _, record in log.newest_first(partner_ids[0], "w-1", before=listed[1][0])] == newest_first[2:]
    ended = _attempted(newest_first[0], DeliveryStatus.DELIVERED)
    log.save(ended, 1, 0)
    assert next(log.newest_first(partner_ids[0], "w-1")) == (listed[0][0], ended)  # the order is by creation


def test_a_partner_reaches_none_of_another_partners_deliveries(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    mine, theirs = partner_ids
    record = _delivery(mine)
    log.start(record)
    forged = record.model_copy(update={"partner_id": theirs})
    assert log.get(*_ids(forged)) is None
    assert list(log.newest_first(theirs, record.webhook_id)) == []
    assert log.claim(*_ids(forged), expected=(1, 0), now=1.0, lease_until=2.0) == Claim(None, taken=False)
    assert log.save(_attempted(forged), 1, 0) is False
    assert log.get(*_ids(record)) == record


def test_an_entry_read_back_is_a_copy(log: DeliveryLog, partner_ids: tuple[str, str]) -> None:
    record = _delivery(partner_ids[0])
    log.start(record)
    expected = record.model_copy(deep=True)
    record.event["changed"] = "after start"
    read = log.get(*_ids(record))
    assert read is not None
    read.attempts.append(DeliveryAttempt(n=1, at=T0))
    claim = log.claim(*_ids(record), expected=(1, 0), now=1.0, lease_until=2.0)
    assert claim.record is not None
    claim.record.event.clear()
    assert log.get(*_ids(record)) == expected
    assert [entry for _, entry in log.newest_first(*_ids(record)[:2])] == [expected]
