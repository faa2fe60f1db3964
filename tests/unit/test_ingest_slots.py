"""Per-meter per-UTC-day slot records: indexing, the merge rule, grouping and batching."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from meterhub.intervals.rules.model import IntervalRow
from meterhub.intervals.rules.slots import (
    SLOTS_PER_DAY,
    DaySlots,
    day_batches,
    group_by_day,
    merge_day,
    slot_index,
    slot_start,
)

pytestmark = pytest.mark.usefixtures("no_network")

METER = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"
DAY = date(2025, 6, 1)


def interval(
    slot: int, net: float | None = 1.0, *, final: bool = False, meter: str = METER, day: date = DAY
) -> IntervalRow:
    start = slot_start(day, slot)
    consumed = None if net is None else net + 1.0
    return IntervalRow(meter, start, day, slot, net, consumed, 1.0, final)


def day_of(*rows: IntervalRow) -> DaySlots:
    return group_by_day(rows)[(rows[0].meter_id, rows[0].day)]


# ----- slot indexing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "slot"),
    [
        (datetime(2025, 6, 1, 0, 0, tzinfo=UTC), 0),
        (datetime(2025, 6, 1, 0, 15, tzinfo=UTC), 1),
        (datetime(2025, 6, 1, 12, 30, tzinfo=UTC), 50),
        (datetime(2025, 6, 1, 23, 45, tzinfo=UTC), 95),
        (datetime(2025, 3, 9, 7, 0, tzinfo=UTC), 28),
        (datetime(2025, 6, 1, 0, 0, tzinfo=timezone(timedelta(0))), 0),
    ],
)
def test_slot_index_is_minutes_since_utc_midnight_over_15(moment: datetime, slot: int) -> None:
    assert slot_index(moment) == slot
    assert slot_start(moment.date(), slot) == moment


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 6, 1, 0, 7, tzinfo=UTC),
        datetime(2025, 6, 1, 0, 15, 1, tzinfo=UTC),
        datetime(2025, 6, 1, 0, 15),
        datetime(2025, 6, 1, 0, 15, tzinfo=timezone(timedelta(hours=-4))),
    ],
    ids=["unaligned", "seconds", "naive", "offset"],
)
def test_slot_index_refuses_non_utc_or_unaligned_times(moment: datetime) -> None:
    with pytest.raises(ValueError):
        slot_index(moment)


@pytest.mark.parametrize("slot", [-1, SLOTS_PER_DAY])
def test_slot_start_refuses_slots_outside_the_day(slot: int) -> None:
    with pytest.raises(ValueError):
        slot_start(DAY, slot)


def test_the_last_slot_ends_at_the_next_utc_midnight() -> None:
    assert slot_start(DAY, 95) + timedelta(minutes=15) == datetime(2025, 6, 2, tzinfo=UTC)


# ----- grouping --------------------------------------------------------------------------------------------


def test_rows_are_grouped_per_meter_and_utc_day_into_their_slots() -> None:
    # Given rows of two meters over two days
    rows = [interval(0, 1.0), interval(95, 2.0), interval(3, 3.0, day=date(2025, 6, 2)), interval(3, 4.0, meter=OTHER)]

    # When they are grouped
    days = group_by_day(rows)

    # Then there is one record per meter-day, each value in its slot
    assert sorted(days) == [(METER, DAY), (METER, date(2025, 6, 2)), (OTHER, DAY)]
    first = days[(METER, DAY)]
    assert (first.net[0], first.net[95], first.count) == (1.0, 2.0, 2)
    assert (first.consumed[0], first.generated[95]) == (2.0, 1.0)
    assert list(first.slots()) == [0, 95]
    assert days[(OTHER, DAY)].net[3] == 4.0


def test_grouping_applies_the_merge_rule_in_row_order() -> None:
    # Given a slot sent non-final, then final, then non-final again; and another sent twice non-final
    rows = [interval(5, 1.0), interval(5, 2.0, final=True), interval(5, 3.0), interval(6, 1.0), interval(6, 9.0)]

    # When grouped
    day = day_of(*rows)

    # Then the final value stays and the later non-final value won elsewhere
    assert (day.net[5], day.is_final(5)) == (2.0, True)
    assert (day.net[6], day.is_final(6)) == (9.0, False)


def test_day_batches_flush_every_n_rows_and_stop_when_the_rows_run_out() -> None:
    # Given 250 rows of one meter over three days
    rows = [interval(slot % 96, day=DAY + timedelta(days=slot // 96)) for slot in range(250)]

    # When they are batched per 100 rows
    batches = list(day_batches(iter(rows), batch_rows=100))

    # Then there are 3 batches, holding 100, 100 and 50 slots
    assert [sum(day.count for day in batch.values()) for batch in batches] == [100, 100, 50]
    assert list(batches[1]) == [(METER, DAY + timedelta(days=1)), (METER, DAY + timedelta(days=2))]


def test_day_batches_of_no_rows_is_empty() -> None:
    assert list(day_batches([], batch_rows=10)) == []


# ----- the merge rule ------------------------------------------------------------------------------------


def test_merge_into_nothing_is_the_incoming_day() -> None:
    incoming = day_of(interval(1, 1.0))
    assert merge_day(None, incoming) == incoming


@pytest.mark.parametrize(
    ("stored_final", "incoming_final", "expected_net", "expected_final"),
    [
        (False, False, 2.0, False),
        (False, True, 2.0, True),
        (True, True, 2.0, True),
        (True, False, 1.0, True),
    ],
    ids=["estimate-by-estimate", "estimate-by-final", "final-by-final", "final-kept-over-estimate"],
)
def test_a_later_value_replaces_an_earlier_one_unless_it_would_replace_a_final_by_a_non_final(
    stored_final: bool, incoming_final: bool, expected_net: float, expected_final: bool
) -> None:
    # Given a stored slot and a later upload of the same slot
    stored = day_of(interval(10, 1.0, final=stored_final))
    incoming = day_of(interval(10, 2.0, final=incoming_final))

    # When merged
    merged = merge_day(stored, incoming)

    # Then the rule decides the whole slot (value and flag)
    assert (merged.net[10], merged.consumed[10], merged.is_final(10)) == (
        expected_net,
        expected_net + 1.0,
        expected_final,
    )


def test_a_partial_day_re_upload_changes_only_its_slots() -> None:
    # Given a stored full day and a re-upload of slots 40-43
    stored = day_of(*(interval(slot, 1.0) for slot in range(96)))
    incoming = day_of(*(interval(slot, 5.0) for slot in range(40, 44)))

    # When merged
    merged = merge_day(stored, incoming)

    # Then those four slots changed and the other 92 did not
    assert [slot for slot in range(96) if merged.net[slot] == 5.0] == [40, 41, 42, 43]
    assert merged.count == 96


def test_a_slot_may_drop_quantities_the_new_upload_does_not_give() -> None:
    # Given a stored slot with all three quantities, re-sent with net only
    stored = day_of(interval(7, 1.0))
    incoming = day_of(IntervalRow(METER, slot_start(DAY, 7), DAY, 7, 0.25, None, None, False))

    # When merged
    merged = merge_day(stored, incoming)

    # Then the slot is replaced as a whole
    assert (merged.net[7], merged.consumed[7], merged.generated[7]) == (0.25, None, None)


def test_merge_does_not_modify_its_inputs() -> None:
    stored = day_of(interval(1, 1.0))
    incoming = day_of(interval(1, 2.0), interval(2, 3.0))
    before = (DaySlots.from_record(stored.to_record()), DaySlots.from_record(incoming.to_record()))
    merge_day(stored, incoming)
    assert (stored, incoming) == before


def test_merging_adds_new_slots_and_keeps_old_ones() -> None:
    merged = merge_day(day_of(interval(1, 1.0, final=True)), day_of(interval(2, 2.0)))
    assert list(merged.slots()) == [1, 2]
    assert (merged.is_final(1), merged.is_final(2)) == (True, False)
    assert list(merged.missing())[:3] == [0, 3, 4]


# ----- the stored record ---------------------------------------------------------------------------------


def test_a_day_round_trips_through_its_record() -> None:
    # Given a day with a final slot and a net-only slot
    day = day_of(
        interval(0, 1.5, final=True), IntervalRow(METER, slot_start(DAY, 95), DAY, 95, -0.5, None, None, False)
    )

    # When it is turned into a record and back
    record = day.to_record()

    # Then it is equal, the record holds 96-long lists and two masks
    assert DaySlots.from_record(record) == day
    assert [len(record[name]) for name in ("net", "consumed", "generated")] == [96, 96, 96]
    assert (record["present"], record["final"]) == (1 | 1 << 95, 1)


@pytest.mark.parametrize(
    "record",
    [
        {"net": [None] * 95, "present": 0, "final": 0},
        {"present": 1 << 96, "final": 0},
        {"present": 1, "final": 2},
    ],
    ids=["short-list", "mask-too-wide", "final-without-value"],
)
def test_a_corrupt_record_is_refused(record: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DaySlots.from_record(record)


def test_put_reports_a_final_value_kept() -> None:
    day = DaySlots.empty()
    assert day.put(3, 1.0, None, None, True)
    assert not day.put(3, 2.0, None, None, False)
    assert (day.net[3], day.is_final(3), day.has(3), day.has(4)) == (1.0, True, True, False)
