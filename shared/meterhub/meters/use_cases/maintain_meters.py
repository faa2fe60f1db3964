"""Meter maintenance: tags and archiving, applied to several meters at once, all or nothing.

Every named meter is read and every change checked before anything is written (an unknown or another
partner's meter is a 404, a rule broken on any meter a 400, and nothing changes); the writes are then one
conditional transaction over the versions that were read, so a concurrent change to any of the meters makes
the whole request start again from fresh reads instead of overwriting it (no lost update).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from meterhub.meters.api_models.maintenance import MAX_TAGS_PER_METER
from meterhub.meters.api_models.responses import ListMeterDetailsResponse
from meterhub.meters.ports import MeterRepository
from meterhub.meters.records import MeterRecord
from meterhub.meters.use_cases.read_meters import load_meter, meter_details
from meterhub.platform.errors import Conflict, InvalidInput

UPDATE_ATTEMPTS = 3

Change = Callable[[MeterRecord], MeterRecord]
"""One meter as the request would leave it (the same record when nothing changes); raises InvalidInput."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def change_meters(
    repo: MeterRepository, partner_id: str, meter_ids: Sequence[UUID | str], change: Change, now: Clock = utc_now
) -> ListMeterDetailsResponse:
    """Apply `change` to every named meter (each once, in the order first named) or to none; answers the meters
    as they are afterwards."""
    return ListMeterDetailsResponse(
        meters=[meter_details(meter) for meter in apply_change(repo, partner_id, meter_ids, change, now)]
    )


def apply_change(
    repo: MeterRepository, partner_id: str, meter_ids: Sequence[UUID | str], change: Change, now: Clock = utc_now
) -> list[MeterRecord]:
    """The named meters as `change` leaves them, written in one conditional transaction. A meter the change
    leaves as it was is not written (no update time, no stream record)."""
    wanted = list(dict.fromkeys(str(meter_id) for meter_id in meter_ids))
    for _ in range(UPDATE_ATTEMPTS):
        current = [load_meter(repo, partner_id, meter_id) for meter_id in wanted]
        after = [change(meter) for meter in current]
        at = now()
        replacements = [
            (new.model_copy(update={"updated_at": at, "version": old.version + 1}), old.version)
            for old, new in zip(current, after, strict=True)
            if new != old
        ]
        try:
            repo.replace_all(replacements)
        except Conflict:
            continue
        written = {meter.meter_id: meter for meter, _ in replacements}
        return [written.get(meter.meter_id, meter) for meter in after]
    raise Conflict("The meters are being changed concurrently; retry")


def adding_tags(tags: Sequence[str]) -> Change:
    """Tags not on the meter yet are appended (a tag it has is left as is); over MAX_TAGS_PER_METER is a 400."""

    def add(meter: MeterRecord) -> MeterRecord:
        merged = list(dict.fromkeys([*meter.tags, *tags]))
        if len(merged) > MAX_TAGS_PER_METER:
            raise InvalidInput(
                f"A meter holds at most {MAX_TAGS_PER_METER} tags",
                {
                    "tags": f"must leave at most {MAX_TAGS_PER_METER} tags on a meter; meter {meter.meter_id} "
                    f"has {len(meter.tags)} and would have {len(merged)}",
                    "meter_id": meter.meter_id,
                },
            )
        return meter.model_copy(update={"tags": merged}) if merged != meter.tags else meter

    return add


def removing_tags(tags: Sequence[str]) -> Change:
    """The named tags are taken off the meter; a tag it does not have is no error."""

    def remove(meter: MeterRecord) -> MeterRecord:
        kept = [tag for tag in meter.tags if tag not in tags]
        return meter.model_copy(update={"tags": kept}) if kept != meter.tags else meter

    return remove


def archiving(archived: bool) -> Change:
    """`is_archived` set as asked; archiving an archived meter (or restoring a live one) changes nothing. Search
    shows archived meters unless `exclude_archived`; nothing else about the meter changes."""

    def archive(meter: MeterRecord) -> MeterRecord:
        return meter.model_copy(update={"is_archived": archived}) if meter.is_archived != archived else meter

    return archive
