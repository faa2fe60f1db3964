"""Webhook events derived from MetersTable stream records: published as a consequence of the committed write.

Per METER# item change (REF# guards and anything else are ignored):

* INSERT -> `meter.created`;
* INSERT/MODIFY -> `meter.enrollment.global-status.updated` when the stored global enrollment status changed
  (an INSERT changes it from nothing), `meter.enrollment.required-actions.updated` when the partner required
  actions changed (an INSERT changes them from none);
* MODIFY -> `meter.enrollment.participation-status.updated` when the partner's participation requests changed
  (rules.participation.changed_preference: the idle period or disenrollment added, or PARTICIPATE from when a
  participate request ended them); a new meter participates, which `meter.created` says already.

Each market group the meter joined or left is recorded in the group's membership (`record_memberships`, the
`GroupMembership` port), which marks the group changed: `meter.enrollment.group.updated`, the group's whole list
of meters as Leap sends it, is published from those marks by the scheduled run (`use_cases.group_snapshots`),
once per changed group however many of its meters changed (a fleet joins its groups at one deadline).

Enrollment is compared as stored in the old and the new image (every write stores it evaluated, the scheduled
transition run included), so a deadline passing or a period starting is an event exactly when it changed the
stored state. Each event's id is a uuid5 of the stream record's eventID and the event type: a
retried record publishes the same ids, and receivers dedupe on them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterhub.meters.ports import GroupMembership
from meterhub.meters.records import EnrollmentState, MarketGroupPeriod, MeterRecord
from meterhub.meters.rules.enrollment import INDEFINITELY, current_state, required_action
from meterhub.meters.rules.participation import changed_preference
from meterhub.platform import keys
from meterhub.platform.event_publisher import publish
from meterhub.platform.events import WebhookEventType
from meterhub.platform.streams import StreamChange
from meterhub.platform.work_queue import WorkQueue

# Namespace of the event ids minted from stream records (any fixed uuid works; this one is meterhub's).
EVENT_ID_NAMESPACE = uuid.UUID("5b0f6a52-7c1e-4f57-9d1c-0e4c2f7a9e31")


@dataclass(frozen=True)
class MeterEvent:
    partner_id: str
    webhook_event_id: str
    payload: dict[str, Any]


def event_id(stream_event_id: str, event_type: WebhookEventType) -> str:
    """The webhook_event_id of one event of one stream record: the same on every retry of that record."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{stream_event_id}#{event_type.value}"))


def _base(meter: MeterRecord, event_type: WebhookEventType) -> dict[str, Any]:
    return {
        "webhook_event_type": event_type.value,
        "meter_id": meter.meter_id,
        "partner_reference": meter.partner_reference,
        "transmission_region": meter.transmission_region,
        "meter_type": meter.meter_type,
    }


def _partner_actions(state: EnrollmentState | None) -> list[dict[str, Any]]:
    """The partner's required actions as Leap's payload spells them."""
    if state is None:
        return []
    return [required_action(action).model_dump(mode="json") for action in state.partner_actions]


def _groups(meter: MeterRecord, state: EnrollmentState | None) -> dict[tuple[str, str], MarketGroupPeriod]:
    """(market group id, delivery period) -> the group, for each group the meter is in."""
    if state is None:
        return {}
    return {
        (period.market_group_id, period.delivery_period): MarketGroupPeriod(
            partner_id=meter.partner_id,
            market_group_id=period.market_group_id,
            market_group_name=period.market_group_name or "",
            delivery_period=period.delivery_period,
            start=period.start,
            end=period.end,
        )
        for period in state.periods
        if period.market_group_id is not None
    }


def events_for(change: StreamChange, now: datetime) -> list[MeterEvent]:
    """The webhook events one stream record calls for (none for REF# items, removals or unchanged enrollment)."""
    if not change.sort_key.startswith(keys.METER) or not change.is_write:
        return []
    new = change.new(MeterRecord)
    if new is None:
        return []
    old = change.old(MeterRecord) if change.event_name == "MODIFY" else None
    new_state = current_state(new, now)
    old_state = current_state(old, now) if old is not None else None
    payloads: list[dict[str, Any]] = []
    if change.event_name == "INSERT":
        payloads.append(_base(new, WebhookEventType.METER_CREATED))
    status = new_state.global_status
    if old_state is None or old_state.global_status != new_state.global_status:
        payloads.append(
            {**_base(new, WebhookEventType.ENROLLMENT_GLOBAL_STATUS_UPDATED), "global_enrollment_status": status}
        )
    actions = _partner_actions(new_state)
    if actions != _partner_actions(old_state):
        payloads.append(
            {
                **_base(new, WebhookEventType.ENROLLMENT_REQUIRED_ACTIONS_UPDATED),
                "global_enrollment_status": status,
                "required_actions": {"partner": actions} if actions else {},  # an empty object when resolved
            }
        )
    preference = changed_preference(old.non_participation, new.non_participation, INDEFINITELY) if old else None
    if preference is not None:
        payloads.append(
            {
                **_base(new, WebhookEventType.ENROLLMENT_PARTICIPATION_STATUS_UPDATED),
                **preference.model_dump(mode="json", include={"participation_preference", "start_time", "end_time"}),
            }
        )
    return [
        MeterEvent(
            partner_id=new.partner_id,
            webhook_event_id=event_id(change.event_id, WebhookEventType(payload["webhook_event_type"])),
            payload=payload,
        )
        for payload in payloads
    ]


def membership_changes(change: StreamChange, now: datetime) -> list[tuple[MarketGroupPeriod, str, bool]]:
    """(group, meter id, joined) for each market group a meter's write (or removal) made it join or leave."""
    if not change.sort_key.startswith(keys.METER):
        return []
    new = change.new(MeterRecord) if change.is_write else None
    old = change.old(MeterRecord)
    meter = new or old
    if meter is None:
        return []
    before = _groups(old, current_state(old, now)) if old is not None else {}
    after = _groups(new, current_state(new, now)) if new is not None else {}
    return [
        (after[membership], meter.meter_id, True)
        if membership in after
        else (before[membership], meter.meter_id, False)
        for membership in sorted(set(before) ^ set(after))
    ]


def record_memberships(groups: GroupMembership, change: StreamChange, now: datetime) -> int:
    """Record the market groups one stream record's meter joined or left; returns how many."""
    changes = membership_changes(change, now)
    for group, meter_id, joined in changes:
        groups.record(group, meter_id, joined, now)
    return len(changes)


def publish_changes(queue: WorkQueue, change: StreamChange, now: datetime) -> list[str]:
    """Publish the events of one stream record; returns their webhook_event_ids."""
    return [
        publish(queue, event.partner_id, event.payload, webhook_event_id=event.webhook_event_id)
        for event in events_for(change, now)
    ]
