"""MeterRepository: InMemoryMeterRepository and DynamoMeterRepository keep one contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from meterhub.meters.adapters.dynamodb import DynamoMeterRepository
from meterhub.meters.ports import MeterQuery, MeterRepository, ReferenceTaken
from meterhub.meters.records import MeterRecord
from meterhub.platform.errors import AlreadyExists, Conflict

from tests.conftest import build_asset
from tests.fakes.meters import InMemoryMeterRepository

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def repo(implementation: str, env: dict[str, str]) -> MeterRepository:
    if implementation == "fake":
        return InMemoryMeterRepository()
    return DynamoMeterRepository(env["METERS_TABLE_NAME"])


def _meter(partner_id: str, reference: str, minutes: int = 0, *, region: str = "ISONE", **extra: object) -> MeterRecord:
    at = T0 + timedelta(minutes=minutes)
    return MeterRecord.model_validate(
        {
            "meter_id": str(uuid.uuid4()),
            "partner_id": partner_id,
            "partner_reference": reference,
            "data": build_asset(reference, region=region),
            "created_at": at,
            "updated_at": at,
            **extra,
        }
    )


def test_a_created_meter_reads_back_by_id_and_by_reference(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    meter = _meter(partner_ids[0], "ref-1", tags=["a"])
    repo.create(meter)
    assert repo.get(meter.partner_id, meter.meter_id) == meter
    assert repo.get_by_reference(meter.partner_id, "ref-1") == meter


def test_missing_meters_read_as_none(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    assert repo.get(partner_ids[0], str(uuid.uuid4())) is None
    assert repo.get_by_reference(partner_ids[0], "ref-none") is None


def test_a_taken_reference_names_the_meter_that_holds_it(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    first = _meter(partner_ids[0], "ref-1")
    repo.create(first)
    second = _meter(partner_ids[0], "ref-1", 1)
    with pytest.raises(ReferenceTaken) as raised:
        repo.create(second)
    assert raised.value.meter_id == first.meter_id
    assert repo.get(second.partner_id, second.meter_id) is None


def test_a_taken_meter_id_is_already_exists_and_keeps_the_stored_meter(
    repo: MeterRepository, partner_ids: tuple[str, str]
) -> None:
    first = _meter(partner_ids[0], "ref-1")
    repo.create(first)
    again = first.model_copy(update={"partner_reference": "ref-2"})
    with pytest.raises(AlreadyExists) as raised:
        repo.create(again)
    assert not isinstance(raised.value, ReferenceTaken)
    assert repo.get(first.partner_id, first.meter_id) == first
    assert repo.get_by_reference(first.partner_id, "ref-2") is None


def test_replace_writes_over_the_expected_version_only(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    meter = _meter(partner_ids[0], "ref-1")
    repo.create(meter)
    changed = meter.model_copy(update={"tags": ["x"], "version": 2, "updated_at": T0 + timedelta(hours=1)})
    repo.replace(changed, expected_version=1)
    assert repo.get(meter.partner_id, meter.meter_id) == changed
    with pytest.raises(Conflict):
        repo.replace(changed.model_copy(update={"tags": ["lost"], "version": 3}), expected_version=1)
    assert repo.get(meter.partner_id, meter.meter_id) == changed


def test_replacing_a_missing_meter_is_a_conflict(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    meter = _meter(partner_ids[0], "ref-1")
    with pytest.raises(Conflict):
        repo.replace(meter, expected_version=1)
    assert repo.get(meter.partner_id, meter.meter_id) is None


def test_search_pages_in_creation_order_with_a_cursor_while_more_may_follow(
    repo: MeterRepository, partner_ids: tuple[str, str]
) -> None:
    meters = [_meter(partner_ids[0], f"ref-{n}", minutes) for n, minutes in enumerate((30, 10, 50, 20, 40))]
    for meter in meters:
        repo.create(meter)
    in_order = sorted(meters, key=lambda meter: meter.created_at)
    seen: list[MeterRecord] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = repo.search(partner_ids[0], MeterQuery(), 2, cursor)
        seen.extend(page.meters)
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor
    assert seen == in_order
    assert pages == 3


def test_search_filters_with_paging(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    regions = ("ISONE", "ERCOT", "ISONE", "ISONE", "ERCOT")
    meters = [_meter(partner_ids[0], f"ref-{n}", n, region=region) for n, region in enumerate(regions)]
    for meter in meters:
        repo.create(meter)
    query = MeterQuery(transmission_region="ISONE", created_after=T0)  # created_after is strict: ref-0 is out
    first = repo.search(partner_ids[0], query, 1, None)
    assert [m.partner_reference for m in first.meters] == ["ref-2"]
    assert first.cursor is not None
    second = repo.search(partner_ids[0], query, 1, first.cursor)
    assert [m.partner_reference for m in second.meters] == ["ref-3"]
    assert second.cursor is None


def test_search_by_ids_and_references(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    meters = [_meter(partner_ids[0], f"ref-{n}", n) for n in range(4)]
    for meter in meters:
        repo.create(meter)
    by_ids = repo.search(
        partner_ids[0], MeterQuery(meter_ids=(meters[3].meter_id, meters[1].meter_id, "nope")), 10, None
    )
    assert by_ids.meters == [meters[1], meters[3]]
    by_refs = repo.search(partner_ids[0], MeterQuery(partner_references=("ref-2", "ref-0", "ref-x")), 10, None)
    assert by_refs.meters == [meters[0], meters[2]]
    both = MeterQuery(meter_ids=(meters[0].meter_id, meters[1].meter_id), partner_references=("ref-1", "ref-2"))
    assert repo.search(partner_ids[0], both, 10, None).meters == [meters[1]]


def test_a_partner_reaches_none_of_another_partners_meters(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    mine, theirs = partner_ids
    meter = _meter(mine, "ref-1")
    repo.create(meter)
    assert repo.get(theirs, meter.meter_id) is None
    assert repo.get_by_reference(theirs, "ref-1") is None
    assert repo.search(theirs, MeterQuery(), 10, None).meters == []
    assert repo.search(theirs, MeterQuery(meter_ids=(meter.meter_id,)), 10, None).meters == []
    assert repo.search(theirs, MeterQuery(partner_references=("ref-1",)), 10, None).meters == []
    repo.create(_meter(theirs, "ref-1"))  # a reference is unique per partner only
    with pytest.raises(Conflict):
        repo.replace(meter.model_copy(update={"partner_id": theirs, "version": 2}), expected_version=1)


def test_a_record_read_back_is_a_copy(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    meter = _meter(partner_ids[0], "ref-1")
    repo.create(meter)
    expected = meter.model_copy(deep=True)
    meter.tags.append("changed after create")
    read = repo.get(meter.partner_id, meter.meter_id)
    assert read is not None
    read.data["meter_type"] = "changed in memory"
    assert repo.get(meter.partner_id, meter.meter_id) == expected


def test_replace_all_writes_every_meter_or_none(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    first, second = _meter(partner_ids[0], "ref-1"), _meter(partner_ids[0], "ref-2", 1)
    repo.create(first)
    repo.create(second)
    later = T0 + timedelta(hours=1)
    tagged = [m.model_copy(update={"tags": ["t"], "version": 2, "updated_at": later}) for m in (first, second)]
    repo.replace_all([(tagged[0], 1), (tagged[1], 1)])
    assert [repo.get(m.partner_id, m.meter_id) for m in (first, second)] == tagged
    # one stale expected version: neither meter is written
    again = [m.model_copy(update={"tags": ["lost"], "version": 3}) for m in tagged]
    with pytest.raises(Conflict):
        repo.replace_all([(again[0], 2), (again[1], 1)])
    assert [repo.get(m.partner_id, m.meter_id) for m in (first, second)] == tagged
    # a meter that does not exist (or is another partner's) is a conflict too, and nothing is written
    stray = _meter(partner_ids[1], "ref-1")
    with pytest.raises(Conflict):
        repo.replace_all([(again[0], 2), (stray, 1)])
    assert repo.get(first.partner_id, first.meter_id) == tagged[0]
    assert repo.get(stray.partner_id, stray.meter_id) is None
    repo.replace_all([])


def _moved(meter: MeterRecord, reference: str) -> MeterRecord:
    return meter.model_copy(
        update={"partner_reference": reference, "version": meter.version + 1, "updated_at": T0 + timedelta(hours=1)}
    )


def test_move_reference_frees_the_old_reference_and_takes_the_new(
    repo: MeterRepository, partner_ids: tuple[str, str]
) -> None:
    meter = _meter(partner_ids[0], "ref-old")
    repo.create(meter)
    moved = _moved(meter, "ref-new")
    repo.move_references([(moved, "ref-old", 1)])
    assert repo.get(meter.partner_id, meter.meter_id) == moved
    assert repo.get_by_reference(meter.partner_id, "ref-new") == moved
    assert repo.get_by_reference(meter.partner_id, "ref-old") is None
    other = _meter(partner_ids[0], "ref-old", 1)  # the old reference is free for a new meter
    repo.create(other)
    assert repo.get_by_reference(meter.partner_id, "ref-old") == other


def test_move_reference_to_a_taken_reference_names_its_holder_and_changes_nothing(
    repo: MeterRepository, partner_ids: tuple[str, str]
) -> None:
    meter, holder = _meter(partner_ids[0], "ref-1"), _meter(partner_ids[0], "ref-2", 1)
    repo.create(meter)
    repo.create(holder)
    with pytest.raises(ReferenceTaken) as taken:
        repo.move_references([(_moved(meter, "ref-2"), "ref-1", 1)])
    assert (taken.value.meter_id, taken.value.partner_reference) == (holder.meter_id, "ref-2")
    assert repo.get_by_reference(meter.partner_id, "ref-1") == meter
    assert repo.get_by_reference(meter.partner_id, "ref-2") == holder


def test_move_reference_over_a_stale_version_is_a_conflict_and_changes_nothing(
    repo: MeterRepository, partner_ids: tuple[str, str]
) -> None:
    meter = _meter(partner_ids[0], "ref-1")
    repo.create(meter)
    with pytest.raises(Conflict) as conflict:
        repo.move_references([(_moved(meter, "ref-2").model_copy(update={"version": 3}), "ref-1", 2)])
    assert not isinstance(conflict.value, ReferenceTaken)
    assert repo.get_by_reference(meter.partner_id, "ref-1") == meter
    assert repo.get_by_reference(meter.partner_id, "ref-2") is None
    # a previous reference the meter does not hold is refused too (here: another meter's)
    holder = _meter(partner_ids[0], "ref-3", 1)
    repo.create(holder)
    with pytest.raises(Conflict):
        repo.move_references([(_moved(meter, "ref-2"), "ref-3", 1)])
    assert repo.get_by_reference(meter.partner_id, "ref-3") == holder
    assert repo.get_by_reference(meter.partner_id, "ref-2") is None


def test_move_reference_stays_in_the_partners_own_references(
    repo: MeterRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    meter = _meter(mine, "ref-1")
    repo.create(meter)
    repo.create(_meter(theirs, "ref-2"))  # another partner's reference does not block this one
    moved = _moved(meter, "ref-2")
    repo.move_references([(moved, "ref-1", 1)])
    assert repo.get_by_reference(mine, "ref-2") == moved
    assert repo.get_by_reference(theirs, "ref-2") != moved


def test_move_references_swap_and_chain_in_one_change(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    a, b, c = (_meter(partner_ids[0], f"ref-{n}", n) for n in (1, 2, 3))
    for meter in (a, b, c):
        repo.create(meter)
    # a and b trade references, c moves on to a new one
    moves = [(_moved(a, "ref-2"), "ref-1", 1), (_moved(b, "ref-1"), "ref-2", 1), (_moved(c, "ref-4"), "ref-3", 1)]
    repo.move_references(moves)
    assert [repo.get_by_reference(partner_ids[0], f"ref-{n}") for n in (1, 2, 3, 4)] == [
        moves[1][0],
        moves[0][0],
        None,
        moves[2][0],
    ]


def test_move_references_is_all_or_nothing(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    a, b, holder = (_meter(partner_ids[0], f"ref-{n}", n) for n in (1, 2, 3))
    for meter in (a, b, holder):
        repo.create(meter)
    # a's move is fine, b's new reference is held: ReferenceTaken names it, and a keeps its reference too
    with pytest.raises(ReferenceTaken) as taken:
        repo.move_references([(_moved(a, "ref-5"), "ref-1", 1), (_moved(b, "ref-3"), "ref-2", 1)])
    assert (taken.value.meter_id, taken.value.partner_reference) == (holder.meter_id, "ref-3")
    # b is stale: Conflict, and a's move is not applied either
    with pytest.raises(Conflict):
        repo.move_references([(_moved(a, "ref-5"), "ref-1", 1), (_moved(b, "ref-6"), "ref-2", 7)])
    assert [repo.get_by_reference(partner_ids[0], f"ref-{n}") for n in (1, 2, 3, 5, 6)] == [a, b, holder, None, None]
    repo.move_references([])


def test_enrollment_filters_and_the_review_list_agree(repo: MeterRepository, partner_ids: tuple[str, str]) -> None:
    from meterhub.meters.use_cases.enrolling import EnrollingMeterRepository

    # Given meters stored with their enrollment (evaluated at T0): one complete (ELIGIBLE), one missing fields
    # (PENDING, a partner action), and another partner's
    enrolling = EnrollingMeterRepository(repo, lambda: T0)
    complete = {
        "utility": {"utility_name": "EVERSOURCE", "electric_service_account_number": "51234567890"},
        "isone": {"in_connected_solutions": True},
        "customer": {**build_asset("x")["customer"], "dispatch_option": "DAILY"},
        "device": {"device_type": "BATTERY", "battery_power_capacity_kw": 5.0, "battery_energy_capacity_kwh": 13.5},
    }
    ready = _meter(partner_ids[0], "ready", 0)
    ready = ready.model_copy(update={"data": {**ready.data, **complete}})
    pending = _meter(partner_ids[0], "pending", 1)
    foreign = _meter(partner_ids[1], "foreign", 2)
    for meter in (ready, pending, foreign):
        enrolling.create(meter)

    def found(**query: object) -> list[str]:
        page = repo.search(partner_ids[0], MeterQuery(**query), 10, None)  # type: ignore[arg-type]
        return [meter.partner_reference for meter in page.meters]

    # Then the enrollment filters select by the stored state, within the partner
    assert found(global_statuses=("PENDING",)) == ["pending"]
    assert found(global_statuses=("ELIGIBLE", "PENDING")) == ["ready", "pending"]
    assert found(partner_action_required=True) == ["pending"]
    assert found(action_types=("NO_MISSING_FIELDS",)) == ["pending"]
    assert found(global_statuses=("ACTIVE",)) == []
    # And none is due at T0; every one is due by its review time, and none lacks a stored enrollment
    ours = set(partner_ids)
    assert [key for key in repo.due_for_review(T0) if key[0] in ours] == []
    later = max(m.enrollment.review_at for m in (repo.get(ready.partner_id, ready.meter_id),) if m and m.enrollment)
    due = {key for key in repo.due_for_review(later + timedelta(days=400)) if key[0] in ours}
    assert due == {(m.partner_id, m.meter_id) for m in (ready, pending, foreign)}
    assert [key for key in repo.without_enrollment() if key[0] in ours] == []
