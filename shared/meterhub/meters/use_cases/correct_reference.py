"""Correcting meters' partner_references, keeping create's guarantee that a reference names one meter.

The moves are one conditional write in storage (`MeterRepository.move_references`): the new reference is taken
only if free, the old one released, the meter rewritten over the version that was read. A reference another
meter holds is refused with Leap's duplicate wording and changes nothing; of two corrections racing to one
free reference exactly one wins, and the other is refused as a duplicate of the winner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from meterhub.meters.api_models.responses import ListMeterDetailsResponse, MeterDetailsResponse
from meterhub.meters.ports import MeterRepository, ReferenceTaken
from meterhub.meters.records import MeterRecord
from meterhub.meters.use_cases.read_meters import load_meter, meter_details
from meterhub.platform.errors import Conflict, InvalidInput

MOVE_ATTEMPTS = 3


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DuplicateReference(Conflict):
    """409: the reference already names another of the partner's meters (Leap's DUPLICATE_REF_ID)."""

    def __init__(self, partner_reference: str, holder: str) -> None:
        super().__init__(
            f"Partner reference ID found on meter ID {holder}. A unique reference ID is required.",
            {"partner_reference": partner_reference, "meter_id": holder, "name": "DUPLICATE_REF_ID"},
        )


def with_reference(meter: MeterRecord, partner_reference: str) -> MeterRecord:
    """The meter under another reference: the record's key and the partner's document both name it."""
    return meter.model_copy(
        update={"partner_reference": partner_reference, "data": {**meter.data, "partner_reference": partner_reference}}
    )


def correct_reference(
    repo: MeterRepository,
    partner_id: str,
    meter_id: str,
    partner_reference: str,
    now: Callable[[], datetime] = _utc_now,
) -> MeterDetailsResponse:
    """One meter under its corrected reference (unchanged when it already has it)."""
    [meter] = correct_references(repo, partner_id, [(meter_id, partner_reference)], now).meters
    return meter


def correct_references(
    repo: MeterRepository,
    partner_id: str,
    corrections: Sequence[tuple[str, str]],
    now: Callable[[], datetime] = _utc_now,
) -> ListMeterDetailsResponse:
    """Every (meter_id, partner_reference) applied, or none: the meters as they are afterwards, in request order.

    A meter or a reference named twice is a 400 and an unknown meter a 404, before anything is written; a meter
    that changed since it was read is read again; whether a reference is free is the write's own check, never a
    separate read. References may trade places within one request (a swap or a chain).
    """
    _refuse_repeats(corrections)
    for _ in range(MOVE_ATTEMPTS):
        current = [(load_meter(repo, partner_id, meter_id), reference) for meter_id, reference in corrections]
        at = now()
        moves = [
            (
                with_reference(meter, reference).model_copy(update={"updated_at": at, "version": meter.version + 1}),
                meter.partner_reference,
                meter.version,
            )
            for meter, reference in current
            if meter.partner_reference != reference
        ]
        try:
            repo.move_references(moves)
        except ReferenceTaken as taken:
            raise DuplicateReference(str(taken.partner_reference), taken.meter_id) from None
        except Conflict:
            continue
        moved = {meter.meter_id: meter for meter, _, _ in moves}
        return ListMeterDetailsResponse(
            meters=[meter_details(moved.get(meter.meter_id, meter)) for meter, _ in current]
        )
    raise Conflict("The meters are being changed concurrently; retry")


def _refuse_repeats(corrections: Sequence[tuple[str, str]]) -> None:
    """A meter named twice has no single outcome, and two meters cannot share a reference."""
    meters: dict[str, int] = {}
    references: dict[str, int] = {}
    for index, (meter_id, reference) in enumerate(corrections):
        for seen, value, field in (
            (meters, meter_id.lower(), "meter_id"),
            (references, reference, "partner_reference"),
        ):
            if value in seen:
                raise InvalidInput(
                    "Each meter and each reference may be named once",
                    {f"meters.{index}.{field}": f"is already named by meters.{seen[value]}"},
                )
            seen[value] = index
