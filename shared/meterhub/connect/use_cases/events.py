"""What a ConnectTable stream record sets in motion, as a consequence of the committed write:

* `SESSION#` whose status changed (or was inserted) -> `connect_session.updated` {partner_reference, status};
* `AUTH#` whose status changed to INITIATED, COMPLETED or FAILED -> `connect_session.authorization_updated`
  {partner_reference, utility_name, status} (REVOKED is ours and not in Leap's enum: no event, the meters'
  required-actions event tells the partner instead);
* `AUTH#` that became COMPLETED -> a UtilitySyncQueue message {partner_id, authorization_id}.

A last-interaction touch (same status) publishes nothing. Leap's payload requires `partner_reference`, which
is the link's refId; a session opened without a refId has none to report, so it publishes nothing (Leap
likewise keeps no Connect status without a refId). Event ids are stable per stream record, as for meters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meterhub.connect.records import Authorization, AuthorizationStatus, ConnectSession
from meterhub.meters.use_cases.meter_events import event_id
from meterhub.platform import keys
from meterhub.platform.event_publisher import publish
from meterhub.platform.events import WebhookEventType
from meterhub.platform.streams import StreamChange
from meterhub.platform.work_queue import WorkQueue

_PUBLISHED_AUTH_STATUSES = frozenset(
    {AuthorizationStatus.INITIATED, AuthorizationStatus.COMPLETED, AuthorizationStatus.FAILED}
)


@dataclass(frozen=True)
class ConnectEvent:
    partner_id: str
    webhook_event_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class SyncRequest:
    partner_id: str
    authorization_id: str

    def message(self) -> dict[str, Any]:
        return {"partner_id": self.partner_id, "authorization_id": self.authorization_id}


def _session_event(change: StreamChange) -> ConnectEvent | None:
    new = change.new(ConnectSession)
    if new is None:
        return None
    old = change.old(ConnectSession)
    if (old is not None and old.status == new.status) or not new.ref_id:
        return None
    event_type = WebhookEventType.CONNECT_SESSION_UPDATED
    payload = {"webhook_event_type": event_type.value, "partner_reference": new.ref_id, "status": new.status.value}
    return ConnectEvent(new.partner_id, event_id(change.event_id, event_type), payload)


def _authorization_change(change: StreamChange) -> tuple[Authorization, bool] | None:
    """The new authorization and whether its status changed; None when there is no new image."""
    new = change.new(Authorization)
    if new is None:
        return None
    old = change.old(Authorization)
    return new, old is None or old.status != new.status


def events_for(change: StreamChange) -> tuple[list[ConnectEvent], list[SyncRequest]]:
    if not change.is_write:
        return [], []
    if change.sort_key.startswith(keys.SESSION):
        event = _session_event(change)
        return ([event] if event else []), []
    if not change.sort_key.startswith(keys.AUTH):
        return [], []
    found = _authorization_change(change)
    if found is None or not found[1]:
        return [], []
    authorization = found[0]
    events: list[ConnectEvent] = []
    if authorization.status in _PUBLISHED_AUTH_STATUSES and authorization.ref_id:
        event_type = WebhookEventType.CONNECT_SESSION_AUTHORIZATION_UPDATED
        payload = {
            "webhook_event_type": event_type.value,
            "partner_reference": authorization.ref_id,
            "utility_name": authorization.utility_name.value,
            "status": authorization.status.value,
        }
        events.append(ConnectEvent(authorization.partner_id, event_id(change.event_id, event_type), payload))
    syncs = (
        [SyncRequest(authorization.partner_id, authorization.authorization_id)]
        if authorization.status is AuthorizationStatus.COMPLETED
        else []
    )
    return events, syncs


def handle_change(events_queue: WorkQueue, sync_queue: WorkQueue, change: StreamChange) -> list[str]:
    """Publish the record's events and queue its sync; returns the published webhook_event_ids. The sync is
    queued first: if publishing then fails, the record is retried and the sync (idempotent) runs twice at
    worst, while an event is never lost."""
    events, syncs = events_for(change)
    for sync in syncs:
        sync_queue.send(sync.message())
    return [publish(events_queue, e.partner_id, e.payload, webhook_event_id=e.webhook_event_id) for e in events]


__all__ = ["ConnectEvent", "SyncRequest", "events_for", "handle_change"]
