"""Readings kept at a utility's own length (hourly, half-hourly, 5-minute) on moto: stored through the Dynamo
interval store, read back through functions/interval_uploads_api/app.py with their true end times, merged
with the 15-minute days in start order and paged across both kinds, invisible to another partner, and
counted as data (not gaps) by the gap search."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from meterhub.intervals.adapters.dynamodb import DynamoIntervalStore
from meterhub.intervals.rules.slots import DaySlots
from meterhub.meters.adapters.dynamodb import DynamoMeterRepository

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

GAPS = "/v1.1/missing-interval-data/search"
D1, D2, D3 = date(2025, 1, 30), date(2025, 1, 31), date(2025, 2, 1)


class Result(Protocol):
    """tests/conftest.py HttpResult."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any: ...


InvokeUploads = Callable[..., Result]
Invoke = Callable[..., tuple[int, Any]]
MakeAsset = Callable[..., dict[str, Any]]


def store() -> DynamoIntervalStore:
    return DynamoIntervalStore(os.environ["INTERVALS_TABLE_NAME"])


def create_meter(invoke: Invoke, make_asset: MakeAsset, reference: str) -> str:
    status, body = invoke("POST", "/v1.1/meters", {"provisional_asset": make_asset(reference)})
    assert status == 200, body
    return str(body["meter_id"])


def store_length(partner_id: str, meter_id: str, day: date, length: int, slots: range, net: float = 1.0) -> None:
    """Readings of `length` seconds in `slots` of `day` (consumed = net + 1, generated = 1; final)."""
    record = DaySlots.empty(length)
    for slot in slots:
        record.put(slot, net, net + 1, 1.0, final=True)
    store().merge_length(partner_id, meter_id, day, record)


def store_quarters(partner_id: str, meter_id: str, day: date, slots: range) -> None:
    record = DaySlots.empty()
    for slot in slots:
        record.put(slot, 0.5, 0.75, 0.25, final=False)
    store().merge(partner_id, meter_id, day, record)


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def read(invoke_uploads: InvokeUploads, meter_id: str, **query: str) -> Any:
    answer = invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query=query)
    assert answer.status == 200, answer.text
    return answer.json


def spans(body: Any) -> list[tuple[str, str]]:
    return [(i["interval_start_time_utc"], i["interval_end_time_utc"]) for i in body["intervals"]]


