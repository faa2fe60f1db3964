"""Utility sync: after a completed authorization, turn the customer's service points into meters and store
the utility's interval data.

Rules (documented in the README):
- One meter per service point (ESPI UsagePoint): `meter_type: UTILITY_METER`, created by UTILITY,
  `connection_references: [refId]`, the service address and utility account fields from Green Button.
- `partner_reference` = `<refId>:<UTILITY>:<usage point id>` (`connect-<authorization id>` stands in for a
  missing refId). It is unique per partner however many service points one customer has, and the same on
  every run, so re-running the sync finds the meters it made and changes nothing.
- Merge: when the authorization came through a partner-issued link (`link_id`, see connect.use_cases.links), a
  partner-created meter whose `customer.partner_customer_reference` equals the refId is linked to a
  service point instead of a new meter being created: to the one whose account number matches the meter's
  `utility.electric_service_account_number`, or, when the customer has exactly one service point and one such
  meter, to that one. Utility fields the partner left empty are filled in; the partner's own values stay.
  A plain link never merges (anyone who knows a refId can write one): its service points become new meters.
- Intervals are stored through the interval storage at the utility's own length, values final: 15-minute
  readings in the same day items as partner uploads, any other length L in the meter's day items of that
  length (a `DaySlots` of that length, 86400/L slots). A reading is never split into finer slots (that would
  invent data the utility never measured). The consumption and the generation reading of one interval (ESPI
  sends them as two readings, flow directions 1 and 19) are stored together as one value: net = consumed -
  generated.
- A reading is not stored, and is counted in `skipped_readings` and `skipped_by_reason`, when its length
  does not divide a day (`length_does_not_divide_a_day`, e.g. a monthly billing reading), is under a minute
  (`length_under_a_minute`: a day of it does not fit one storage item), or its start is not a multiple of
  its length since midnight UTC (`start_not_on_a_multiple_of_its_length`: its slot would misplace it) or
  has no UTC offset (`start_without_utc_offset`).
- Meter ids are uuid5(partner, partner_reference), so a retried or concurrent sync creates each meter once.
- A service point without a complete service address (many feeds, the Green Button Alliance's samples among
  them, leave customer data to a separate scope) still becomes a meter: with what the utility sent and no
  address, so the customer who authorized is not lost. Its enrollment stays PENDING with the ADDRESS required
  action (meters.rules.address). When a later sync's feed carries the address (the UsagePoint feed's customer
  resources), it is written into the meter that still lacks one (`meters_completed`); once stored it is left
  alone, so re-running changes nothing, and an address the partner supplied first is never replaced.
- Bill identifiers: when the utility sends its customer resources with a CustomerAccount (accountId) and a
  CustomerAgreement (agreementId), they are stored as Leap's read-only `utility.bill_customer_account_number`
  and `utility.bill_service_agreement_number` (partners cannot set them; an overwrite keeps them). A later sync
  that brings them, or brings changed ones, writes them into the meter (or the partner meter it was merged
  into) once (`meters_updated`); a feed that stops sending them leaves the last ones known.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from meterhub.catalog.enums import CreatedBy
from meterhub.connect.ports import DROP_TOKENS, ConnectRepository, TokenVault
from meterhub.connect.records import Authorization, AuthorizationStatus, UsagePointHistory
from meterhub.connect.use_cases.flow import AdapterFactory, token_context
from meterhub.connect.use_cases.meter_links import all_meters, mark_meters
from meterhub.intervals.ports import IntervalStore
from meterhub.intervals.rules.slots import (
    SLOT_SECONDS,
    DaySlots,
    length_problem,
    length_slot_index,
    slot_index,
)
from meterhub.meters.ports import MeterQuery, MeterRepository, ReferenceTaken
from meterhub.meters.records import MeterRecord, UtilityLink
from meterhub.meters.rules.address import awaits_address
from meterhub.platform.errors import Conflict
from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.errors import AuthorizationRevoked, UtilityError
from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint, TokenSet
from meterhub.utility_providers.records.registry import UtilityRegistry

HISTORY_DAYS = 396
"""How far back the first sync of a usage point reaches: 13 months. Program baselines look back up to a year
plus a season (CAISO's and NYISO's customer baselines compare with the same season last year), so a partner
enrolling a customer needs that much history, not the last month."""
FETCH_WINDOW_DAYS = 31
"""One request to the utility covers at most this many days (Green Button servers cap a request at a month)."""
MAX_WINDOWS_PER_RUN = 24
"""Backfill windows one run fetches before handing over to the next (see SyncResult.more_history): with
`time_is_short` (the Lambda's remaining time), a slow utility ends a run early instead of the function being
killed at its time limit."""
REFRESH_MARGIN = timedelta(minutes=2)
RECENT_OVERLAP = timedelta(days=2)
_Name = TypeVar("_Name", int, str)
_NAMESPACE = uuid.UUID("5f1d3c0e-8f36-4c0b-9a55-2b7f0d6c9e41")
SKIP_MISALIGNED = "start_not_on_a_multiple_of_its_length"
SKIP_NO_OFFSET = "start_without_utc_offset"


@dataclass
class SyncResult:
    authorization_id: str
    status: str
    meters_created: list[str] = field(default_factory=list)
    meters_merged: list[str] = field(default_factory=list)
    meters_unchanged: list[str] = field(default_factory=list)
    meters_completed: list[str] = field(default_factory=list)
    """Meters that were awaiting their service address and got it from this sync."""
    meters_updated: list[str] = field(default_factory=list)
    """Meters (not in meters_completed) whose bill identifiers this sync brought or changed."""
    readings_stored: int = 0
    """Intervals stored, whatever their length (a consumption and a generation reading of one interval are
    one stored interval)."""
    skipped_readings: int = 0
    readings_by_length: dict[int, int] = field(default_factory=dict)
    """Intervals stored per length in seconds (900 for the 15-minute days)."""
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    """Readings not stored, per reason (see the module doc); the values add up to `skipped_readings`."""
    windows_fetched: int = 0
    more_history: bool = False
    """The run stopped at its window or time budget with history still to fetch: run the sync again (it goes
    on from the first window not yet stored)."""


def partner_reference(authorization: Authorization, point: ServicePoint) -> str:
    owner = authorization.ref_id or f"connect-{authorization.authorization_id}"
    return f"{owner}:{authorization.utility_name.value}:{point.usage_point_id}"


def meter_id_for(partner_id: str, reference: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{partner_id}/{reference}"))


def _utility_fields(authorization: Authorization, point: ServicePoint) -> dict[str, Any]:
    values = {
        "utility_name": authorization.utility_name.value,
        "electric_service_account_number": point.account_number,
        "utility_meter_serial_number": point.meter_serial_number,
        "tariff": point.tariff,
        **_bill_fields(point),
    }
    return {k: v for k, v in values.items() if v}


def _bill_fields(point: ServicePoint) -> dict[str, str]:
    """The bill identifiers the utility sent for the point (Leap's read-only utility fields; partners cannot
    set them, so the utility's are the only values they have)."""
    values = {
        "bill_customer_account_number": point.bill_customer_account_number,
        "bill_service_agreement_number": point.bill_service_agreement_number,
    }
    return {k: v for k, v in values.items() if v}


def _address_fields(address: ServiceAddress | None) -> dict[str, Any]:
    """The meter's `customer` address parts (none when the utility sent no address)."""
    if address is None:
        return {}
    values = {
        "street_1": address.street_1,
        "street_2": address.street_2,
        "postal_code": address.postal_code,
        "city": address.city,
        "state_or_province_code": address.state_or_province_code,
        "country_code": address.country_code,
    }
    return {k: v for k, v in values.items() if v}


def _new_meter_data(authorization: Authorization, point: ServicePoint, reference: str) -> dict[str, Any]:
    customer: dict[str, Any] = {
        **_address_fields(point.address),
        "end_customer_name": point.customer_name,
        "partner_customer_reference": authorization.ref_id,
    }
    return {
        "partner_reference": reference,
        "transmission_region": authorization.transmission_region.value,
        "customer_classification": point.customer_classification,
        "load_types": ["OTHER"],
        "meter_type": "UTILITY_METER",
        "customer": {k: v for k, v in customer.items() if v},
        "utility": _utility_fields(authorization, point),
    }


def _refreshed(meter: MeterRecord, point: ServicePoint) -> dict[str, Any] | None:
    """The meter's data with what the utility sends now, or None when that changes nothing: the service address
    while the meter still awaits one (an address the partner supplied meanwhile stays), and the bill identifiers
    when they arrive or change (a customer who granted the customer scope after the first sync)."""
    data = dict(meter.data)
    if point.address is not None and awaits_address(meter.data):
        data["customer"] = {**(meter.data.get("customer") or {}), **_address_fields(point.address)}
    utility = meter.data.get("utility") or {}
    bills = _bill_fields(point)
    if any(utility.get(name) != value for name, value in bills.items()):
        data["utility"] = {**utility, **bills}
    return None if data == meter.data else data


def _link(authorization: Authorization, point: ServicePoint) -> UtilityLink:
    return UtilityLink(
        authorization_id=authorization.authorization_id,
        utility_id=authorization.utility_id,
        usage_point_id=point.usage_point_id,
        status=AuthorizationStatus.COMPLETED.value,
        expires_at=authorization.expires_at,
    )


class UtilitySync:
    def __init__(
        self,
        connect: ConnectRepository,
        meters: MeterRepository,
        intervals: IntervalStore,
        vault: TokenVault,
        adapter_for: AdapterFactory,
        now: Callable[[], datetime],
        *,
        utilities: UtilityRegistry,
        max_windows: int = MAX_WINDOWS_PER_RUN,
    ) -> None:
        self._connect = connect
        self._meters = meters
        self._intervals = intervals
        self._vault = vault
        self._adapter_for = adapter_for
        self._now = now
        self._utilities = utilities
        self._max_windows = max_windows

    def run(
        self, partner_id: str, authorization_id: str, *, time_is_short: Callable[[], bool] = lambda: False
    ) -> SyncResult:
        """Sync one authorization; the backfill stops before a window when `time_is_short` says so, or after
        `max_windows` windows (`more_history` then asks for another run)."""
        authorization = self._connect.get_authorization(partner_id, authorization_id)
        if authorization is None or authorization.status is not AuthorizationStatus.COMPLETED:
            status = authorization.status.value if authorization else "NOT_FOUND"
            return SyncResult(authorization_id, f"SKIPPED_{status}")
        utility = self._utilities.utility_by_id(authorization.utility_id)
        if utility is None:
            return SyncResult(authorization_id, "SKIPPED_UNKNOWN_UTILITY")
        if authorization.expires_at is not None and authorization.expires_at <= self._now():
            self._mark_ended(authorization, AuthorizationStatus.EXPIRED, "The utility's grant has ended")
            return SyncResult(authorization_id, "EXPIRED")
        adapter = self._adapter_for(utility, authorization.api_base_url)
        try:
            tokens = self._tokens(authorization, adapter)
            authorization = self._connect.get_authorization(partner_id, authorization_id) or authorization
            points = adapter.service_points(tokens)
            result = SyncResult(authorization_id, "COMPLETED")
            linked = {point.usage_point_id: self._meter_for(authorization, point, points, result) for point in points}
            # The partner sees the customer's meters as soon as they exist; their history (13 months, in windows)
            # follows, and the sync is recorded as done only once it is stored.
            self._record_sync(authorization, list(linked.values()), finished=False)
            for point_id, meter_id in linked.items():
                self._sync_history(adapter, tokens, authorization, meter_id, point_id, result, time_is_short)
            # The grant's end may have moved with a token refresh: keep the meters' links in step, unless the
            # partner revoked the grant while the history was fetched (its meters already say so).
            current = self._connect.get_authorization(partner_id, authorization_id)
            if current is not None and current.status is AuthorizationStatus.COMPLETED:
                mark_meters(self._meters, current, AuthorizationStatus.COMPLETED, self._now(), linked.values())
        except AuthorizationRevoked as revoked:
            self._mark_ended(authorization, AuthorizationStatus.REVOKED, revoked.reason)
            return SyncResult(authorization_id, "REVOKED_BY_UTILITY")
        except UtilityError as problem:
            if problem.retryable:
                raise  # the queue retries (then its dead-letter queue keeps the message)
            self._record_sync(authorization, [], error=problem.reason)
            return SyncResult(authorization_id, "FAILED")
        self._record_sync(authorization, list(linked.values()))
        return result

    # ----- tokens ---------------------------------------------------------------------------------------
    def _tokens(self, authorization: Authorization, adapter: UtilityAdapter) -> TokenSet:
        sealed = self._connect.get_tokens(authorization.partner_id, authorization.authorization_id)
        if sealed is None:
            raise AuthorizationRevoked("No tokens are stored for this authorization")
        context = token_context(authorization)
        tokens = self._vault.open(sealed, context)
        if tokens.expires_at - REFRESH_MARGIN > self._now():
            return tokens
        fresh = adapter.refresh(tokens)
        current = self._connect.get_authorization(authorization.partner_id, authorization.authorization_id)
        if current is not None:
            update: dict[str, Any] = {"updated_at": self._now()}
            if fresh.refresh_expires_at is not None:
                update["expires_at"] = fresh.refresh_expires_at  # a refresh may extend the grant
            self._connect.save_authorization(current.model_copy(update=update), tokens=self._vault.seal(fresh, context))
        return fresh

    # ----- meters ---------------------------------------------------------------------------------------
    def _meter_for(
        self, authorization: Authorization, point: ServicePoint, points: list[ServicePoint], result: SyncResult
    ) -> str:
        partner_id = authorization.partner_id
        reference = partner_reference(authorization, point)
        existing = self._meters.get_by_reference(partner_id, reference) or self._linked_meter(authorization, point)
        if existing is not None:  # the meter this point created, or the partner's meter it was merged into
            outcome = self._refresh(existing, point) if _refreshed(existing, point) is not None else None
            if outcome == "completed":
                result.meters_completed.append(existing.meter_id)
            elif outcome == "updated":
                result.meters_updated.append(existing.meter_id)
            else:
                result.meters_unchanged.append(existing.meter_id)
            return existing.meter_id
        partner_meter = self._merge_candidate(authorization, point, points)
        if partner_meter is not None:
            self._merge(partner_meter, authorization, point)
            result.meters_merged.append(partner_meter.meter_id)
            return partner_meter.meter_id
        now = self._now()
        record = MeterRecord(
            meter_id=meter_id_for(partner_id, reference),
            partner_id=partner_id,
            partner_reference=reference,
            data=_new_meter_data(authorization, point, reference),
            created_by=CreatedBy.UTILITY,
            created_at=now,
            updated_at=now,
            connection_references=[authorization.ref_id] if authorization.ref_id else [],
            utility_link=_link(authorization, point),
        )
        try:
            self._meters.create(record)
        except ReferenceTaken as taken:  # a concurrent run of this sync made it first: same id, same meter
            result.meters_unchanged.append(taken.meter_id)
            return taken.meter_id
        result.meters_created.append(record.meter_id)
        return record.meter_id

    def _linked_meter(self, authorization: Authorization, point: ServicePoint) -> MeterRecord | None:
        """A meter this authorization already feeds under another reference (a merged partner meter). The
        meters the last sync recorded are read one by one; only when none matches (a first sync, or one that
        stopped before recording) are the partner's meters with this refId searched. An authorization from a
        plain link never feeds a partner meter (see the module doc), so it looks for none."""
        if not authorization.link_id:
            return None

        def feeds(meter: MeterRecord | None) -> bool:
            link = meter.utility_link if meter else None
            return bool(
                link and link.utility_id == authorization.utility_id and link.usage_point_id == point.usage_point_id
            )

        for meter_id in authorization.meter_ids:
            recorded = self._meters.get(authorization.partner_id, meter_id)
            if feeds(recorded):
                return recorded
        if not authorization.ref_id:
            return None
        query = MeterQuery(connection_references=(authorization.ref_id,))
        return next((m for m in all_meters(self._meters, authorization.partner_id, query) if feeds(m)), None)

    def _merge_candidate(
        self, authorization: Authorization, point: ServicePoint, points: list[ServicePoint]
    ) -> MeterRecord | None:
        if not authorization.ref_id or not authorization.link_id:
            return None  # only a partner-issued link may attach utility data to the partner's meter
        query = MeterQuery(
            partner_customer_references=(authorization.ref_id,),
            transmission_region=authorization.transmission_region.value,
        )
        candidates = [
            m
            for m in all_meters(self._meters, authorization.partner_id, query)
            if m.created_by is CreatedBy.PARTNER and m.utility_link is None
        ]
        for meter in candidates:
            account = (meter.data.get("utility") or {}).get("electric_service_account_number")
            if account and point.account_number and account == point.account_number:
                return meter
        if len(points) == 1 and len(candidates) == 1:
            return candidates[0]
        return None

    def _merge(self, meter: MeterRecord, authorization: Authorization, point: ServicePoint) -> None:
        for _ in range(3):
            current = self._meters.get(meter.partner_id, meter.meter_id) or meter
            data = dict(current.data)
            data["utility"] = {**_utility_fields(authorization, point), **(current.data.get("utility") or {})}
            references = list(current.connection_references)
            if authorization.ref_id and authorization.ref_id not in references:
                references.append(authorization.ref_id)
            merged = current.model_copy(
                update={
                    "data": data,
                    "connection_references": references,
                    "utility_link": _link(authorization, point),
                    "updated_at": self._now(),
                    "version": current.version + 1,
                }
            )
            try:
                self._meters.replace(merged, expected_version=current.version)
            except Conflict:
                continue
            return
        raise Conflict("The partner's meter kept changing during the merge; the sync will retry")

    def _refresh(self, meter: MeterRecord, point: ServicePoint) -> str | None:
        """Write `_refreshed` into the meter on the version read. "completed" when the address was written,
        "updated" when only bill identifiers were, None when the meter needs nothing by now."""
        for _ in range(3):
            current = self._meters.get(meter.partner_id, meter.meter_id) or meter
            data = _refreshed(current, point)
            if data is None:
                return None
            refreshed = current.model_copy(
                update={"data": data, "updated_at": self._now(), "version": current.version + 1}
            )
            try:
                self._meters.replace(refreshed, expected_version=current.version)
            except Conflict:
                continue
            return "completed" if awaits_address(current.data) and not awaits_address(data) else "updated"
        raise Conflict("The meter kept changing while the utility's data was added; the sync will retry")

    # ----- intervals ------------------------------------------------------------------------------------
    def _sync_history(
        self,
        adapter: UtilityAdapter,
        tokens: TokenSet,
        authorization: Authorization,
        meter_id: str,
        usage_point_id: str,
        result: SyncResult,
        time_is_short: Callable[[], bool],
    ) -> None:
        """Fetch what arrived since the point's last sync (two days of overlap: the utility may still revise
        recent readings), then go on with its backfill: HISTORY_DAYS back, newest window first (a partner gets
        the recent data, which enrollment looks at first, soonest; and the stored history stays one unbroken
        stretch, so `reaches` alone says where to resume). Every window's write is an idempotent merge and the
        point's history is recorded after each window, so a run cut short resumes at the first window not yet
        stored. A window the utility answers with nothing (before the customer's service started) ends the
        backfill. The backfill stops at the run's window or time budget (`result.more_history`)."""
        end = _midnight(self._now())
        current = self._connect.get_authorization(authorization.partner_id, authorization.authorization_id)
        history = (current or authorization).history.get(usage_point_id)
        if history is None:
            history = UsagePointHistory(through=end, reaches=end)
        else:
            recent = max(history.through - RECENT_OVERLAP, end - timedelta(days=HISTORY_DAYS))
            self._fetch_windows(
                adapter, tokens, authorization.partner_id, meter_id, usage_point_id, recent, end, result
            )
            history = history.model_copy(update={"through": end})
        self._save_history(authorization, usage_point_id, history)
        oldest = history.through - timedelta(days=HISTORY_DAYS)
        while not history.complete:
            if result.windows_fetched >= self._max_windows or time_is_short():
                result.more_history = True
                return
            window_start = max(history.reaches - timedelta(days=FETCH_WINDOW_DAYS), oldest)
            stored = self._store_window(
                adapter,
                tokens,
                authorization.partner_id,
                meter_id,
                usage_point_id,
                window_start,
                history.reaches,
                result,
            )
            complete = window_start <= oldest or not stored
            history = history.model_copy(update={"reaches": window_start, "complete": complete})
            self._save_history(authorization, usage_point_id, history)

    def _fetch_windows(
        self,
        adapter: UtilityAdapter,
        tokens: TokenSet,
        partner_id: str,
        meter_id: str,
        usage_point_id: str,
        start: datetime,
        end: datetime,
        result: SyncResult,
    ) -> None:
        """Store [start, end) in windows of at most FETCH_WINDOW_DAYS, oldest first."""
        while start < end:
            window_end = min(start + timedelta(days=FETCH_WINDOW_DAYS), end)
            self._store_window(adapter, tokens, partner_id, meter_id, usage_point_id, start, window_end, result)
            start = window_end

    def _store_window(
        self,
        adapter: UtilityAdapter,
        tokens: TokenSet,
        partner_id: str,
        meter_id: str,
        usage_point_id: str,
        start: datetime,
        end: datetime,
        result: SyncResult,
    ) -> bool:
        """Fetch and merge one window; False when the utility had no readings for it."""
        readings = adapter.interval_data(tokens, usage_point_id, start, end)
        result.windows_fetched += 1
        batch = _days(readings)
        for day, slots in sorted(batch.days.items()):
            self._intervals.merge(partner_id, meter_id, day, slots)
            _count(result.readings_by_length, SLOT_SECONDS, slots.count)
        for (day, _length), length_day in sorted(batch.length_days.items(), key=lambda item: item[0]):
            self._intervals.merge_length(partner_id, meter_id, day, length_day)
            _count(result.readings_by_length, length_day.length, length_day.count)
        for reason, skipped in batch.skipped.items():
            _count(result.skipped_by_reason, reason, skipped)
        result.readings_stored = sum(result.readings_by_length.values())
        result.skipped_readings = sum(result.skipped_by_reason.values())
        return bool(readings)

    def _save_history(self, authorization: Authorization, usage_point_id: str, history: UsagePointHistory) -> None:
        for _ in range(3):
            current = self._connect.get_authorization(authorization.partner_id, authorization.authorization_id)
            if current is None:
                return
            if current.history.get(usage_point_id) == history:
                return
            try:
                self._connect.save_authorization(
                    current.model_copy(update={"history": {**current.history, usage_point_id: history}})
                )
            except Conflict:
                continue
            return
        raise Conflict("The authorization kept changing while its history was recorded; the sync will retry")

    # ----- authorization bookkeeping --------------------------------------------------------------------
    def _record_sync(
        self, authorization: Authorization, meter_ids: list[str], error: str | None = None, *, finished: bool = True
    ) -> None:
        """Adds `meter_ids` to the authorization's meters and, when `finished`, records the sync's end."""
        for _ in range(3):
            current = self._connect.get_authorization(authorization.partner_id, authorization.authorization_id)
            if current is None:
                return
            known = list(dict.fromkeys([*current.meter_ids, *meter_ids]))
            if not finished and known == current.meter_ids:
                return
            update: dict[str, Any] = {"meter_ids": known}
            if finished:
                update |= {"synced_at": self._now(), "sync_error": error}
            try:
                self._connect.save_authorization(current.model_copy(update=update))
            except Conflict:
                continue
            return

    def _mark_ended(self, authorization: Authorization, status: AuthorizationStatus, reason: str) -> None:
        """The grant is over (revoked by the utility, or past its end): record it and mark the meters."""
        current = self._connect.get_authorization(authorization.partner_id, authorization.authorization_id)
        if current is None or current.status is not AuthorizationStatus.COMPLETED:
            return
        now = self._now()
        update: dict[str, Any] = {"status": status, "failure_detail": reason[:200], "updated_at": now}
        if status is AuthorizationStatus.REVOKED:
            update["revoked_at"] = now
        saved = self._connect.save_authorization(current.model_copy(update=update), tokens=DROP_TOKENS)
        mark_meters(self._meters, saved, status, now)


@dataclass
class _Batch:
    """One fetch window's readings as storage items: 15-minute days, days of other lengths, and the readings
    left out (per reason)."""

    days: dict[date, DaySlots] = field(default_factory=dict)
    length_days: dict[tuple[date, int], DaySlots] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)


def _days(readings: list[IntervalReading]) -> _Batch:
    """The readings grouped into day items at their own length (final: the utility's data is settled).

    The readings of one interval (same start and length) become one value: ESPI sends consumption and
    generation as separate readings, and storing each alone would let the second replace the first (a slot is
    replaced as a whole), losing the consumption of every interval that also has generation.
    """
    batch = _Batch()
    intervals: dict[tuple[datetime, int], tuple[int, float | None, float | None]] = {}
    for reading in readings:
        if reading.start.tzinfo is None or reading.start.utcoffset() is None:
            batch.skipped[SKIP_NO_OFFSET] += 1
            continue
        begins, length = reading.start.astimezone(UTC), reading.duration_seconds
        problem = None if length == SLOT_SECONDS else length_problem(length)
        if problem is not None:
            batch.skipped[problem] += 1
            continue
        try:
            slot = slot_index(begins) if length == SLOT_SECONDS else length_slot_index(begins, length)
        except ValueError:
            batch.skipped[SKIP_MISALIGNED] += 1
            continue
        _, consumed, generated = intervals.get((begins, length), (slot, None, None))
        consumed = reading.consumed_kwh if reading.consumed_kwh is not None else consumed
        generated = reading.generated_kwh if reading.generated_kwh is not None else generated
        intervals[(begins, length)] = (slot, consumed, generated)
    for (begins, length), (slot, consumed, generated) in intervals.items():
        net = (consumed or 0.0) - (generated or 0.0) if consumed is not None or generated is not None else None
        day = begins.date()
        if length == SLOT_SECONDS:
            if day not in batch.days:
                batch.days[day] = DaySlots.empty()
            batch.days[day].put(slot, net, consumed, generated, True)
        else:
            if (day, length) not in batch.length_days:
                batch.length_days[(day, length)] = DaySlots.empty(length)
            batch.length_days[(day, length)].put(slot, net, consumed, generated, True)
    return batch


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _count(counts: dict[_Name, int], name: _Name, amount: int) -> None:
    """Add to a tally, leaving names with nothing out (so an all-15-minute sync reports only {900: n})."""
    if amount:
        counts[name] = counts.get(name, 0) + amount
