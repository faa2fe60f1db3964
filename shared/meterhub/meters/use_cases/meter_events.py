"""Webhook events derived from MetersTable stream records: published as a consequence of the committed write.

Per METER# item change (REF# guards and anything else are ignored):

* INSERT -> `meter.created`;
* INSERT/MODIFY -> `meter.enrollment.global-status.updated` when the stored global enrollment status changed
  (an INSERT changes it from nothing), `meter.enrollment.required-actions.updated` when the partner required
  actions changed (an INSERT changes them from none), `meter.enrollment.group.updated` for each market group
  the meter joined or left (its `meter_ids` are the meters whose membership changed: this one. Leap's are the
  group's meters; listing them from each meter's write would be quadratic in the group's size when a fleet
  joins its groups at a deadline, see the README);
* MODIFY -> `meter.enrollment.participation-status.updated` when the partner's participation requests changed
  (rules.participation.changed_preference: the idle period or disenrollment added, or PARTICIPATE from when a
  participate request ended them); a new meter participates, which `meter.created` says already.

Enrollment is compared as stored in the old and the new image (every write stores it evaluated, the scheduled
transition run included), so a deadline passing or a period starting is an event exactly when it changed the
stored state. Each event's id is a uuid5 of the stream record's eventID and the event type (and the group): a
retried record publishes the same ids, and receivers dedupe on them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterhub.meters.records import EnrollmentState, MeterRecord
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


def event_id(stream_event_id: str, event_type: WebhookEventType, qualifier: str = "") -> str:
    """The webhook_event_id of one event of one stream record: the same on every retry of that record."""
    suffix = f"#{qualifier}" if qualifier else ""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{stream_event_id}#{event_type.value}{suffix}"))


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


def _groups(state: EnrollmentState | None) -> dict[tuple[str, str], dict[str, Any]]:
    """(market group id, delivery period) -> the group's event fields, for each group the meter is in."""
    if state is None:
        return {}
    return {
        (period.market_group_id, period.delivery_period): {
            "market_group_id": period.market_group_id,
            "market_group_name": period.market_group_name,
            "start_date_time": period.start.isoformat().replace("+00:00", "Z"),
            "end_date_time": period.end.isoformat().replace("+00:00", "Z"),
        }
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
    payloads: list[tuple[dict[str, Any], str]] = []
    if change.event_name == "INSERT":
        payloads.append((_base(new, WebhookEventType.METER_CREATED), ""))
    status = new_state.global_status
    if old_state is None or old_state.global_status != new_state.global_status:
        payloads.append(
            ({**_base(new, WebhookEventType.ENROLLMENT_GLOBAL_STATUS_UPDATED), "global_enrollment_status": status}, "")
        )
    actions = _partner_actions(new_state)
    if actions != _partner_actions(old_state):
        payloads.append(
            (
                {
                    **_base(new, WebhookEventType.ENROLLMENT_REQUIRED_ACTIONS_UPDATED),
                    "global_enrollment_status": status,
                    "required_actions": {"partner": actions} if actions else {},  # an empty object when resolved
                },
                "",
            )
        )
    before, after = _groups(old_state), _groups(new_state)
    for membership in sorted(set(before) ^ set(after)):
        group = after.get(membership) or before[membership]
        payload = {"webhook_event_type": WebhookEventType.ENROLLMENT_GROUP_UPDATED.value, **group}
        payloads.append(({**payload, "meter_ids": [new.meter_id]}, "#".join(membership)))
    preference = changed_preference(old.non_participation, new.non_participation, INDEFINITELY) if old else None
    if preference is not None:
        payloads.append(
            (
                {
                    **_base(new, WebhookEventType.ENROLLMENT_PARTICIPATION_STATUS_UPDATED),
                    **preference.model_dump(
                        mode="json", include={"participation_preference", "start_time", "end_time"}
                    ),
                },
                "",
            )
        )
    return [
        MeterEvent(
            partner_id=new.partner_id,
            webhook_event_id=event_id(change.event_id, WebhookEventType(payload["webhook_event_type"]), qualifier),
            payload=payload,
        )
        for payload, qualifier in payloads
    ]


def publish_changes(queue: WorkQueue, change: StreamChange, now: datetime) -> list[str]:
    """Publish the events of one stream record; returns their webhook_event_ids."""
    return [
        publish(queue, event.partner_id, event.payload, webhook_event_id=event.webhook_event_id)
        for event in events_for(change, now)
    ]