def test_hourly_data_reads_back_with_its_true_end_times(
    invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset, partner: IssuedKey
) -> None:
    # Given a day of hourly readings stored at their own length
    meter_id = create_meter(invoke, make_asset, "hourly")
    store_length(partner.partner_id, meter_id, D1, 3600, range(24), net=2.0)
    # When the partner reads the day
    body = read(invoke_uploads, meter_id, start=at(D1, 0), end=at(D2, 0))
    # Then there are 24 intervals, each an hour long, with the stored values and Leap's shape
    assert spans(body) == [(at(D1, h), at(D1, h + 1) if h < 23 else at(D2, 0)) for h in range(24)]
    assert body["intervals"][0] == {
        "interval_start_time_utc": at(D1, 0),
        "interval_end_time_utc": at(D1, 1),
        "energy_net_kwh": 2.0,
        "energy_consumed_kwh": 3.0,
        "energy_generated_kwh": 1.0,
        "final": True,
    }
    assert "next_page_token" not in body
    # And the item is the meter's LEN# item for that day and length, not a 15-minute day
    items = boto3.client("dynamodb", region_name="us-east-1").query(
        TableName=os.environ["INTERVALS_TABLE_NAME"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PARTNER#{partner.partner_id}#METER#{meter_id}"}},
    )["Items"]
    assert [(i["sk"]["S"], i["interval_length_seconds"]["N"], i["present_count"]["N"]) for i in items] == [
        ("LEN#2025-01-30#03600", "3600", "24")
    ]
    assert list(store().days(partner.partner_id, meter_id, D1, D3)) == []


EXPECTED = [
    (at(D1, 22), at(D1, 23)),
    (at(D1, 23), at(D2, 0)),
    (at(D2, 0), at(D2, 0, 15)),
    (at(D2, 0), at(D2, 1)),
    (at(D2, 0, 15), at(D2, 0, 30)),
    (at(D2, 0, 30), at(D2, 0, 35)),
    (at(D2, 0, 30), at(D2, 0, 45)),
    (at(D2, 0, 35), at(D2, 0, 40)),
    (at(D3, 0), at(D3, 0, 30)),
    (at(D3, 0), at(D3, 1)),
]


def store_mixed(partner_id: str, meter_id: str) -> None:
    """Hours 22-23 of D1; quarter-hours 0-2, hour 0 and 5-minute 6-7 of D2; half-hour 0 and hour 0 of D3."""
    store_length(partner_id, meter_id, D1, 3600, range(22, 24))
    store_quarters(partner_id, meter_id, D2, range(3))
    store_length(partner_id, meter_id, D2, 3600, range(1))
    store_length(partner_id, meter_id, D2, 300, range(6, 8))
    store_length(partner_id, meter_id, D3, 1800, range(1))
    store_length(partner_id, meter_id, D3, 3600, range(1))


def test_both_kinds_are_merged_in_start_order_and_paged_across(
    invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset, partner: IssuedKey
) -> None:
    meter_id = create_meter(invoke, make_asset, "mixed")
    store_mixed(partner.partner_id, meter_id)
    query = {"start": at(D1, 0), "end": at(D3, 12)}
    whole = read(invoke_uploads, meter_id, **query)
    # In start order, the shorter first at one start, each with its own end
    assert spans(whole) == EXPECTED
    assert [i["final"] for i in whole["intervals"]][2:5] == [False, True, False]
    # Pages of 3 walk the same list across both kinds, without loss or repeat (two pages end between two
    # intervals with the same start: D2 00:00 quarter-hour | hour, and D2 00:30 5-minute | quarter-hour)
    pages: list[tuple[str, str]] = []
    token: str | None = None
    for _ in range(10):
        page = read(invoke_uploads, meter_id, **query, page_size="3", **({"page_token": token} if token else {}))
        assert len(page["intervals"]) <= 3
        pages += spans(page)
        token = page.get("next_page_token")
        if token is None:
            break
    assert pages == EXPECTED
    # The window is on the start: the hour starting D2 00:00 is in [00:00, 00:31), the one before it is not
    window = read(invoke_uploads, meter_id, start=at(D1, 23, 30), end=at(D2, 0, 31))
    assert spans(window) == EXPECTED[2:7]


def test_another_partner_sees_none_of_it(
    invoke_uploads: InvokeUploads,
    invoke: Invoke,
    make_asset: MakeAsset,
    partner: IssuedKey,
    other_partner: IssuedKey,
) -> None:
    meter_id = create_meter(invoke, make_asset, "isolated")
    store_mixed(partner.partner_id, meter_id)
    # Rows written under the other partner's partition for the same meter id (never by the API: a stray write)
    store_length(other_partner.partner_id, meter_id, D2, 3600, range(12, 14), net=99.0)
    query = {"start": at(D1, 0), "end": at(D3, 12)}
    # The other partner cannot read the meter at all
    answer = invoke_uploads("GET", f"/v2/meters/{meter_id}/intervals", query=query, partner_id=other_partner.partner_id)
    assert answer.status == 404 and "meter_id" in answer.json["details"]
    # And the partner sees only its own rows
    assert spans(read(invoke_uploads, meter_id, **query)) == EXPECTED
    # And the other partner's gap search does not even name the meter
    body = {"meter_ids": [meter_id]}
    assert invoke_uploads("POST", GAPS, body, partner_id=other_partner.partner_id).json == {"missing_intervals": []}


def test_the_gap_search_does_not_report_quarter_hours_covered_by_other_lengths(
    invoke_uploads: InvokeUploads, invoke: Invoke, make_asset: MakeAsset, partner: IssuedKey
) -> None:
    # Given a meter created three days ago (09:05) with hourly data for the whole of the day before yesterday,
    # half-hourly data for yesterday's first 12 hours and 15-minute data for yesterday 18:00-18:15
    today = datetime.now(UTC).date()
    meter_id = create_meter(invoke, make_asset, "hourly-gaps")
    created = datetime(today.year, today.month, today.day, 9, 5, tzinfo=UTC) - timedelta(days=3)
    repo = DynamoMeterRepository(os.environ["METERS_TABLE_NAME"])
    meter = repo.get(partner.partner_id, meter_id)
    assert meter is not None
    repo.replace(meter.model_copy(update={"created_at": created, "version": meter.version + 1}), meter.version)
    store_length(partner.partner_id, meter_id, today - timedelta(days=2), 3600, range(24))
    store_length(partner.partner_id, meter_id, today - timedelta(days=1), 1800, range(24))
    store_quarters(partner.partner_id, meter_id, today - timedelta(days=1), range(72, 73))
    # When the partner searches up to the start of today
    body = {"missing_interval_window_end_date_time_utc": f"{today.isoformat()}T00:00:00Z"}
    answer = invoke_uploads("POST", GAPS, body)
    # Then only what no reading covers is missing
    assert answer.status == 200, answer.text
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    day = timedelta(days=1)
    expected = [
        (created + timedelta(minutes=10), midnight - 2 * day),
        (midnight - day + timedelta(hours=12), midnight - day + timedelta(hours=18)),
        (midnight - day + timedelta(hours=18, minutes=15), midnight),
    ]
    got = [
        (datetime.fromisoformat(g["start_date_time_utc"]), datetime.fromisoformat(g["end_date_time_utc"]))
        for g in answer.json["missing_intervals"]
    ]
    assert got == expected
