"""Correcting a meter's partner_reference, keeping create's guarantee that a reference names one meter.

The move is one conditional write in storage (`MeterRepository.move_reference`): the new reference is taken
only if free, the old one released, the meter rewritten over the version that was read. A reference another
meter holds is refused with Leap's duplicate wording and changes nothing; of two corrections racing to one
free reference exactly one wins, and the other is refused as a duplicate of the winner.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from meterhub.meters.api_models.responses import MeterDetailsResponse
from meterhub.meters.ports import MeterRepository, ReferenceTaken
from meterhub.meters.records import MeterRecord
from meterhub.meters.use_cases.read_meters import load_meter, meter_details
from meterhub.platform.errors import Conflict

MOVE_ATTEMPTS = 3


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
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MeterDetailsResponse:
    """The meter under its corrected reference (unchanged when it already has it). A meter that changed since
    it was read is read again; the reference check is the write's own, never a separate read."""
    for _ in range(MOVE_ATTEMPTS):
        meter = load_meter(repo, partner_id, meter_id)
        if meter.partner_reference == partner_reference:
            return meter_details(meter)
        moved = with_reference(meter, partner_reference).model_copy(
            update={"updated_at": now(), "version": meter.version + 1}
        )
        try:
            repo.move_reference(moved, meter.partner_reference, expected_version=meter.version)
        except ReferenceTaken as taken:
            raise DuplicateReference(partner_reference, taken.meter_id) from None
        except Conflict:
            continue
        return meter_details(moved)
    raise Conflict("The meter is being changed concurrently; retry")
