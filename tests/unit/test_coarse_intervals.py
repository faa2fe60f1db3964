"""Readings kept at the utility's own interval length (not 15 minutes): slot math, lengths refused, the merge
rule on the in-memory store, the 15-minute slots such readings cover, the utility sync storing them without
splitting them, and the read-back / gap search over both kinds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from meterhub.catalog.enums import TransmissionRegion, UtilityName
from meterhub.connect.records import Authorization, AuthorizationStatus
from meterhub.connect.use_cases.flow import token_context
from meterhub.connect.use_cases.sync import SyncResult, UtilitySync
from meterhub.intervals.rules.slots import (
    DaySlots,
    covered_slots,
    length_problem,
    length_slot_index,
    length_slot_start,
    merge_day,
)
from meterhub.intervals.use_cases.gaps import missing_ranges
from meterhub.intervals.use_cases.reads import read_intervals
from meterhub.meters.records import MeterRecord
from meterhub.platform import keys, page_tokens
from meterhub.platform.errors import DomainError, InvalidInput
from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint, TokenSet
from meterhub.utility_providers.records.registry import UtilityConfig, UtilityRegistry

from tests.fakes.connect import FakeTokenVault, InMemoryConnectRepository
from tests.fakes.intervals import InMemoryIntervalStore
from tests.fakes.meters import InMemoryMeterRepository

pytestmark = pytest.mark.usefixtures("no_network")

ACME = str(uuid.UUID(int=1))
BOREALIS = str(uuid.UUID(int=2))
METER = str(uuid.UUID(int=7))
D1, D2 = date(2025, 3, 1), date(2025, 3, 2)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def length_day(length: int, values: dict[int, tuple[float | None, bool]]) -> DaySlots:
    """A day of `length`-second slots: slot -> (net, final); consumed = net + 1, generated = 1."""
    day = DaySlots.empty(length)
    for slot, (net, final) in values.items():
        day.put(slot, net, None if net is None else net + 1, None if net is None else 1.0, final)
    return day


def details(error: pytest.ExceptionInfo[DomainError]) -> dict[str, Any]:
    assert isinstance(error.value.details, dict)
    return error.value.details


# ----- slot math and refused lengths ----------------------------------------------------------------------
@pytest.mark.parametrize(("length", "slots"), [(60, 1440), (300, 288), (1800, 48), (3600, 24), (86400, 1)])
def test_a_length_that_divides_a_day_has_86400_over_length_slots(length: int, slots: int) -> None:
    assert length_problem(length) is None
    assert DaySlots.empty(length).size == slots
    assert length_slot_start(D1, slots - 1, length) == at(D2, 0) - timedelta(seconds=length)


@pytest.mark.parametrize(
    ("length", "reason"),
    [
        (420, "length_does_not_divide_a_day"),  # 7 minutes: 205.7 per day
        (7 * 86400, "length_does_not_divide_a_day"),  # a week
        (2_592_000, "length_does_not_divide_a_day"),  # a 30-day billing period
        (0, "length_does_not_divide_a_day"),
        (-3600, "length_does_not_divide_a_day"),
        (30, "length_under_a_minute"),  # divides a day, but 2,880 slots do not fit one item comfortably
    ],
)
def test_odd_lengths_are_refused_with_the_reason(length: int, reason: str) -> None:
    assert length_problem(length) == reason
    with pytest.raises(ValueError, match=reason):
        DaySlots.empty(length)


def test_fifteen_minutes_is_not_a_length_day() -> None:
    # 15-minute readings belong in the DAY# items (the 15-minute DaySlots), never in a second copy
    assert length_problem(900) is not None
    assert DaySlots.empty(900) == DaySlots.empty() and "length" not in DaySlots.empty(900).to_record()
    with pytest.raises(ValueError, match="15-minute"):
        DaySlots.from_record({**DaySlots.empty().to_record(), "length": 900})


def test_the_slot_of_a_start_is_its_offset_since_utc_midnight_over_the_length() -> None:
    assert length_slot_index(at(D1, 13), 3600) == 13
    assert length_slot_index(at(D1, 13, 30), 1800) == 27
    assert length_slot_index(at(D1, 0, 5), 300) == 1
    assert length_slot_index(at(D1, 0), 86400) == 0
    assert length_slot_start(D1, 27, 1800) == at(D1, 13, 30)
    with pytest.raises(ValueError, match="boundary"):
        length_slot_index(at(D1, 13, 30), 3600)  # an hour starting at :30 is not on the hourly grid
    with pytest.raises(ValueError, match="boundary"):
        length_slot_index(at(D1, 13) + timedelta(microseconds=1), 3600)
    with pytest.raises(ValueError, match="UTC"):
        length_slot_index(datetime(2025, 3, 1, 13, tzinfo=timezone(timedelta(hours=1))), 3600)
    with pytest.raises(ValueError, match="UTC"):
        length_slot_index(datetime(2025, 3, 1, 13), 3600)  # naive on purpose
    with pytest.raises(ValueError, match="slot"):
        length_slot_start(D1, 24, 3600)


def test_a_dst_day_still_has_24_utc_hours() -> None:
    # 2025-11-02 has 25 local hours in the US, but slots are UTC: 24 of them, as on any other day
    day = date(2025, 11, 2)
    assert [length_slot_start(day, s, 3600).hour for s in range(24)] == list(range(24))


def test_a_length_day_record_round_trips_and_bad_records_are_refused() -> None:
    day = length_day(3600, {0: (0.5, True), 23: (None, False)})
    record = day.to_record()
    assert record["length"] == 3600 and len(record["net"]) == 24
    assert DaySlots.from_record(record) == day
    for broken in (
        {**record, "net": record["net"][:-1]},
        {**record, "present": 1 << 24},
        {**record, "final": 1 << 5},  # final but not present
        {**record, "length": 900},
        {**record, "length": 420},
    ):
        with pytest.raises(ValueError):
            DaySlots.from_record(broken)


def test_a_slot_outside_the_day_is_refused() -> None:
    with pytest.raises(ValueError, match="slot"):
        DaySlots.empty(3600).put(24, 1.0, 1.0, None, True)


# ----- the merge rule ----------------------------------------------------------------------------------------
def test_a_later_value_replaces_an_earlier_one_except_final_by_non_final() -> None:
    store = InMemoryIntervalStore()
    store.merge_length(ACME, METER, D1, length_day(3600, {0: (1.0, False), 1: (1.0, True), 2: (1.0, False)}))
    store.merge_length(ACME, METER, D1, length_day(3600, {0: (2.0, False), 1: (2.0, False), 3: (2.0, True)}))
    [(day, stored)] = list(store.length_days(ACME, METER, D1, D1))
    assert day == D1 and list(stored.slots()) == [0, 1, 2, 3]
    assert stored.net[:4] == [2.0, 1.0, 1.0, 2.0]  # slot 1 was final: the non-final 2.0 does not replace it
    assert [stored.is_final(s) for s in range(4)] == [False, True, False, True]
    # A final value replaces a final one, as a whole (net, consumed, generated together)
    store.merge_length(ACME, METER, D1, length_day(3600, {1: (5.0, True)}))
    [(_, stored)] = list(store.length_days(ACME, METER, D1, D1))
    assert (stored.net[1], stored.consumed[1], stored.generated[1], stored.is_final(1)) == (5.0, 6.0, 1.0, True)


def test_merging_the_same_readings_twice_changes_nothing() -> None:
    store = InMemoryIntervalStore()
    incoming = length_day(1800, {s: (0.1 * s, True) for s in range(48)})
    store.merge_length(ACME, METER, D1, incoming)
    once = list(store.length_days(ACME, METER, D1, D1))
    store.merge_length(ACME, METER, D1, incoming)
    assert list(store.length_days(ACME, METER, D1, D1)) == once


def test_merge_leaves_both_days_untouched() -> None:
    existing = length_day(3600, {0: (1.0, False)})
    incoming = length_day(3600, {0: (2.0, False)})
    before = (existing.to_record(), incoming.to_record())
    merge_day(existing, incoming)
    assert (existing.to_record(), incoming.to_record()) == before


def test_two_lengths_are_two_items_never_one() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        merge_day(length_day(3600, {0: (1.0, True)}), length_day(1800, {0: (1.0, True)}))
    store = InMemoryIntervalStore()
    store.merge_length(ACME, METER, D1, length_day(3600, {0: (1.0, True)}))
    store.merge_length(ACME, METER, D1, length_day(1800, {0: (2.0, True)}))
    store.merge_length(ACME, METER, D2, length_day(300, {0: (3.0, True)}))
    listed = [(d, s.length) for d, s in store.length_days(ACME, METER, D1, D2)]
    assert listed == [(D1, 1800), (D1, 3600), (D2, 300)]  # (day, length) order
    assert [(d, s.length) for d, s in store.length_days(ACME, METER, D2, D2)] == [(D2, 300)]
    assert store.items == {}  # nothing reaches the 15-minute days
    assert list(store.days(ACME, METER, D1, D2)) == []


def test_length_days_belong_to_one_partner_and_one_meter() -> None:
    store = InMemoryIntervalStore()
    store.merge_length(ACME, METER, D1, length_day(3600, {0: (1.0, True)}))
    assert list(store.length_days(BOREALIS, METER, D1, D1)) == []
    assert list(store.length_days(ACME, str(uuid.UUID(int=8)), D1, D1)) == []


def test_the_sort_key_stays_out_of_the_fifteen_minute_range_and_orders_by_day_then_length() -> None:
    sort_keys = [keys.length_day(D1, n) for n in (300, 3600, 86400)] + [keys.length_day(D2, 60)]
    assert sort_keys == sorted(sort_keys) and sort_keys[0] == "LEN#2025-03-01#00300"
    assert all(not ("DAY#2025-03-01" <= k <= "DAY#2025-03-02") for k in sort_keys)
    assert all("LEN#2025-03-01" <= k <= "LEN#2025-03-02#~" for k in sort_keys)


# ----- the 15-minute slots other lengths cover ---------------------------------------------------------------
def bits(mask: int) -> list[int]:
    return [slot for slot in range(96) if mask >> slot & 1]


def test_an_hourly_reading_covers_its_four_quarter_hours() -> None:
    assert bits(covered_slots([length_day(3600, {1: (1.0, True), 23: (1.0, True)})])) == [4, 5, 6, 7, 92, 93, 94, 95]
    assert bits(covered_slots([length_day(86400, {0: (1.0, True)})])) == list(range(96))
    assert covered_slots([]) == 0 and covered_slots([DaySlots.empty(3600)]) == 0


def test_finer_readings_cover_a_quarter_hour_only_when_all_are_there() -> None:
    # 5-minute readings 0-2 cover 00:00-00:15; 3 and 4 without 5 leave 00:15-00:30 partly empty
    assert bits(covered_slots([length_day(300, {s: (1.0, True) for s in range(5)})])) == [0]


def test_a_grid_that_does_not_nest_in_quarter_hours_covers_by_span() -> None:
    # 20-minute readings: [00:00, 00:20) covers 00:00-00:15 alone; 00:15-00:30 needs the next one too
    assert bits(covered_slots([length_day(1200, {0: (1.0, True)})])) == [0]
    assert bits(covered_slots([length_day(1200, {0: (1.0, True), 1: (1.0, True)})])) == [0, 1]
    # Two lengths together: 00:15-00:30 is [00:15, 00:20) of the 20-minute reading + two 5-minute ones
    together = [length_day(1200, {0: (1.0, True)}), length_day(300, {4: (1.0, True), 5: (1.0, True)})]
    assert bits(covered_slots(together)) == [0, 1]


# ----- the utility sync -----------------------------------------------------------------------------------
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DAY_1 = date(2026, 11, 27)
POINT = ServicePoint(
    usage_point_id="up-1",
    address=ServiceAddress(street_1="1 Main St", city="Oakland", state_or_province_code="CA", postal_code="94612"),
    customer_classification="RESIDENTIAL",
    account_number="acct-1",
)


def series(length: int, count: int, first: datetime | None = None, **values: float) -> list[IntervalReading]:
    """`count` consecutive readings of `length` seconds from `first` (default DAY_1 00:00Z)."""
    begins = first or at(DAY_1, 0)
    return [
        IntervalReading(start=begins + timedelta(seconds=length * n), duration_seconds=length, **values)
        for n in range(count)
    ]


@dataclass
class FakeUtility:
    """The adapter surface the sync uses: one service point and the readings it is given."""

    readings: list[IntervalReading] = field(default_factory=list)

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        raise AssertionError("not used by the sync")

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        raise AssertionError("not used by the sync")

    def refresh(self, tokens: TokenSet) -> TokenSet:
        raise AssertionError("the stored tokens are fresh")

    def revoke(self, tokens: TokenSet) -> None:
        raise AssertionError("not used by the sync")

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        return [POINT]

    def interval_data(
        self, tokens: TokenSet, usage_point_id: str, start: datetime, end: datetime
    ) -> list[IntervalReading]:
        # Every reading is sent with the window that ends today, the newest (naive starts included): once per
        # sync; the older windows are empty, which ends the first sync's backfill
        return list(self.readings) if end == NOW.replace(hour=0, minute=0, second=0, microsecond=0) else []


class SyncWorld:
    def __init__(self, readings: list[IntervalReading]) -> None:
        self.connect = InMemoryConnectRepository()
        self.meters = InMemoryMeterRepository()
        self.intervals = InMemoryIntervalStore()
        self.vault = FakeTokenVault()
        self.utility = FakeUtility(readings)
        self.authorization = Authorization(
            authorization_id=str(uuid.uuid4()),
            partner_id=ACME,
            session_id="s1",
            ref_id="site-42",
            transmission_region=TransmissionRegion.CAISO,
            utility_id="demo",
            utility_name=UtilityName.DEMO,
            status=AuthorizationStatus.COMPLETED,
            api_base_url="http://127.0.0.1:3000",
            initiated_at=NOW,
            updated_at=NOW,
        )
        tokens = TokenSet(access_token="stored", expires_at=NOW + timedelta(hours=1), scope="FB=1")
        self.connect.auths[(ACME, self.authorization.authorization_id)] = (
            self.authorization,
            self.vault.seal(tokens, token_context(self.authorization)),
        )

    def adapter_for(self, config: UtilityConfig, base_url: str) -> UtilityAdapter:
        return self.utility

    def sync(self) -> SyncResult:
        sync = UtilitySync(
            self.connect,
            self.meters,
            self.intervals,
            self.vault,
            self.adapter_for,
            lambda: NOW,
            utilities=UtilityRegistry(),
        )
        result = sync.run(ACME, self.authorization.authorization_id)
        assert result.status == "COMPLETED", result
        return result

    def stored(self, length: int) -> dict[datetime, tuple[float | None, float | None, float | None, bool]]:
        """Every stored value of `length` seconds: start -> (net, consumed, generated, final)."""
        values = {}
        for (_, _, day, held_length), held in self.intervals.length_items.items():
            if held_length != length:
                continue
            for slot in held.slots():
                begins = length_slot_start(day, slot, length)
                values[begins] = (held.net[slot], held.consumed[slot], held.generated[slot], held.is_final(slot))
        return values


def test_48_hourly_readings_are_48_hourly_values_and_no_quarter_hour() -> None:
    world = SyncWorld(series(3600, 48, consumed_kwh=1.25))
    result = world.sync()
    assert (result.readings_stored, result.readings_by_length, result.skipped_readings) == (48, {3600: 48}, 0)
    assert world.intervals.items == {}  # zero 15-minute slots: nothing was split
    stored = world.stored(3600)
    assert sorted(stored) == [at(DAY_1, 0) + timedelta(hours=h) for h in range(48)]
    assert set(stored.values()) == {(1.25, 1.25, None, True)}  # the utility's data is final


def test_half_hourly_readings_are_stored_at_30_minutes() -> None:
    world = SyncWorld(series(1800, 96, consumed_kwh=0.5))
    result = world.sync()
    assert (result.readings_stored, result.readings_by_length) == (96, {1800: 96})
    assert world.intervals.items == {} and len(world.stored(1800)) == 96
    assert [day.count for day in world.intervals.length_items.values()] == [48, 48]


def test_each_length_goes_to_its_own_storage_and_is_counted_apart() -> None:
    quarter_hours = series(900, 96, consumed_kwh=0.25)
    hours = series(3600, 24, at(DAY_1 + timedelta(days=1), 0), consumed_kwh=1.0)
    five_minutes = series(300, 12, at(DAY_1 - timedelta(days=1), 6), consumed_kwh=0.1)
    world = SyncWorld(quarter_hours + hours + five_minutes)
    result = world.sync()
    assert result.readings_by_length == {900: 96, 3600: 24, 300: 12}
    assert result.readings_stored == 96 + 24 + 12 and result.skipped_readings == 0
    assert list(world.intervals.items) == [(ACME, result.meters_created[0], DAY_1)]


def test_readings_that_cannot_be_kept_at_their_length_are_skipped_with_the_reason() -> None:
    kept = series(3600, 2, consumed_kwh=1.0)
    readings = [
        *kept,
        *series(420, 3, consumed_kwh=1.0),  # 7 minutes do not tile a day
        IntervalReading(start=at(DAY_1, 0), duration_seconds=2_592_000, consumed_kwh=700.0),  # a billing month
        *series(30, 2, consumed_kwh=0.01),  # shorter than a minute
        IntervalReading(start=at(DAY_1, 5, 30), duration_seconds=3600, consumed_kwh=1.0),  # hour starting at :30
        IntervalReading(start=at(DAY_1, 5, 10), duration_seconds=900, consumed_kwh=1.0),  # quarter at :10
        IntervalReading(start=datetime(2026, 11, 27, 7), duration_seconds=3600, consumed_kwh=1.0),  # naive
    ]
    result = SyncWorld(readings).sync()
    assert result.readings_by_length == {3600: 2}
    assert result.skipped_by_reason == {
        "length_does_not_divide_a_day": 4,
        "length_under_a_minute": 2,
        "start_not_on_a_multiple_of_its_length": 2,
        "start_without_utc_offset": 1,
    }
    assert result.skipped_readings == 9 == sum(result.skipped_by_reason.values())


def test_a_start_with_another_utc_offset_is_the_same_instant() -> None:
    # 01:00+01:00 is 00:00Z: slot 0 of the UTC day, not skipped
    begins = datetime(2026, 11, 27, 1, tzinfo=timezone(timedelta(hours=1)))
    world = SyncWorld([IntervalReading(start=begins, duration_seconds=3600, consumed_kwh=2.0)])
    assert world.sync().readings_by_length == {3600: 1}
    assert list(world.stored(3600)) == [at(DAY_1, 0)]


@pytest.mark.parametrize("length", [900, 3600])
def test_consumption_and_generation_of_one_interval_are_one_value(length: int) -> None:
    # ESPI sends the two flow directions as two readings; neither may replace the other
    readings = [*series(length, 2, consumed_kwh=3.0), *series(length, 2, generated_kwh=1.0)]
    readings.sort(key=lambda r: (r.start, r.consumed_kwh is None))  # as the adapter sorts them
    world = SyncWorld(readings)
    result = world.sync()
    assert result.readings_by_length == {length: 2}
    if length == 900:
        [slots] = world.intervals.items.values()
        values = {(slots.net[s], slots.consumed[s], slots.generated[s]) for s in slots.slots()}
    else:
        values = {stored[:3] for stored in world.stored(length).values()}
    assert values == {(2.0, 3.0, 1.0)}


def test_rerunning_the_sync_stores_the_same_values() -> None:
    world = SyncWorld(series(3600, 48, consumed_kwh=1.25) + series(1800, 4, at(DAY_1, 6), generated_kwh=0.5))
    world.sync()
    before = dict(world.intervals.length_items)
    again = world.sync()
    assert again.readings_by_length == {3600: 48, 1800: 4}
    assert world.intervals.length_items == before


# ----- read-back and gaps over both kinds (the in-memory store) ---------------------------------------------
def meter_record() -> MeterRecord:
    return MeterRecord(
        meter_id=METER,
        partner_id=ACME,
        partner_reference="ref-0007",
        data={"transmission_region": "ISONE", "meter_type": "DEVICE", "customer_classification": "RESIDENTIAL"},
        created_at=at(D1, 0) - timedelta(days=10),
        updated_at=at(D1, 0) - timedelta(days=10),
    )


@pytest.fixture
def world() -> tuple[InMemoryMeterRepository, InMemoryIntervalStore]:
    """D1: quarter-hours 00:00 and 01:00, hours 00:00 and 01:00, 5-minute readings 02:00, 02:05, 02:10;
    D2: quarter-hour 00:00 and half-hour 00:00."""
    meters, store = InMemoryMeterRepository(), InMemoryIntervalStore()
    meters.create(meter_record())
    quarters = DaySlots.empty()
    quarters.put(0, 0.25, 0.25, None, True)
    quarters.put(4, 0.5, 0.5, None, False)
    store.merge(ACME, METER, D1, quarters)
    next_day = DaySlots.empty()
    next_day.put(0, 0.75, 0.75, None, True)
    store.merge(ACME, METER, D2, next_day)
    store.merge_length(ACME, METER, D1, length_day(3600, {0: (1.0, True), 1: (2.0, True)}))
    store.merge_length(ACME, METER, D1, length_day(300, {24: (0.1, True), 25: (0.2, True), 26: (0.3, True)}))
    store.merge_length(ACME, METER, D2, length_day(1800, {0: (1.5, True)}))
    return meters, store


def read(world: tuple[InMemoryMeterRepository, InMemoryIntervalStore], **arguments: Any) -> Any:
    values = {"start": at(D1, 0), "end": at(D2, 12), **arguments}
    return read_intervals(world[0], world[1], ACME, METER, **values)


def spans(answer: Any) -> list[tuple[datetime, datetime]]:
    return [(i.interval_start_time_utc, i.interval_end_time_utc) for i in answer.intervals]


EXPECTED = [
    (at(D1, 0), at(D1, 0, 15)),
    (at(D1, 0), at(D1, 1)),
    (at(D1, 1), at(D1, 1, 15)),
    (at(D1, 1), at(D1, 2)),
    (at(D1, 2), at(D1, 2, 5)),
    (at(D1, 2, 5), at(D1, 2, 10)),
    (at(D1, 2, 10), at(D1, 2, 15)),
    (at(D2, 0), at(D2, 0, 15)),
    (at(D2, 0), at(D2, 0, 30)),
]


def test_both_kinds_come_back_in_start_order_with_their_true_end(
    world: tuple[InMemoryMeterRepository, InMemoryIntervalStore],
) -> None:
    answer = read(world)
    assert spans(answer) == EXPECTED and answer.next_page_token is None
    hour = answer.intervals[1]
    assert (hour.energy_net_kwh, hour.energy_consumed_kwh, hour.energy_generated_kwh, hour.final) == (
        1.0,
        2.0,
        1.0,
        True,
    )


@pytest.mark.parametrize("size", [1, 2, 3, 4, 8])
def test_pages_walk_both_kinds_without_loss_or_repeat(
    world: tuple[InMemoryMeterRepository, InMemoryIntervalStore], size: int
) -> None:
    seen: list[tuple[datetime, datetime]] = []
    token: str | None = None
    for _ in range(20):
        page = read(world, page_size=size, page_token=token)
        seen += spans(page)
        token = page.next_page_token
        if token is None:
            break
    assert seen == EXPECTED


def test_an_interval_is_returned_when_its_start_is_in_the_window(
    world: tuple[InMemoryMeterRepository, InMemoryIntervalStore],
) -> None:
    # 00:30-02:07: the hour starting 01:00 and the 5-minute readings starting 02:00 and 02:05, not the hour
    # starting at 00:00 that ends inside the window
    answer = read(world, start=at(D1, 0, 30), end=at(D1, 2, 7))
    assert spans(answer) == EXPECTED[2:6]
    assert spans(read(world, start=at(D1, 2, 1), end=at(D1, 3))) == EXPECTED[5:7]


def test_a_token_from_before_other_lengths_still_means_after_that_quarter_hour(
    world: tuple[InMemoryMeterRepository, InMemoryIntervalStore],
) -> None:
    fingerprint = page_tokens.fingerprint({"meter_id": METER, "start": at(D1, 0), "end": at(D2, 12)})
    old = page_tokens.encode(f"AFTER#{at(D1, 0).isoformat()}", fingerprint)
    assert spans(read(world, page_token=old)) == EXPECTED[1:]


@pytest.mark.parametrize(
    "cursor", ["AFTER#2025-03-01T00:00:00+00:00#420", "AFTER#2025-03-01T00:00:00#3600", "AFTER#x#1"]
)
def test_a_forged_cursor_is_a_400(world: tuple[InMemoryMeterRepository, InMemoryIntervalStore], cursor: str) -> None:
    fingerprint = page_tokens.fingerprint({"meter_id": METER, "start": at(D1, 0), "end": at(D2, 12)})
    with pytest.raises(InvalidInput) as error:
        read(world, page_token=page_tokens.encode(cursor, fingerprint))
    assert "page_token" in details(error)


def test_a_cursor_past_the_window_end_answers_an_empty_page(
    world: tuple[InMemoryMeterRepository, InMemoryIntervalStore],
) -> None:
    fingerprint = page_tokens.fingerprint({"meter_id": METER, "start": at(D1, 0), "end": at(D2, 12)})
    token = page_tokens.encode(f"AFTER#{at(D2, 13).isoformat()}#3600", fingerprint)
    assert read(world, page_token=token).intervals == []


def test_quarter_hours_covered_by_other_lengths_are_not_missing(
    world: tuple[InMemoryMeterRepository, InMemoryIntervalStore],
) -> None:
    # D1 00:00-02:00 by the hours, 02:00-02:15 by the three 5-minute readings; D2 00:00-00:30 by the half-hour
    ranges = list(missing_ranges(world[1], ACME, METER, at(D1, 0), at(D2, 6)))
    assert ranges == [(at(D1, 2, 15), at(D2, 0)), (at(D2, 0, 30), at(D2, 6))]
    # Another partner's storage of the same meter id covers nothing of this partner's
    assert list(missing_ranges(world[1], BOREALIS, METER, at(D1, 0), at(D1, 1))) == [(at(D1, 0), at(D1, 1))]
