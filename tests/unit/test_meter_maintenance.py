"""maintain_meters and correct_reference over the InMemory repository: tags, archiving and reference
corrections, all or nothing, no lost update."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.records import MeterRecord
from meterhub.meters.use_cases import maintain_meters
from meterhub.meters.use_cases.correct_reference import DuplicateReference, correct_reference, correct_references
from meterhub.platform.errors import Conflict, InvalidInput, NotFound

from tests.fakes.meters import InMemoryMeterRepository

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
PARTNER = "partner-a"
OTHER = "partner-b"
T0 = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)


def meter_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def store(repo: InMemoryMeterRepository, make_asset: MakeAsset, n: int, partner_id: str = PARTNER, **extra: Any) -> str:
    document = make_asset(f"m-{n}")
    record = MeterRecord(
        meter_id=meter_id(n),
        partner_id=partner_id,
        partner_reference=document["partner_reference"],
        data=CreateMeter.model_validate(document).model_dump(mode="json", exclude_none=True),
        created_at=T0,
        updated_at=T0,
        **extra,
    )
    repo.create(record)
    return record.meter_id


def stored(repo: InMemoryMeterRepository, n: int, partner_id: str = PARTNER) -> MeterRecord:
    meter = repo.get(partner_id, meter_id(n))
    assert meter is not None
    return meter


def change(
    repo: InMemoryMeterRepository, ids: Sequence[str], how: maintain_meters.Change, partner_id: str = PARTNER
) -> list[MeterRecord]:
    maintain_meters.change_meters(repo, partner_id, ids, how, now=lambda: LATER)
    return [meter for meter in (repo.get(partner_id, i) for i in ids) if meter is not None]


# ----- tags ------------------------------------------------------------------------------------------------


def test_added_tags_are_appended_once_with_a_new_version_and_update_time(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    ids = [store(repo, make_asset, 0, tags=["a"]), store(repo, make_asset, 1)]
    [first, second] = change(repo, ids, maintain_meters.adding_tags(["b", "a", "b"]))
    assert (first.tags, first.version, first.updated_at) == (["a", "b"], 2, LATER)
    assert (second.tags, second.version, second.updated_at) == (["b", "a"], 2, LATER)


def test_a_meter_the_change_leaves_as_it_was_is_not_written(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    ids = [store(repo, make_asset, 0, tags=["a"]), store(repo, make_asset, 1)]
    answer = maintain_meters.change_meters(repo, PARTNER, ids, maintain_meters.adding_tags(["a"]), now=lambda: LATER)
    assert (stored(repo, 0).version, stored(repo, 0).updated_at) == (1, T0)
    assert (stored(repo, 1).tags, stored(repo, 1).version) == (["a"], 2)
    assert [m.tags for m in answer.meters] == [["a"], ["a"]]


def test_removed_tags_keep_the_others_in_order(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    ids = [store(repo, make_asset, 0, tags=["a", "b", "c"])]
    [meter] = change(repo, ids, maintain_meters.removing_tags(["b", "z"]))
    assert meter.tags == ["a", "c"]


def test_over_twenty_tags_on_any_meter_refuses_the_whole_request(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    ids = [store(repo, make_asset, 0), store(repo, make_asset, 1, tags=[f"t{n}" for n in range(19)])]
    with pytest.raises(InvalidInput) as refused:
        change(repo, ids, maintain_meters.adding_tags(["x", "y"]))
    details = refused.value.details
    assert isinstance(details, dict)
    assert details["meter_id"] == ids[1]
    assert "at most 20 tags" in details["tags"]
    assert (stored(repo, 0).tags, stored(repo, 0).version) == ([], 1)
    assert stored(repo, 1).version == 1


def test_another_partners_meter_is_not_found_and_nothing_changes(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    mine = store(repo, make_asset, 0)
    theirs = store(repo, make_asset, 1, partner_id=OTHER)
    with pytest.raises(NotFound) as missing:
        change(repo, [mine, theirs], maintain_meters.adding_tags(["x"]))
    assert missing.value.details == {"meter_id": theirs}
    assert stored(repo, 0).tags == stored(repo, 1, OTHER).tags == []


class RacingRepository(InMemoryMeterRepository):
    """Lets another writer tag meter 0 between this request's reads and its write, `races` times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def replace_all(self, replacements: Sequence[tuple[MeterRecord, int]]) -> None:
        if self.races:
            self.races -= 1
            current = self.meters[(PARTNER, meter_id(0))]
            self.meters[(PARTNER, meter_id(0))] = current.model_copy(
                update={"tags": [*current.tags, f"concurrent-{self.races}"], "version": current.version + 1}
            )
        super().replace_all(replacements)


