"""The meter repository port: conditional creates, reads and the search query it answers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from meterhub.meters.records import GroupChange, MarketGroupPeriod, MeterRecord
from meterhub.platform.errors import AlreadyExists


class ReferenceTaken(AlreadyExists):
    """The partner_reference already names a meter; carries that meter's id (and, from move_references, which
    of the references)."""

    def __init__(self, meter_id: str, partner_reference: str | None = None) -> None:
        super().__init__("Partner reference already exists", {"meter_id": meter_id})
        self.meter_id = meter_id
        self.partner_reference = partner_reference


@dataclass(frozen=True)
class MeterQuery:
    """What a search may ask storage for. Lists are IN, fields are AND-ed; None means unconstrained."""

    meter_ids: tuple[str, ...] | None = None
    partner_references: tuple[str, ...] | None = None
    transmission_region: str | None = None
    customer_classification: str | None = None
    meter_types: tuple[str, ...] | None = None
    load_types: tuple[str, ...] | None = None
    customer_groups: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    connection_references: tuple[str, ...] | None = None
    partner_customer_references: tuple[str, ...] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    modified_after: datetime | None = None
    exclude_archived: bool = False
    global_statuses: tuple[str, ...] | None = None
    partner_action_required: bool = False
    action_types: tuple[str, ...] | None = None

    def matches(self, meter: MeterRecord) -> bool:
        data = meter.data
        state = meter.enrollment
        actions = (*state.partner_actions, *state.leap_actions) if state is not None else ()
        return all(
            (
                self.meter_ids is None or meter.meter_id in self.meter_ids,
                self.partner_references is None or meter.partner_reference in self.partner_references,
                self.transmission_region is None or data.get("transmission_region") == self.transmission_region,
                self.customer_classification is None
                or data.get("customer_classification") == self.customer_classification,
                self.meter_types is None or data.get("meter_type") in self.meter_types,
                self.load_types is None or bool(set(data.get("load_types", ())) & set(self.load_types)),
                self.customer_groups is None or data.get("customer_group") in self.customer_groups,
                self.tags is None or bool(set(meter.tags) & set(self.tags)),
                self.connection_references is None
                or bool(set(meter.connection_references) & set(self.connection_references)),
                self.partner_customer_references is None
                or (data.get("customer") or {}).get("partner_customer_reference") in self.partner_customer_references,
                self.created_after is None or meter.created_at > self.created_after,
                self.created_before is None or meter.created_at < self.created_before,
                self.modified_after is None or meter.updated_at > self.modified_after,
                not (self.exclude_archived and meter.is_archived),
                self.global_statuses is None or (state is not None and state.global_status in self.global_statuses),
                not self.partner_action_required or (state is not None and bool(state.partner_actions)),
                self.action_types is None or any(action.action_type in self.action_types for action in actions),
            )
        )


@dataclass(frozen=True)
class MeterPage:
    meters: list[MeterRecord]
    cursor: str | None = field(default=None)


class MeterRepository(Protocol):
    def create(self, meter: MeterRecord) -> None:
        """Store a new meter; raises ReferenceTaken when the partner_reference is in use."""

    def replace(self, meter: MeterRecord, expected_version: int) -> None:
        """Overwrite a meter if it is still at `expected_version`; raises Conflict otherwise."""

    def replace_all(self, replacements: Sequence[tuple[MeterRecord, int]]) -> None:
        """Overwrite several meters of one partner at once, each (meter, expected_version) only if that meter is
        still at its expected version: all of them are written or, with Conflict, none (at most 100, distinct)."""

    def move_references(self, moves: Sequence[tuple[MeterRecord, str, int]]) -> None:
        """Store each (meter under its new partner_reference, previous reference, expected version) all at once:
        a new reference's guard is taken if free or released by another of the moves (a swap or a chain), else
        ReferenceTaken names the meter that holds it (and the reference); each previous guard is removed, each
        meter replaced if still at its expected version (Conflict otherwise). On any refusal nothing changes.
        The moves are of one partner, name distinct meters and distinct new references (at most 33)."""

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None: ...

    def get_by_reference(self, partner_id: str, partner_reference: str) -> MeterRecord | None: ...

    def search(self, partner_id: str, query: MeterQuery, page_size: int, cursor: str | None) -> MeterPage:
        """Meters in creation order. `cursor` is the sort key of the last meter of the previous page. Enrollment
        filters match the stored enrollment state (a meter without one matches none of them)."""

    def due_for_review(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(partner_id, meter_id) of every meter, of any partner, whose stored enrollment's review_at is not after
        `now`: the scheduled transition run's work list."""

    def without_enrollment(self) -> Iterator[tuple[str, str]]:
        """(partner_id, meter_id) of every meter stored without an enrollment state (written before it was kept):
        the one-off backfill's work list. Reads the whole table."""


class GroupMembership(Protocol):
    """Who is in each market group, and which groups changed since their snapshot was last published
    (`use_cases.group_snapshots`). Kept from the meters table's stream (`use_cases.meter_events`)."""

    def record(self, group: MarketGroupPeriod, meter_id: str, joined: bool, at: datetime) -> None:
        """Add the meter to the group (or remove it), then mark the group changed with a new version. In that
        order: a publisher that reads a mark lists members at least as new as the change it marks."""

    def changed(self) -> Iterator[GroupChange]:
        """Every marked group, any partner's (the scheduled run's work list)."""

    def members(self, group: MarketGroupPeriod) -> Iterator[str]:
        """The group's meter ids, in id order, read in pages."""

    def clear(self, change: GroupChange) -> bool:
        """Remove the mark if it still holds `change.version`; False when a newer change marked it since."""
