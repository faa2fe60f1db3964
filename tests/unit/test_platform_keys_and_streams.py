"""The key formats byte for byte (they are stored data), and stream records decoded for their consumers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from meterhub.meter_jobs.records import JobStatus, MeterJob, PayloadFormat
from meterhub.meters.records import MeterRecord
from meterhub.platform import keys
from meterhub.platform.codec import DOC, decode, key, to_item
from meterhub.platform.streams import StreamChange

AT = datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("built", "stored"),
    [
        (keys.partner("p1"), "PARTNER#p1"),
        (keys.account("acme"), "ACCOUNT#acme"),
        (keys.api_key("h1"), "APIKEY#h1"),
        (keys.meter("m1"), "METER#m1"),
        (keys.reference("site-1"), "REF#site-1"),
        (keys.created(AT, "m1"), "CREATED#2025-03-01T12:30:00+00:00#m1"),
        (keys.created(AT), "CREATED#2025-03-01T12:30:00+00:00"),
        (keys.job("j1"), "JOB#j1"),
        (keys.partner_jobs("p1"), "PARTNER#p1#JOBS"),
        (keys.job_assets("p1", "j1"), "PARTNER#p1#JOB#j1"),
        (keys.asset(42), "ASSET#0000042"),
        (keys.partner_assets("p1"), "PARTNER#p1#ASSETS"),
        (keys.upload("u1"), "UPLOAD#u1"),
        (keys.partner_uploads("p1"), "PARTNER#p1#UPLOADS"),
        (keys.object_claim("partners/p1/a#b.csv", "v1"), "OBJECT#partners/p1/a#b.csv#v1"),
        (keys.meter_intervals("p1", "m1"), "PARTNER#p1#METER#m1"),
        (keys.day(date(2025, 3, 1)), "DAY#2025-03-01"),
        (keys.length_day(date(2025, 3, 1), 300), "LEN#2025-03-01#00300"),
        (keys.length_day(date(2025, 3, 1)), "LEN#2025-03-01"),
        (keys.length_days_through(date(2025, 3, 2)), "LEN#2025-03-02#~"),
        (keys.webhook("w1"), "WEBHOOK#w1"),
        (keys.webhook_log("p1", "w1"), "PARTNER#p1#WEBHOOK#w1"),
        (keys.webhook_deliveries("p1", "w1"), "PARTNER#p1#WEBHOOK#w1#DELIVERIES"),
        (keys.delivery("e1"), "DELIVERY#e1"),
        (keys.session("s1"), "SESSION#s1"),
        (keys.authorization("a1"), "AUTH#a1"),
        (keys.state("h1"), "STATE#h1"),
        (keys.link("h1"), "LINK#h1"),
        (keys.active_shard(7), "ACTIVE#7"),
        (keys.active_authorization("p1", "a1"), "p1#a1"),
        (keys.demo_code("h1"), "DEMO#CODE#h1"),
        (keys.demo_token("h1"), "DEMO#TOKEN#h1"),
        (keys.demo_refresh("h1"), "DEMO#REFRESH#h1"),
    ],
)
def test_every_key_is_built_as_stored(built: str, stored: str) -> None:
    assert built == stored


def test_the_parsed_keys_give_back_what_built_them() -> None:
    assert keys.day_of(keys.day(date(2025, 12, 31))) == date(2025, 12, 31)
    assert keys.length_day_of(keys.length_day(date(2025, 3, 1), 86400)) == (date(2025, 3, 1), 86400)
    assert keys.active_authorization_of(keys.active_authorization("p-1", "a-1")) == ("p-1", "a-1")


def _meter() -> MeterRecord:
    data = {"transmission_region": "ISONE", "customer_classification": "RESIDENTIAL", "meter_type": "DEVICE"}
    return MeterRecord(meter_id="m1", partner_id="p1", partner_reference="r1", data=data, created_at=AT, updated_at=AT)


def _job(status: JobStatus) -> MeterJob:
    return MeterJob(
        job_id="j1",
        partner_id="p1",
        status=status,
        payload_format=PayloadFormat.JSON,
        file_name="meters.json",
        assets_count=3,
        assets_created_count=2,
        transmission_regions=["ISONE", "PJM"],
        created_at=AT,
        updated_at=AT,
    )


def test_a_stream_record_gives_its_sort_key_and_the_records_of_its_images() -> None:
    # Given a MODIFY of a meter stored as a document, in the shape Lambda hands to a stream consumer
    meter = _meter()
    image = {**key(keys.partner("p1"), keys.meter("m1")), "gsi1pk": {"S": "x"}, DOC: {"S": meter.model_dump_json()}}
    record = {
        "eventID": "e1",
        "eventName": "MODIFY",
        "dynamodb": {"Keys": key(keys.partner("p1"), keys.meter("m1")), "NewImage": image, "OldImage": image},
    }

    change = StreamChange.from_record(record)

    assert (change.event_id, change.sort_key, change.is_write) == ("e1", "METER#m1", True)
    assert change.new(MeterRecord) == meter and change.old(MeterRecord) == meter


def test_records_stored_as_attributes_are_decoded_without_their_keys_and_index_attributes() -> None:
    job = _job(JobStatus.COMPLETED)
    item = {**key(keys.partner("p1"), keys.job("j1")), "gsi1sk": {"S": "s"}, **to_item(job.model_dump(mode="json"))}

    assert decode(item, MeterJob) == job
    insert = StreamChange("e2", "INSERT", key(keys.partner("p1"), keys.job("j1")), new_image=item)
    assert insert.new(MeterJob) == job and insert.old(MeterJob) is None


def test_a_removal_has_no_new_record_and_is_not_a_write() -> None:
    removed = StreamChange(
        "e3", "REMOVE", {"pk": {"S": "PARTNER#p1"}}, old_image={DOC: {"S": _meter().model_dump_json()}}
    )

    assert removed.is_write is False and removed.sort_key == "" and removed.new(MeterRecord) is None
    assert removed.old(MeterRecord) == _meter()
