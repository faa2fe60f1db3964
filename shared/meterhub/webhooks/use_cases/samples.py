"""The sample payload of each published event type: what a test delivery (`POST /v1.1/webhooks/{id}/test`) sends.

No sample is written by hand. Sample records (a meter, a batch meter job, two interval uploads, a Connect session
and an authorization) are passed, as the INSERT of a stream record at SAMPLE_TIME, through the same stream
derivations that publish the real events (meter_events, job_events, connect_events; the market group's snapshot
through group_snapshots): a sample carries exactly the fields a real event of its type carries and cannot drift
from them. Its ids are obviously not real ones (all-zero UUIDs ending in a digit, `sample-reference`,
`sample.csv`), so a sample that a receiver acts on anyway matches no meter, job or customer of the partner's. The
market group sample is the snapshot of a group whose only meter is the sample meter, complete and registered, as
the scheduled run leaves it when an enrollment deadline passes.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import cache
from typing import Any

from pydantic import BaseModel

from meterhub.catalog.enums import TransmissionRegion, UtilityName
from meterhub.connect.records import Authorization, AuthorizationStatus, ConnectSession, SessionStatus
from meterhub.connect.use_cases import events as connect_events
from meterhub.intervals.records import UploadJob, UploadStatus
from meterhub.meter_jobs.records import JobStatus, MeterJob, PayloadFormat
from meterhub.meter_jobs.use_cases import job_events
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.records import GroupChange, MeterRecord, ProgramStep
from meterhub.meters.rules import participation
from meterhub.meters.rules.enrollment import evaluate
from meterhub.meters.use_cases import group_snapshots, meter_events
from meterhub.platform import keys
from meterhub.platform.codec import DOC, key, to_item
from meterhub.platform.events import WebhookEventType
from meterhub.platform.streams import StreamChange

SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
"""When the sample records were written: fixed, so a sample (the enrollment deadlines in it too) never changes."""
SAMPLE_IDLE_START = datetime(2026, 7, 1, 5, tzinfo=UTC)
SAMPLE_IDLE_END = datetime(2026, 8, 1, 5, tzinfo=UTC)
SAMPLE_PARTNER_ID = "sample-partner"
SAMPLE_REFERENCE = "sample-reference"
SAMPLE_METER_ID = "00000000-0000-0000-0000-000000000001"
SAMPLE_METER_JOB_ID = "00000000-0000-0000-0000-000000000002"
SAMPLE_UPLOAD_COMPLETED_ID = "00000000-0000-0000-0000-000000000003"
SAMPLE_UPLOAD_FAILED_ID = "00000000-0000-0000-0000-000000000004"
SAMPLE_SESSION_ID = "00000000-0000-0000-0000-000000000005"
SAMPLE_AUTHORIZATION_ID = "00000000-0000-0000-0000-000000000006"


def sample_payload(event_type: WebhookEventType = WebhookEventType.METER_CREATED) -> dict[str, Any]:
    """Our sample payload of `event_type` (a copy: callers may change it)."""
    return copy.deepcopy(_samples()[event_type])


@cache
def _samples() -> dict[WebhookEventType, dict[str, Any]]:
    meter = _insert(keys.meter(SAMPLE_METER_ID), _meter())
    payloads = [event.payload for event in meter_events.events_for(meter, SAMPLE_TIME)]
    payloads += [
        event.payload
        for event in meter_events.events_for(_idled(meter), SAMPLE_TIME)
        if event.payload["webhook_event_type"] == WebhookEventType.ENROLLMENT_PARTICIPATION_STATUS_UPDATED
    ]
    [(group, meter_id, _joined)] = meter_events.membership_changes(_grouped(meter), SAMPLE_TIME)
    change = GroupChange(group=group, version="sample", changed_at=SAMPLE_TIME)
    payloads += group_snapshots.snapshot_payloads(change, [meter_id])
    for sort_key, job in (
        (keys.job(SAMPLE_METER_JOB_ID), _meter_job()),
        (keys.upload(SAMPLE_UPLOAD_COMPLETED_ID), _upload(SAMPLE_UPLOAD_COMPLETED_ID, completed=True)),
        (keys.upload(SAMPLE_UPLOAD_FAILED_ID), _upload(SAMPLE_UPLOAD_FAILED_ID, completed=False)),
    ):
        payloads += [event.payload for event in job_events.events_for(_insert(sort_key, job))]
    for sort_key, record in (
        (keys.session(SAMPLE_SESSION_ID), _session()),
        (keys.authorization(SAMPLE_AUTHORIZATION_ID), _authorization()),
    ):
        events, _syncs = connect_events.events_for(_insert(sort_key, record))  # a sample syncs nothing
        payloads += [event.payload for event in events]
    return {WebhookEventType(payload["webhook_event_type"]): payload for payload in payloads}


def _insert(sort_key: str, record: BaseModel) -> StreamChange:
    """The stream record of `record`'s first write, its item encoded as its repository stores it."""
    if isinstance(record, MeterJob):
        image = to_item(record.model_dump(mode="json"))  # meter jobs are stored as native attributes
    else:
        image = {DOC: {"S": record.model_dump_json()}}
    item_key = key(keys.partner(SAMPLE_PARTNER_ID), sort_key)
    return StreamChange(event_id="sample", event_name="INSERT", keys=item_key, new_image=image)


