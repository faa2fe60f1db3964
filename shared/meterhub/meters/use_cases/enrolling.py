"""Every meter is stored with its enrollment evaluated at the moment of the write.

The enrollment state is data the rules move forward (meters.rules.enrollment), so whoever writes a meter (the
meters API, the batch worker, Connect's sync and links, participation and maintenance requests, the scheduled
transition run) must store it evaluated; this wrapper of the repository port is that one place. A changed state
is then part of the write that caused it, and reaches the meter stream (and the webhook events) with it.

Evaluation time never goes backwards for a meter (a later write is evaluated at least at the stored state's
time). One subtlety: when the state's `review_at` has passed (a deadline went by and the scheduled run has not yet been
to this meter), the write first lets time move the state on, judged on the meter as stored, then applies the
change: a partner completing its data a minute after a deadline does not make the meter eligible at it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from meterhub.meters.ports import MeterPage, MeterQuery, MeterRepository
from meterhub.meters.records import MeterRecord
from meterhub.meters.rules.enrollment import evaluate
from meterhub.meters.use_cases.maintain_meters import Clock, utc_now


class EnrollingMeterRepository:
    """A MeterRepository whose writes store each meter's enrollment as evaluated at the write."""

    def __init__(self, inner: MeterRepository, clock: Clock = utc_now) -> None:
        self._inner = inner
        self._clock = clock

    def create(self, meter: MeterRecord) -> None:
        self._inner.create(self._settled(meter.model_copy(update={"enrollment": None}), self._clock()))

    def replace(self, meter: MeterRecord, expected_version: int) -> None:
        self._inner.replace(self._settled(meter, self._clock()), expected_version)

    def replace_all(self, replacements: Sequence[tuple[MeterRecord, int]]) -> None:
        now = self._clock()
        self._inner.replace_all([(self._settled(meter, now), version) for meter, version in replacements])

    def move_references(self, moves: Sequence[tuple[MeterRecord, str, int]]) -> None:
        now = self._clock()
        self._inner.move_references([(self._settled(meter, now), previous, v) for meter, previous, v in moves])

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None:
        return self._inner.get(partner_id, meter_id)

    def get_by_reference(self, partner_id: str, partner_reference: str) -> MeterRecord | None:
        return self._inner.get_by_reference(partner_id, partner_reference)

    def search(self, partner_id: str, query: MeterQuery, page_size: int, cursor: str | None) -> MeterPage:
        return self._inner.search(partner_id, query, page_size, cursor)

    def due_for_review(self, now: datetime) -> Iterator[tuple[str, str]]:
        return self._inner.due_for_review(now)

    def without_enrollment(self) -> Iterator[tuple[str, str]]:
        return self._inner.without_enrollment()

    def _settled(self, meter: MeterRecord, now: datetime) -> MeterRecord:
        previous = meter.enrollment
        if previous is not None:
            # Never evaluate before the state's own time: two hosts' clocks differ a little, and a state moved on
            # by a run at its scheduled time must not be moved back (an ACTIVE meter back to ELIGIBLE).
            now = max(now, previous.evaluated_at)
        if previous is not None and previous.review_at <= now:
            stored = self._inner.get(meter.partner_id, meter.meter_id)
            if stored is not None:
                previous = evaluate(stored, now)
        return meter.model_copy(update={"enrollment": evaluate(meter.model_copy(update={"enrollment": previous}), now)})
