"""Webhook events derived from MetersTable stream records: published as a consequence of the committed write.

Per METER# item change (REF# guards and anything else are ignored):

* INSERT -> `meter.created`;
* INSERT/MODIFY -> `meter.enrollment.global-status.updated` when the derived global enrollment status changed
  (an INSERT changes it from nothing), `meter.enrollment.required-actions.updated` when the partner required
  actions changed (an INSERT changes them from none);
* MODIFY -> `meter.enrollment.participation-status.updated` when the partner's participation requests changed
  (rules.participation.changed_preference: the idle period or disenrollment added, or PARTICIPATE from when a
  participate request ended them); a new meter participates, which `meter.created` says already.

Enrollment is derived (meterhub.meters.rules.enrollment) for the old and the new image at the same `now`, so only a
change of the meter's data can make a difference. Each event's id is a uuid5 of the stream record's eventID and
the event type: a retried record publishes the same ids, and receivers dedupe on them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterhub.meters.api_models.responses import MeterEnrollmentResponse
from meterhub.meters.records import MeterRecord
from meterhub.meters.rules.enrollment import INDEFINITELY, derive_enrollment
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


def _partner_actions(enrollment: MeterEnrollmentResponse | None) -> list[dict[str, Any]]:
    if enrollment is None:
        return []
    return [action.model_dump(mode="json") for action in enrollment.required_actions.partner]


def events_for(change: StreamChange, now: datetime) -> list[MeterEvent]:
    """The webhook events one stream record calls for (none for REF# items, removals or unchanged enrollment)."""
    if not change.sort_key.startswith(keys.METER) or not change.is_write:
        return []
    new = change.new(MeterRecord)
    if new is None:
        return []
    old = change.old(MeterRecord) if change.event_name == "MODIFY" else None
    new_enrollment = derive_enrollment(new, now)
    old_enrollment = derive_enrollment(old, now) if old is not None else None
    payloads: list[dict[str, Any]] = []
    if change.event_name == "INSERT":
        payloads.append(_base(new, WebhookEventType.METER_CREATED))
    status = new_enrollment.global_enrollment_status.value
    if old_enrollment is None or old_enrollment.global_enrollment_status != new_enrollment.global_enrollment_status:
        payloads.append(
            {**_base(new, WebhookEventType.ENROLLMENT_GLOBAL_STATUS_UPDATED), "global_enrollment_status": status}
        )
    actions = _partner_actions(new_enrollment)
    if actions != _partner_actions(old_enrollment):
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


def publish_changes(queue: WorkQueue, change: StreamChange, now: datetime) -> list[str]:
    """Publish the events of one stream record; returns their webhook_event_ids."""
    return [
        publish(queue, event.partner_id, event.payload, webhook_event_id=event.webhook_event_id)
        for event in events_for(change, now)
    ]