def test_a_concurrent_change_is_kept_not_overwritten(make_asset: MakeAsset) -> None:
    # Given another writer that tags the meter after this request read it
    repo = RacingRepository(races=1)
    ids = [store(repo, make_asset, 0), store(repo, make_asset, 1)]

    # When this request adds a tag
    change(repo, ids, maintain_meters.adding_tags(["mine"]))

    # Then the other writer's tag survives: the request started again from the new version
    assert stored(repo, 0).tags == ["concurrent-0", "mine"]
    assert (stored(repo, 0).version, stored(repo, 1).version) == (3, 2)


def test_a_request_that_keeps_losing_races_is_a_conflict(make_asset: MakeAsset) -> None:
    repo = RacingRepository(races=maintain_meters.UPDATE_ATTEMPTS)
    ids = [store(repo, make_asset, 0), store(repo, make_asset, 1)]
    with pytest.raises(Conflict):
        change(repo, ids, maintain_meters.adding_tags(["mine"]))
    assert "mine" not in stored(repo, 0).tags
    assert stored(repo, 1).tags == []


# ----- archiving -------------------------------------------------------------------------------------------


def test_archiving_sets_the_flag_and_restoring_clears_it(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    ids = [store(repo, make_asset, 0), store(repo, make_asset, 1, is_archived=True)]
    [first, second] = change(repo, ids, maintain_meters.archiving(True))
    assert (first.is_archived, first.version, second.is_archived, second.version) == (True, 2, True, 1)
    [first, second] = change(repo, ids, maintain_meters.archiving(False))
    assert (first.is_archived, first.version, second.is_archived, second.version) == (False, 3, False, 2)
    assert first.data == stored(repo, 0).data and first.tags == []


def test_archiving_another_partners_meter_is_not_found_and_nothing_changes(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    mine = store(repo, make_asset, 0)
    theirs = store(repo, make_asset, 1, partner_id=OTHER)
    with pytest.raises(NotFound):
        change(repo, [mine, theirs], maintain_meters.archiving(True))
    assert not stored(repo, 0).is_archived
    assert not stored(repo, 1, OTHER).is_archived


# ----- correcting a partner reference ----------------------------------------------------------------------


def test_a_corrected_reference_names_the_meter_and_frees_the_old_one(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter = store(repo, make_asset, 0)
    details = correct_reference(repo, PARTNER, meter, "site-0-fixed", now=lambda: LATER)
    assert (str(details.meter_id), details.partner_reference, details.audit.updated_at) == (
        meter,
        "site-0-fixed",
        LATER,
    )
    moved = stored(repo, 0)
    assert (moved.partner_reference, moved.data["partner_reference"], moved.version) == (
        "site-0-fixed",
        "site-0-fixed",
        2,
    )
    assert repo.get_by_reference(PARTNER, "site-0-fixed") == moved
    assert repo.get_by_reference(PARTNER, "m-0") is None


def test_correcting_to_the_reference_the_meter_has_changes_nothing(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter = store(repo, make_asset, 0)
    assert correct_reference(repo, PARTNER, meter, "m-0").partner_reference == "m-0"
    assert stored(repo, 0).version == 1


def test_a_reference_another_meter_holds_is_refused_and_nothing_changes(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    meter, holder = store(repo, make_asset, 0), store(repo, make_asset, 1)
    with pytest.raises(DuplicateReference) as refused:
        correct_reference(repo, PARTNER, meter, "m-1")
    assert refused.value.status == 409
    assert refused.value.details == {"partner_reference": "m-1", "meter_id": holder, "name": "DUPLICATE_REF_ID"}
    assert holder in refused.value.title
    assert (stored(repo, 0).partner_reference, stored(repo, 0).version) == ("m-0", 1)
    assert repo.get_by_reference(PARTNER, "m-1") == stored(repo, 1)


def test_another_partners_reference_does_not_block_and_their_meter_is_not_found(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    mine = store(repo, make_asset, 0)
    theirs = store(repo, make_asset, 1, partner_id=OTHER)
    assert correct_reference(repo, PARTNER, mine, "m-1").partner_reference == "m-1"
    with pytest.raises(NotFound):
        correct_reference(repo, PARTNER, theirs, "anything")
    assert stored(repo, 1, OTHER).partner_reference == "m-1"


class MovingRepository(InMemoryMeterRepository):
    """Lets another writer tag meter 0 just before this request's move, once."""

    raced = False

    def move_references(self, moves: Sequence[tuple[MeterRecord, str, int]]) -> None:
        if not self.raced:
            self.raced = True
            current = self.meters[(PARTNER, meter_id(0))]
            self.meters[(PARTNER, meter_id(0))] = current.model_copy(
                update={"tags": ["concurrent"], "version": current.version + 1}
            )
        super().move_references(moves)


def test_a_concurrent_change_is_kept_when_the_reference_moves(make_asset: MakeAsset) -> None:
    repo = MovingRepository()
    meter = store(repo, make_asset, 0)
    correct_reference(repo, PARTNER, meter, "m-0-fixed")
    moved = stored(repo, 0)
    assert (moved.partner_reference, moved.tags, moved.version) == ("m-0-fixed", ["concurrent"], 3)


def test_bulk_corrections_may_swap_references_and_answer_in_request_order(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    a, b, c = (store(repo, make_asset, n) for n in range(3))
    answer = correct_references(repo, PARTNER, [(b, "m-0"), (a, "m-1"), (c, "m-2")], now=lambda: LATER)
    assert [(str(m.meter_id), m.partner_reference) for m in answer.meters] == [(b, "m-0"), (a, "m-1"), (c, "m-2")]
    assert [stored(repo, n).version for n in range(3)] == [2, 2, 1]
    assert repo.get_by_reference(PARTNER, "m-0") == stored(repo, 1)


@pytest.mark.parametrize(
    ("corrections", "field"),
    [
        ([(meter_id(0), "x-1"), (meter_id(0), "x-2")], "meters.1.meter_id"),
        ([(meter_id(0), "x-1"), (meter_id(1), "x-1")], "meters.1.partner_reference"),
    ],
    ids=["meter-twice", "reference-twice"],
)
def test_a_meter_or_reference_named_twice_is_refused_before_anything_is_read(
    make_asset: MakeAsset, corrections: list[tuple[str, str]], field: str
) -> None:
    repo = InMemoryMeterRepository()
    store(repo, make_asset, 0)
    store(repo, make_asset, 1)
    with pytest.raises(InvalidInput) as refused:
        correct_references(repo, PARTNER, corrections)
    assert list(refused.value.details) == [field]
    assert [stored(repo, n).version for n in range(2)] == [1, 1]


def test_one_taken_reference_refuses_every_correction_of_the_request(make_asset: MakeAsset) -> None:
    repo = InMemoryMeterRepository()
    a, b, holder = (store(repo, make_asset, n) for n in range(3))
    with pytest.raises(DuplicateReference) as refused:
        correct_references(repo, PARTNER, [(a, "fresh"), (b, "m-2")])
    assert refused.value.details == {"partner_reference": "m-2", "meter_id": holder, "name": "DUPLICATE_REF_ID"}
    assert [stored(repo, n).partner_reference for n in range(3)] == ["m-0", "m-1", "m-2"]
    assert repo.get_by_reference(PARTNER, "fresh") is None