def _idled(inserted: StreamChange) -> StreamChange:
    """The sample meter's next write: idled for the sample month of July (its other events are the INSERT's)."""
    meter = _meter()
    idle = participation.with_idle_period([], SAMPLE_IDLE_START, SAMPLE_IDLE_END, None)
    after = meter.model_copy(update={"non_participation": idle, "version": meter.version + 1})
    image = {DOC: {"S": after.model_dump_json()}}
    return StreamChange(
        event_id="sample", event_name="MODIFY", keys=inserted.keys, new_image=image, old_image=inserted.new_image
    )


def _grouped(inserted: StreamChange) -> StreamChange:
    """The sample meter with its utility and its market registration, before and after the scheduled run at the
    enrollment deadline that committed it (and so put it in its market group)."""
    meter = _meter()
    utility = {"utility_name": "ONCOR", "electric_service_account_number": "10443720000000001"}
    step = ProgramStep(program_identifier="ERCOT-ERS", action_type="HAS_MARKET_REGISTRATION", recorded_at=SAMPLE_TIME)
    # In a zone no real meter has, so the group's name and id are no real group's.
    data = {**meter.data, "utility": utility, "site": {"load_zone": "SAMPLE-ZONE"}}
    ready = meter.model_copy(update={"data": data, "program_steps": [step]})
    before = ready.model_copy(update={"enrollment": evaluate(ready, SAMPLE_TIME)})
    deadline = min(period.deadline for period in evaluate(ready, SAMPLE_TIME).periods)
    after = before.model_copy(update={"enrollment": evaluate(before, deadline), "version": meter.version + 1})
    return StreamChange(
        event_id="sample",
        event_name="MODIFY",
        keys=inserted.keys,
        new_image={DOC: {"S": after.model_dump_json()}},
        old_image={DOC: {"S": before.model_dump_json()}},
    )


def _meter() -> MeterRecord:
    """A utility meter in ERCOT (one program) without its utility block: PENDING, with one required action."""
    document = CreateMeter.model_validate(
        {
            "partner_reference": SAMPLE_REFERENCE,
            "transmission_region": "ERCOT",
            "customer_classification": "RESIDENTIAL",
            "load_types": ["BATTERY_STORAGE"],
            "meter_type": "UTILITY_METER",
            "customer": {
                "street_1": "1 Sample Street",
                "postal_code": "78701",
                "city": "Austin",
                "state_or_province_code": "TX",
                "country_code": "US",
            },
        }
    )
    return MeterRecord(
        meter_id=SAMPLE_METER_ID,
        partner_id=SAMPLE_PARTNER_ID,
        partner_reference=SAMPLE_REFERENCE,
        data=document.model_dump(mode="json", exclude_none=True),
        created_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
    )


def _meter_job() -> MeterJob:
    return MeterJob(
        job_id=SAMPLE_METER_JOB_ID,
        partner_id=SAMPLE_PARTNER_ID,
        status=JobStatus.COMPLETED_WITH_ERRORS,
        file_name="sample.csv",
        payload_format=PayloadFormat.CSV,
        assets_count=3,
        assets_created_count=1,
        assets_updated_count=1,
        assets_failed_count=1,
        next_index=3,
        created_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
    )


def _upload(job_id: str, *, completed: bool) -> UploadJob:
    path = "/interval-data/sample.csv"
    return UploadJob(
        job_id=job_id,
        partner_id=SAMPLE_PARTNER_ID,
        status=UploadStatus.COMPLETED if completed else UploadStatus.FAILED,
        uploaded_file_path=path,
        current_file_path=path,
        object_key=f"partners/{SAMPLE_PARTNER_ID}{path}",
        uploaded_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
        rows_total=96,
        rows_valid=96 if completed else 95,
        rows_invalid=0 if completed else 1,
        errors_total=0 if completed else 1,
    )


def _session() -> ConnectSession:
    return ConnectSession(
        session_id=SAMPLE_SESSION_ID,
        partner_id=SAMPLE_PARTNER_ID,
        ref_id=SAMPLE_REFERENCE,
        transmission_region=TransmissionRegion.CAISO,
        status=SessionStatus.CREATED,
        csrf_token="sample",  # noqa: S106 - a sample record's field, never a credential
        started_at=SAMPLE_TIME,
        last_interaction_at=SAMPLE_TIME,
    )


def _authorization() -> Authorization:
    return Authorization(
        authorization_id=SAMPLE_AUTHORIZATION_ID,
        partner_id=SAMPLE_PARTNER_ID,
        session_id=SAMPLE_SESSION_ID,
        ref_id=SAMPLE_REFERENCE,
        transmission_region=TransmissionRegion.CAISO,
        utility_id="demo",
        utility_name=UtilityName.DEMO,
        status=AuthorizationStatus.COMPLETED,
        api_base_url="https://utility.example",
        initiated_at=SAMPLE_TIME,
        updated_at=SAMPLE_TIME,
        completed_at=SAMPLE_TIME,
    )
