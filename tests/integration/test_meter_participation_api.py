"""functions/meters_api/app.py end to end on moto: one meter's participate, idle and disenroll requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.test_meter_maintenance_api import create
from tests.integration.test_meters_api import stored_meters

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey
    from mypy_boto3_dynamodb import DynamoDBClient

Invoke = Callable[..., tuple[int, Any]]
MakeAsset = Callable[..., dict[str, Any]]

UNKNOWN_METER = "6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e11"
INDEFINITELY = datetime(9000, 1, 1, tzinfo=UTC)


def path(meter_id: str, operation: str) -> str:
    return f"/v1.1/enrollment/meters/{meter_id}/{operation}"


def enrollment(invoke: Invoke, meter_id: str) -> dict[str, Any]:
    status, body = invoke("GET", f"/v2/meters/{meter_id}/enrollments")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def preferences(body: dict[str, Any]) -> list[tuple[str, datetime, datetime]]:
    return [
        (p["participation_preference"], datetime.fromisoformat(p["start_time"]), datetime.fromisoformat(p["end_time"]))
        for p in body["participation_preferences"]
    ]


def local(moment: datetime, hours: int) -> str:
    """The moment as a local time at this UTC offset (what the partner sends)."""
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()


def test_a_disenrolled_meter_is_not_participating_until_it_is_asked_to_participate_again(
    invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a meter, disenrolled from an hour ago (sent in its local time, UTC-5)
    [meter_id] = create(invoke, make_asset, "p-0")
    created = datetime.fromisoformat(enrollment(invoke, meter_id)["audit"]["created_at"])
    since = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    status, body = invoke("POST", path(meter_id, "disenroll"), {"start_time": local(since, -5), "reason": "Moving"})

    # Then the answer and the enrollment read both show it NOT_PARTICIPATING, in every program, from then on
    assert status == 200, body
    read = enrollment(invoke, meter_id)
    for answer in (body, read):
        assert answer["global_enrollment_status"] == "NOT_PARTICIPATING"
        assert {p["enrollment_status"] for p in answer["program_enrollment"]} == {"NOT_PARTICIPATING"}
        assert preferences(answer) == [("PARTICIPATE", created, since), ("DISENROLL", since, INDEFINITELY)]
        assert answer["participation_preferences"][1]["reason"] == "Moving"

    # When it is asked to participate again (now)
    status, body = invoke("POST", path(meter_id, "participate"), {})

    # Then it participates again: the disenrollment ended when it was asked
    assert status == 200, body
    assert body["global_enrollment_status"] != "NOT_PARTICIPATING"
    [participate, disenroll] = preferences(enrollment(invoke, meter_id))
    assert participate == ("PARTICIPATE", created, INDEFINITELY)
    assert disenroll[:2] == ("DISENROLL", since) and since < disenroll[2] <= datetime.now(UTC)


def test_an_idle_period_in_local_time_is_kept_and_answered_in_utc(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given a meter
    [meter_id] = create(invoke, make_asset, "p-0")
    before = enrollment(invoke, meter_id)["global_enrollment_status"]

    # When it is idled for a future summer, in its local time (UTC-7)
    request = {"start_time": "2030-06-01T00:00:00-07:00", "end_time": "2030-09-01T00:00:00-07:00"}
    status, body = invoke("POST", path(meter_id, "idle"), request)

    # Then the period is listed in UTC, and the meter's status now is as it was
    assert status == 200, body
    read = enrollment(invoke, meter_id)
    assert preferences(read)[1] == (
        "IDLE",
        datetime(2030, 6, 1, 7, tzinfo=UTC),
        datetime(2030, 9, 1, 7, tzinfo=UTC),
    )
    assert read["global_enrollment_status"] == before


def test_a_meter_idle_now_is_not_participating(invoke: Invoke, make_asset: MakeAsset) -> None:
    [meter_id] = create(invoke, make_asset, "p-0")
    now = datetime.now(UTC)
    request = {"start_time": local(now - timedelta(days=1), 2), "end_time": local(now + timedelta(days=1), 2)}
    status, body = invoke("POST", path(meter_id, "idle"), request)
    assert status == 200, body
    assert enrollment(invoke, meter_id)["global_enrollment_status"] == "NOT_PARTICIPATING"


@pytest.mark.parametrize(
    ("operation", "request_body"),
    [
        ("participate", {}),
        ("disenroll", {"start_time": "2030-01-01T00:00:00+00:00"}),
        ("idle", {"start_time": "2030-01-01T00:00:00+00:00", "end_time": "2030-02-01T00:00:00+00:00"}),
    ],
)
def test_another_partners_meter_is_a_404_and_nothing_is_touched(
    aws: DynamoDBClient,
    other_partner: IssuedKey,
    invoke: Invoke,
    make_asset: MakeAsset,
    operation: str,
    request_body: dict[str, Any],
) -> None:
    [theirs] = create(invoke, make_asset, "p-0", partner_id=other_partner.partner_id)
    before = stored_meters(aws, other_partner.partner_id)

    status, body = invoke("POST", path(theirs, operation), request_body)

    assert status == 404
    assert body == {"title": "Meter not found", "status": 404, "details": {"meter_id": theirs}}
    assert stored_meters(aws, other_partner.partner_id) == before


def test_an_idle_period_overlapping_another_is_a_400_and_nothing_changes(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a meter idle in June 2030
    [meter_id] = create(invoke, make_asset, "p-0")
    june = {"start_time": "2030-06-01T00:00:00-04:00", "end_time": "2030-07-01T00:00:00-04:00"}
    assert invoke("POST", path(meter_id, "idle"), june)[0] == 200
    before = stored_meters(aws, partner.partner_id)

    # When another idle period overlaps its last day
    overlapping = {"start_time": "2030-06-30T00:00:00-04:00", "end_time": "2030-08-01T00:00:00-04:00"}
    status, body = invoke("POST", path(meter_id, "idle"), overlapping)

    # Then it is refused naming start_time, and the meter is as it was; one that starts where June ends is fine
    assert (status, list(body["details"])) == (400, ["start_time"]), body
    assert stored_meters(aws, partner.partner_id) == before
    adjoining = {"start_time": "2030-07-01T00:00:00-04:00", "end_time": "2030-08-01T00:00:00-04:00"}
    assert invoke("POST", path(meter_id, "idle"), adjoining)[0] == 200


@pytest.mark.parametrize(
    ("operation", "request_body", "field"),
    [
        ("idle", {"start_time": "2030-02-01T00:00:00+00:00", "end_time": "2030-01-01T00:00:00+00:00"}, "end_time"),
        ("idle", {"start_time": "2030-01-01T00:00:00+00:00", "end_time": "2030-01-01T00:00:00+00:00"}, "end_time"),
        ("idle", {"start_time": "2030-01-01T00:00:00", "end_time": "2030-02-01T00:00:00+00:00"}, "start_time"),
        ("idle", {"start_time": "2030-01-01T00:00:00+00:00", "end_time": "2030-02-01T00:00:00"}, "end_time"),
        ("idle", {"start_time": "2030-01-01T00:00:00+00:00"}, "end_time"),
        ("disenroll", {"start_time": "2030-01-01T00:00:00"}, "start_time"),
        ("disenroll", {}, "start_time"),
        ("participate", {"start_time": "2030-01-01T00:00:00"}, "start_time"),
        ("participate", {"start_time": "2030-01-01T00:00:00+00:00", "extra": 1}, "extra"),
    ],
    ids=[
        "idle-end-before-start",
        "idle-empty",
        "idle-start-without-offset",
        "idle-end-without-offset",
        "idle-without-end",
        "disenroll-without-offset",
        "disenroll-without-start",
        "participate-without-offset",
        "unknown-field",
    ],
)
def test_bad_requests_are_400s_naming_the_field_and_change_nothing(
    aws: DynamoDBClient,
    partner: IssuedKey,
    invoke: Invoke,
    make_asset: MakeAsset,
    operation: str,
    request_body: dict[str, Any],
    field: str,
) -> None:
    [meter_id] = create(invoke, make_asset, "p-0")
    before = stored_meters(aws, partner.partner_id)
    status, body = invoke("POST", path(meter_id, operation), request_body)
    assert (status, list(body["details"])) == (400, [field]), body
    assert stored_meters(aws, partner.partner_id) == before


def test_unknown_and_malformed_meter_ids(invoke: Invoke) -> None:
    assert invoke("POST", path(UNKNOWN_METER, "participate"), {})[0] == 404
    assert invoke("POST", path("abc", "participate"), {})[0] == 400


# ----- the bulk forms --------------------------------------------------------------------------------------


def bulk(invoke: Invoke, operation: str, body: dict[str, Any], partner_id: str | None = None) -> tuple[int, Any]:
    return invoke("POST", f"/v1.1/enrollment/meters/{operation}", body, partner_id=partner_id)


def test_several_meters_are_idled_disenrolled_and_resumed_together(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given three meters
    ids = create(invoke, make_asset, "b-0", "b-1", "b-2")
    start = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=0)
    end = start + timedelta(days=7)
    # When two of them are idled for a week (local time, UTC-7)
    status, answer = bulk(
        invoke, "idle", {"meter_ids": ids[:2], "start_time": local(start, -7), "end_time": local(end, -7)}
    )
    # Then both answer with the idle period, in the order named, and the third is untouched
    assert status == 200, answer
    assert [m["meter_id"] for m in answer["meters"]] == ids[:2]
    for meter in answer["meters"]:
        assert preferences(meter)[1] == ("IDLE", start, end)
    assert len(enrollment(invoke, ids[2])["participation_preferences"]) == 1
    # When all three are disenrolled, then asked to participate again
    status, answer = bulk(invoke, "disenroll", {"meter_ids": ids, "start_time": local(start + timedelta(days=60), 1)})
    assert status == 200 and [p[0] for p in preferences(answer["meters"][2])] == ["PARTICIPATE", "DISENROLL"]
    status, answer = bulk(invoke, "participate", {"meter_ids": ids, "start_time": local(start, 0)})
    assert status == 200, answer
    # Then each participates from then on (the idle periods and disenrollments that began later are gone)
    for meter in answer["meters"]:
        assert preferences(meter) == [("PARTICIPATE", preferences(meter)[0][1], INDEFINITELY)]


def test_a_bulk_request_is_all_or_nothing(invoke: Invoke, make_asset: MakeAsset, other_partner: IssuedKey) -> None:
    # Given two meters, one of which already idles in the week asked for, and another partner's meter
    ids = create(invoke, make_asset, "a-0", "a-1")
    [foreign] = create(invoke, make_asset, "f-0", partner_id=other_partner.partner_id)
    start = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=0)
    week = {"start_time": local(start, 0), "end_time": local(start + timedelta(days=7), 0)}
    assert bulk(invoke, "idle", {"meter_ids": ids[1:], **week})[0] == 200
    before = [enrollment(invoke, meter_id) for meter_id in ids]
    # When the week is asked for both: 400 naming the overlap, and the first meter is not idled either
    status, answer = bulk(invoke, "idle", {"meter_ids": ids, **week})
    assert status == 400 and "overlaps" in answer["title"], answer
    # When another partner's meter is among those named: 404, nothing changes
    status, answer = bulk(invoke, "disenroll", {"meter_ids": [ids[0], foreign], "start_time": week["start_time"]})
    assert status == 404, answer
    assert [enrollment(invoke, meter_id) for meter_id in ids] == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"meter_ids": [], "start_time": "2030-06-01T00:00:00-07:00"}, "meter_ids"),
        ({"meter_ids": ["not-a-uuid"], "start_time": "2030-06-01T00:00:00-07:00"}, "meter_ids"),
        ({"meter_ids": [UNKNOWN_METER] * 101, "start_time": "2030-06-01T00:00:00-07:00"}, "meter_ids"),
        ({"meter_ids": [UNKNOWN_METER], "start_time": "2030-06-01T00:00:00"}, "start_time"),
    ],
)
def test_a_bad_bulk_request_is_a_400_naming_the_field(invoke: Invoke, body: dict[str, Any], field: str) -> None:
    status, answer = bulk(invoke, "disenroll", body)
    assert status == 400 and field in str(answer["details"]), answer
