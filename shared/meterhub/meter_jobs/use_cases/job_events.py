"""Webhook events derived from JobsTable stream records: published as a consequence of the committed write.

A job's event is published when its status becomes terminal (the old image has no status or a non-terminal
one, the new image a terminal one), INSERT or MODIFY:

* `JOB#<job_id>` (a batch meter job, native attributes) COMPLETED / COMPLETED_WITH_ERRORS / FAILED ->
  `meter_job.completed` {job_id, status, file_name, assets_count, assets_created_count, assets_updated_count,
  assets_failed_count};
* `UPLOAD#<job_id>` (an interval-data upload, the UploadJob JSON in `doc`) COMPLETED -> `interval_upload.completed`,
  FAILED -> `interval_upload.failed` {job_id, file_path, status, rows_total, rows_valid, rows_invalid,
  errors_total}.

Everything else (ASSET# and OBJECT# items, non-terminal changes, removals) publishes nothing. Event ids are those
of meters.use_cases.meter_events: a uuid5 of the stream record's eventID and the event type, stable across retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meterhub.intervals.records import UPLOAD_TERMINAL, UploadJob, UploadStatus
from meterhub.meter_jobs.records import TERMINAL, MeterJob
from meterhub.meters.use_cases.meter_events import event_id
from meterhub.platform import keys
from meterhub.platform.event_publisher import publish
from meterhub.platform.events import WebhookEventType
from meterhub.platform.streams import StreamChange
from meterhub.platform.work_queue import WorkQueue

_UPLOAD_EVENTS = {
    UploadStatus.COMPLETED: WebhookEventType.INTERVAL_UPLOAD_COMPLETED,
    UploadStatus.FAILED: WebhookEventType.INTERVAL_UPLOAD_FAILED,
}


@dataclass(frozen=True)
class JobEvent:
    partner_id: str
    webhook_event_id: str
    payload: dict[str, Any]


def _meter_job_event(change: StreamChange) -> JobEvent | None:
    new = change.new(MeterJob)
    if new is None or new.status not in TERMINAL:
        return None
    old = change.old(MeterJob)
    if old is not None and old.status in TERMINAL:
        return None
    event_type = WebhookEventType.METER_JOB_COMPLETED
    payload = {
        "webhook_event_type": event_type.value,
        "job_id": new.job_id,
        "status": new.status.value,
        "file_name": new.file_name,
        "assets_count": new.assets_count,
        "assets_created_count": new.assets_created_count,
        "assets_updated_count": new.assets_updated_count,
        "assets_failed_count": new.assets_failed_count,
    }
    return JobEvent(new.partner_id, event_id(change.event_id, event_type), payload)


def _upload_event(change: StreamChange) -> JobEvent | None:
    new = change.new(UploadJob)
    if new is None or new.status not in UPLOAD_TERMINAL:
        return None
    old = change.old(UploadJob)
    if old is not None and old.status in UPLOAD_TERMINAL:
        return None
    event_type = _UPLOAD_EVENTS[new.status]
    payload = {
        "webhook_event_type": event_type.value,
        "job_id": new.job_id,
        "file_path": new.uploaded_file_path,
        "status": new.status.value,
        "rows_total": new.rows_total,
        "rows_valid": new.rows_valid,
        "rows_invalid": new.rows_invalid,
        "errors_total": new.errors_total,
    }
    return JobEvent(new.partner_id, event_id(change.event_id, event_type), payload)


def events_for(change: StreamChange) -> list[JobEvent]:
    """The webhook events one JobsTable stream record calls for (at most one: its job became terminal)."""
    if not change.is_write:
        return []
    if change.sort_key.startswith(keys.JOB):
        event = _meter_job_event(change)
    elif change.sort_key.startswith(keys.UPLOAD):
        event = _upload_event(change)
    else:
        event = None
    return [event] if event is not None else []


def publish_changes(queue: WorkQueue, change: StreamChange) -> list[str]:
    """Publish the events of one stream record; returns their webhook_event_ids."""
    return [
        publish(queue, event.partner_id, event.payload, webhook_event_id=event.webhook_event_id)
        for event in events_for(change)
    ]


__all__ = ["JobEvent", "events_for", "publish_changes"]
