"""Utility sync rules on in-memory storage: one meter per service point, idempotent re-runs, merging with the
partner's own record, intervals kept at the utility's length, revocation marking meters, Connect events."""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from meterhub.catalog.enums import CreatedBy, StatusDetailName, TransmissionRegion, UtilityName
from meterhub.connect.records import Authorization, AuthorizationStatus, ConnectSession, SessionStatus
from meterhub.connect.use_cases import connections
from meterhub.connect.use_cases import events as connect_events
from meterhub.connect.use_cases.flow import token_context
from meterhub.connect.use_cases.sync import (
    FETCH_WINDOW_DAYS,
    HISTORY_DAYS,
    UtilitySync,
    meter_id_for,
    partner_reference,
)
from meterhub.connect.use_cases.sync_delivery import sync_and_continue
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.api_models.responses import ProvisionalAsset
from meterhub.meters.ports import MeterQuery
from meterhub.meters.records import MeterRecord
from meterhub.meters.rules.enrollment import derive_enrollment
from meterhub.meters.use_cases.create_meter import AssetRejected, create_meter
from meterhub.meters.use_cases.read_meters import meter_details
from meterhub.platform.streams import StreamChange
from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.errors import AuthorizationRevoked, UtilityError
from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint, TokenSet
from meterhub.utility_providers.records.registry import UtilityConfig, UtilityRegistry

from tests.emf import EmfCapture, point, totals
from tests.fakes.connect import FakeTokenVault, InMemoryConnectRepository
from tests.fakes.intervals import InMemoryIntervalStore
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.queues import InMemoryWorkQueue

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ADDRESS = ServiceAddress(street_1="1 Main St", city="Oakland", state_or_province_code="CA", postal_code="94612")


def _point(n: int, account: str | None = None) -> ServicePoint:
    return ServicePoint(
        usage_point_id=f"up-{n}",
        address=ADDRESS,
        customer_classification="RESIDENTIAL",
        account_number=account or f"acct-{n}",
        meter_serial_number=f"serial-{n}",
        tariff="E-TOU-C",
    )


@dataclass
class FakeUtility:
    points: list[ServicePoint]
    duration: int = 900
    revoked: bool = False
    retryable_error: bool = False
    calls: list[str] = field(default_factory=list)
    refreshed: int = 0
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    grant_end: datetime | None = None
    served_from: datetime = NOW.replace(hour=0) - timedelta(days=30)
    """The customer's service began here: the utility has no readings before it."""
    failing_window: int | None = None
    """The window (counted from 0) the utility fails with a retryable error, once."""
    while_serving: Callable[[int], None] | None = None
    """Called with each window's number as the utility serves it: what happens meanwhile elsewhere."""

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        raise AssertionError("not used by the sync")

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        raise AssertionError("not used by the sync")

    def refresh(self, tokens: TokenSet) -> TokenSet:
        self.refreshed += 1
        return TokenSet(
            access_token="fresh",
            expires_at=NOW + timedelta(hours=1),
            scope=tokens.scope,
            refresh_expires_at=self.grant_end,
        )

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        self.calls.append(f"points:{tokens.access_token}")
        if self.revoked:
            raise AuthorizationRevoked("The utility refused the refresh token")
        if self.retryable_error:
            raise UtilityError("The utility answered 503", retryable=True)
        return self.points

    def interval_data(
        self, tokens: TokenSet, usage_point_id: str, start: datetime, end: datetime
    ) -> list[IntervalReading]:
        if self.failing_window == len(self.windows):
            self.failing_window = None
            raise UtilityError("The utility answered 503", retryable=True)
        if self.while_serving is not None:
            self.while_serving(len(self.windows))
        self.windows.append((start, end))
        readings = []
        moment = max(end - timedelta(days=2), self.served_from)
        while moment < end:
            readings.append(IntervalReading(start=moment, duration_seconds=self.duration, consumed_kwh=0.25))
            moment += timedelta(seconds=self.duration)
        return readings

    def revoke(self, tokens: TokenSet) -> None:
        self.calls.append("revoke")


class World:
    def __init__(self, points: list[ServicePoint], link_id: str | None = None) -> None:
        self.connect = InMemoryConnectRepository()
        self.meters = InMemoryMeterRepository()
        self.intervals = InMemoryIntervalStore()
        self.vault = FakeTokenVault()
        self.utility = FakeUtility(points)
        self.authorization = Authorization(
            authorization_id=str(uuid.uuid4()),
            partner_id="p1",
            session_id="s1",
            ref_id="site-42",
            transmission_region=TransmissionRegion.CAISO,
            utility_id="demo",
            utility_name=UtilityName.DEMO,
            link_id=link_id,
            status=AuthorizationStatus.COMPLETED,
            api_base_url="http://127.0.0.1:3000",
            initiated_at=NOW,
            updated_at=NOW,
        )
        self.connect.auths[("p1", self.authorization.authorization_id)] = (
            self.authorization,
            self.vault.seal(
                TokenSet(access_token="stored", expires_at=NOW + timedelta(hours=1), scope="FB=1"),
                token_context(self.authorization),
            ),
        )

    def adapter_for(self, config: UtilityConfig, base_url: str) -> UtilityAdapter:
        return self.utility

    def sync(self) -> Any:
        return UtilitySync(
            self.connect,
            self.meters,
            self.intervals,
            self.vault,
            self.adapter_for,
            lambda: NOW,
            utilities=UtilityRegistry(),
        ).run("p1", self.authorization.authorization_id)


def _meters(world: World) -> list[MeterRecord]:
    return list(world.meters.search("p1", MeterQuery(), 500, None).meters)


def test_one_utility_meter_per_service_point_with_the_documented_reference() -> None:
    world = World([_point(1), _point(2)])
    result = world.sync()
    assert result.status == "COMPLETED" and len(result.meters_created) == 2
    meters = {m.partner_reference: m for m in _meters(world)}
    assert set(meters) == {"site-42:DEMO:up-1", "site-42:DEMO:up-2"}
    meter = meters["site-42:DEMO:up-1"]
    assert meter.created_by is CreatedBy.UTILITY and meter.meter_type == "UTILITY_METER"
    assert meter.connection_references == ["site-42"]
    assert meter.data["utility"] == {
        "utility_name": "DEMO",
        "electric_service_account_number": "acct-1",
        "utility_meter_serial_number": "serial-1",
        "tariff": "E-TOU-C",
    }
    assert meter.data["customer"]["city"] == "Oakland"
    assert meter.data["customer"]["partner_customer_reference"] == "site-42"
    assert meter.meter_id == meter_id_for("p1", partner_reference(world.authorization, _point(1)))
    authorization = world.connect.get_authorization("p1", world.authorization.authorization_id)
    assert authorization is not None and sorted(authorization.meter_ids) == sorted(result.meters_created)


def test_fifteen_minute_readings_are_stored_and_rerunning_changes_nothing() -> None:
    world = World([_point(1)])
    first = world.sync()
    assert first.readings_stored == 2 * 96 and first.skipped_readings == 0
    before = [m.model_dump() for m in _meters(world)]
    second = world.sync()
    assert second.meters_created == [] and second.meters_unchanged == first.meters_created
    assert [m.model_dump() for m in _meters(world)] == before


def test_hourly_readings_are_not_split_into_finer_slots() -> None:
    world = World([_point(1)])
    world.utility.duration = 3600
    result = world.sync()
    # Stored at their own length (one value per hour), never as 15-minute slots
    assert result.readings_stored == 2 * 24 and result.skipped_readings == 0
    assert result.readings_by_length == {3600: 2 * 24}
    assert world.intervals.items == {}
    assert sum(day.count for day in world.intervals.length_items.values()) == 2 * 24


def _partner_meter() -> MeterRecord:
    """What the partner created for its customer "site-42" (customer.partner_customer_reference)."""
    return MeterRecord(
        meter_id=str(uuid.uuid4()),
        partner_id="p1",
        partner_reference="acme-site-42",
        data={
            "partner_reference": "acme-site-42",
            "transmission_region": "CAISO",
            "customer_classification": "RESIDENTIAL",
            "load_types": ["BATTERY_STORAGE"],
            "meter_type": "UTILITY_METER",
            "customer": {
                "street_1": "1 Main St",
                "postal_code": "94612",
                "city": "Oakland",
                "state_or_province_code": "CA",
                "partner_customer_reference": "site-42",
            },
            "utility": {"tariff": "PARTNER-TARIFF"},
        },
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_partner_record_with_the_refid_is_merged_not_duplicated() -> None:
    world = World([_point(1)], link_id="issued-link-1")  # the customer came through a partner-issued link
    partner_meter = _partner_meter()
    world.meters.create(partner_meter)
    result = world.sync()
    assert result.meters_created == [] and result.meters_merged == [partner_meter.meter_id]
    [merged] = _meters(world)
    assert merged.meter_id == partner_meter.meter_id and merged.partner_reference == "acme-site-42"
    assert merged.connection_references == ["site-42"] and merged.utility_link is not None
    assert merged.data["utility"]["tariff"] == "PARTNER-TARIFF"  # the partner's value stays
    assert merged.data["utility"]["electric_service_account_number"] == "acct-1"  # gaps filled
    assert world.sync().meters_unchanged == [partner_meter.meter_id]  # and a re-run finds it


@pytest.mark.parametrize("points", [[_point(1)], [_point(1, account="acct-partner")]])
def test_a_plain_link_never_merges_into_the_partners_meter(points: list[ServicePoint]) -> None:
    # Anyone who knows the refId can write the plain link: their utility account becomes a new meter, the
    # partner's stays untouched (even with a matching account number), and the real customer's issued link
    # still merges later.
    world = World(points)
    partner_meter = _partner_meter()
    partner_meter.data["utility"]["electric_service_account_number"] = "acct-partner"
    world.meters.create(partner_meter)
    result = world.sync()
    assert result.meters_merged == [] and len(result.meters_created) == 1
    assert world.meters.get("p1", partner_meter.meter_id) == partner_meter
    assert world.sync().meters_unchanged == result.meters_created  # and a re-run does not merge either
    assert world.meters.get("p1", partner_meter.meter_id) == partner_meter
    customer = World([_point(7, account="acct-partner")], link_id="issued-link-1")
    customer.meters = world.meters
    merged = customer.sync()
    assert merged.meters_merged == [partner_meter.meter_id]
    stored = world.meters.get("p1", partner_meter.meter_id)
    assert stored is not None and stored.utility_link is not None
    assert stored.utility_link.authorization_id == customer.authorization.authorization_id


def test_revocation_keeps_the_meter_and_asks_for_reauthorization() -> None:
    world = World([_point(1)])
    [meter_id] = world.sync().meters_created
    before = world.meters.get("p1", meter_id)
    assert before is not None
    assert not any(a.action_type == "IS_AUTHORIZED" for a in derive_enrollment(before, NOW).required_actions.partner)
    response = connections.revoke_authorization(
        world.connect,
        world.meters,
        world.vault,
        world.adapter_for,
        "p1",
        world.authorization.authorization_id,
        lambda: NOW,
        utilities=UtilityRegistry(),
    )
    assert response.status is AuthorizationStatus.REVOKED and response.meters_marked == 1
    assert "revoke" in world.utility.calls
    assert world.connect.get_tokens("p1", world.authorization.authorization_id) is None
    after = world.meters.get("p1", meter_id)
    assert after is not None
    actions = derive_enrollment(after, NOW).required_actions.partner
    assert actions and {(a.action_type, a.action_code, a.action_description) for a in actions} >= {
        ("IS_AUTHORIZED", "AUTH_0001", "End customer must re-authorize")
    }
    assert world.sync().status == "SKIPPED_REVOKED"  # a later sync leaves it alone


def test_a_utility_that_refuses_the_tokens_marks_the_authorization_revoked() -> None:
    world = World([_point(1)])
    world.sync()
    world.utility.revoked = True
    assert world.sync().status == "REVOKED_BY_UTILITY"
    authorization = world.connect.get_authorization("p1", world.authorization.authorization_id)
    assert authorization is not None and authorization.status is AuthorizationStatus.REVOKED


def test_a_retryable_utility_error_propagates_for_the_queue_to_retry() -> None:
    world = World([_point(1)])
    world.utility.retryable_error = True
    with pytest.raises(UtilityError):
        world.sync()


def test_expired_access_tokens_are_refreshed_and_stored_again() -> None:
    world = World([_point(1)])
    stale = TokenSet(access_token="stale", expires_at=NOW - timedelta(minutes=1), scope="FB=1")
    world.connect.auths[("p1", world.authorization.authorization_id)] = (
        world.authorization,
        world.vault.seal(stale, token_context(world.authorization)),
    )
    world.sync()
    assert world.utility.refreshed == 1 and world.utility.calls[0] == "points:fresh"
    sealed = world.connect.get_tokens("p1", world.authorization.authorization_id)
    assert sealed is not None
    assert world.vault.open(sealed, token_context(world.authorization)).access_token == "fresh"


def test_a_sync_of_another_partners_authorization_finds_nothing() -> None:
    world = World([_point(1)])
    result = UtilitySync(
        world.connect,
        world.meters,
        world.intervals,
        world.vault,
        world.adapter_for,
        lambda: NOW,
        utilities=UtilityRegistry(),
    ).run("p2", world.authorization.authorization_id)
    assert result.status == "SKIPPED_NOT_FOUND" and _meters(world) == []


# ----- connect events -------------------------------------------------------------------------------------


def _image(model: Any) -> dict[str, Any]:
    return {"doc": {"S": model.model_dump_json()}}


def test_session_and_authorization_status_changes_become_events_and_completion_queues_the_sync() -> None:
    session = ConnectSession(
        session_id="s1",
        partner_id="p1",
        ref_id="site-42",
        transmission_region=TransmissionRegion.CAISO,
        csrf_token="t",
        started_at=NOW,
        last_interaction_at=NOW,
    )
    events, sync = InMemoryWorkQueue(), InMemoryWorkQueue()
    created = StreamChange("e1", "INSERT", {"sk": {"S": "SESSION#s1"}}, new_image=_image(session))
    connect_events.handle_change(events, sync, created)
    touched = session.model_copy(update={"last_interaction_at": NOW + timedelta(minutes=1)})
    connect_events.handle_change(
        events, sync, StreamChange("e2", "MODIFY", {"sk": {"S": "SESSION#s1"}}, _image(touched), _image(session))
    )
    authorization = World([]).authorization
    initiated = authorization.model_copy(update={"status": AuthorizationStatus.INITIATED})
    key = {"sk": {"S": f"AUTH#{authorization.authorization_id}"}}
    connect_events.handle_change(events, sync, StreamChange("e3", "INSERT", key, new_image=_image(initiated)))
    connect_events.handle_change(
        events, sync, StreamChange("e4", "MODIFY", key, _image(authorization), _image(initiated))
    )
    payloads = [m["payload"] for m in events.messages]
    assert payloads == [
        {"webhook_event_type": "connect_session.updated", "partner_reference": "site-42", "status": "CREATED"},
        {
            "webhook_event_type": "connect_session.authorization_updated",
            "partner_reference": "site-42",
            "utility_name": "DEMO",
            "status": "INITIATED",
        },
        {
            "webhook_event_type": "connect_session.authorization_updated",
            "partner_reference": "site-42",
            "utility_name": "DEMO",
            "status": "COMPLETED",
        },
    ]
    assert sync.messages == [{"partner_id": "p1", "authorization_id": authorization.authorization_id}]
    again = InMemoryWorkQueue()
    connect_events.handle_change(again, InMemoryWorkQueue(), created)
    assert again.messages[0]["webhook_event_id"] == events.messages[0]["webhook_event_id"]  # stable ids
    closed = session.model_copy(update={"status": SessionStatus.CLOSED})
    ids = connect_events.handle_change(
        InMemoryWorkQueue(),
        InMemoryWorkQueue(),
        StreamChange("e5", "MODIFY", {"sk": {"S": "SESSION#s1"}}, _image(closed), _image(session)),
    )
    assert len(ids) == 1


def test_an_expired_grant_keeps_the_meter_and_asks_for_reauthorization() -> None:
    world = World([_point(1)])
    ends = NOW + timedelta(days=30)
    world.authorization = world.authorization.model_copy(update={"expires_at": ends})
    sealed = world.connect.get_tokens("p1", world.authorization.authorization_id)
    world.connect.auths[("p1", world.authorization.authorization_id)] = (world.authorization, sealed)
    [meter_id] = world.sync().meters_created
    meter = world.meters.get("p1", meter_id)
    assert meter is not None and meter.utility_link is not None and meter.utility_link.expires_at == ends

    def actions(at: datetime) -> set[tuple[str, str]]:
        assert meter is not None
        return {(a.action_type, a.action_code) for a in derive_enrollment(meter, at).required_actions.partner}

    assert ("IS_AUTHORIZED", "AUTH_0001") not in actions(ends - timedelta(seconds=1))
    assert ("IS_AUTHORIZED", "AUTH_0001") in actions(ends)
    listed = connections.list_connections(
        world.connect, "p1", connections.ConnectionFilter(), ends + timedelta(days=1), meters=world.meters
    ).connections
    assert listed == []  # no session with this refId was stored in this world; the view rule is tested below
    view = connections._view(world.authorization, ends + timedelta(days=1))
    assert view.status is AuthorizationStatus.EXPIRED and view.expires_at == ends


def test_tokens_with_a_grant_end_survive_the_vault() -> None:
    vault = FakeTokenVault()
    tokens = TokenSet(access_token="a", expires_at=NOW, scope="s", refresh_expires_at=NOW + timedelta(days=30))
    context = {"partner_id": "p1", "authorization_id": "a1"}
    assert vault.open(vault.seal(tokens, context), context) == tokens


def _world_at(world: World, now: datetime) -> Any:
    return UtilitySync(
        world.connect,
        world.meters,
        world.intervals,
        world.vault,
        world.adapter_for,
        lambda: now,
        utilities=UtilityRegistry(),
    )


def test_a_later_sync_fetches_only_what_arrived_since_with_two_days_of_overlap() -> None:
    world = World([_point(1)])
    world.sync()
    midnight = NOW.replace(hour=0)
    # newest window first; the second is before the customer's service began (empty), which ends the backfill
    assert world.utility.windows == [
        (midnight - timedelta(days=31), midnight),
        (midnight - timedelta(days=62), midnight - timedelta(days=31)),
    ]
    world.utility.windows.clear()
    tomorrow = NOW + timedelta(days=1)
    result = _world_at(world, tomorrow).run("p1", world.authorization.authorization_id)
    assert result.status == "COMPLETED" and result.meters_created == []
    assert world.utility.windows == [(NOW.replace(hour=0) - timedelta(days=2), tomorrow.replace(hour=0))]


def test_a_refresh_that_extends_the_grant_moves_its_end_on_the_authorization_and_the_meters() -> None:
    world = World([_point(1)])
    [meter_id] = world.sync().meters_created
    world.utility.grant_end = NOW + timedelta(days=90)
    stale = TokenSet(access_token="stale", expires_at=NOW - timedelta(minutes=1), scope="FB=1")
    world.connect.auths[("p1", world.authorization.authorization_id)] = (
        world.connect.get_authorization("p1", world.authorization.authorization_id) or world.authorization,
        world.vault.seal(stale, token_context(world.authorization)),
    )
    world.sync()
    authorization = world.connect.get_authorization("p1", world.authorization.authorization_id)
    assert authorization is not None and authorization.expires_at == NOW + timedelta(days=90)
    meter = world.meters.get("p1", meter_id)
    assert meter is not None and meter.utility_link is not None
    assert meter.utility_link.expires_at == NOW + timedelta(days=90)


def test_a_sync_after_the_grant_ended_marks_it_expired_and_asks_for_reauthorization() -> None:
    world = World([_point(1)])
    [meter_id] = world.sync().meters_created
    current = world.connect.get_authorization("p1", world.authorization.authorization_id)
    assert current is not None
    ended = current.model_copy(update={"expires_at": NOW + timedelta(days=1)})
    world.connect.auths[("p1", ended.authorization_id)] = (
        ended,
        world.connect.get_tokens("p1", ended.authorization_id),
    )
    later = NOW + timedelta(days=2)
    assert _world_at(world, later).run("p1", ended.authorization_id).status == "EXPIRED"
    after = world.connect.get_authorization("p1", ended.authorization_id)
    assert after is not None and after.status is AuthorizationStatus.EXPIRED
    assert world.connect.get_tokens("p1", ended.authorization_id) is None
    meter = world.meters.get("p1", meter_id)
    assert meter is not None and meter.utility_link is not None and meter.utility_link.status == "EXPIRED"
    actions = derive_enrollment(meter, later).required_actions.partner
    assert ("IS_AUTHORIZED", "AUTH_0001") in {(a.action_type, a.action_code) for a in actions}
    assert list(world.connect.active_authorizations()) == []  # out of the daily refresh


def test_a_repeat_sync_reads_its_meters_by_key_and_searches_nothing() -> None:
    # The daily refresh re-syncs every live authorization: it must not search the partner's meters each time.
    world = World([_point(1), _point(2)])
    world.sync()
    searches: list[MeterQuery] = []
    search = world.meters.search

    def counted(partner_id: str, query: MeterQuery, page_size: int, cursor: str | None) -> Any:
        searches.append(query)
        return search(partner_id, query, page_size, cursor)

    world.meters.search = counted  # type: ignore[method-assign]
    assert len(world.sync().meters_unchanged) == 2
    assert searches == []


# ----- a service point without an address ----------------------------------------------------------------------


def _without_address(n: int) -> ServicePoint:
    return ServicePoint(
        usage_point_id=f"up-{n}", address=None, customer_classification="RESIDENTIAL", account_number=f"acct-{n}"
    )


def test_a_point_without_an_address_becomes_a_pending_meter_awaiting_it() -> None:
    # Given a utility feed whose only service point carries no address
    world = World([_without_address(1)])
    # When the sync runs
    result = world.sync()
    # Then the meter exists with what the utility sent, and no address parts at all
    assert result.status == "COMPLETED" and len(result.meters_created) == 1
    [meter] = _meters(world)
    assert meter.data["customer"] == {"partner_customer_reference": "site-42"}
    assert meter.data["utility"]["electric_service_account_number"] == "acct-1"
    assert result.readings_stored == 2 * 96  # the customer's data is kept meanwhile
    # And its enrollment is PENDING (never ELIGIBLE) with an ADDRESS partner action in the program it is placed in
    # (the CAISO programs exclude each other: the others wait on that one, INELIGIBLE)
    enrollment = derive_enrollment(meter, NOW)
    assert enrollment.global_enrollment_status.value == "PENDING"
    by_status = {e.program_identifier: e.enrollment_status.value for e in enrollment.program_enrollment}
    assert "ELIGIBLE" not in by_status.values()
    actions = enrollment.required_actions.partner
    address = [a for a in actions if a.action_type.value == "ADDRESS"]
    assert {a.program_identifier for a in address} == {p for p, status in by_status.items() if status == "PENDING"}
    assert address and {a.action_code for a in address} == {"ADDR_0001"}
    assert {a.action_type.value for a in actions} <= {"ADDRESS", "NOT_ENROLLED_IN_CONFLICTING_PROGRAM"}
    # And partners can read it (the details model tolerates the missing address)
    details = meter_details(meter).model_dump(mode="json", exclude_none=True)
    assert details["customer"] == {"partner_customer_reference": "site-42"}


def test_the_address_arriving_on_a_later_sync_completes_the_meter_once() -> None:
    world = World([_without_address(1)])
    [created] = world.sync().meters_created
    # When a later sync's feed carries the service location
    world.utility.points = [_point(1)]
    second = world.sync()
    # Then the same meter gets the address, and its ADDRESS action is gone (every field is there)
    assert second.meters_created == [] and second.meters_completed == [created]
    [meter] = _meters(world)
    assert meter.meter_id == created and meter.version == 2
    assert meter.data["customer"] == {
        "street_1": "1 Main St",
        "postal_code": "94612",
        "city": "Oakland",
        "state_or_province_code": "CA",
        "country_code": "US",
        "partner_customer_reference": "site-42",
    }
    enrollment = derive_enrollment(meter, NOW)
    # the partner's part is done: only the operator's market registration remains
    assert {a.action_type.value for a in enrollment.required_actions.leap} == {"HAS_MARKET_REGISTRATION"}
    assert [a for a in enrollment.required_actions.partner if a.action_type.value == "ADDRESS"] == []
    # And re-running changes nothing more
    before = meter.model_dump()
    third = world.sync()
    assert third.meters_completed == [] and third.meters_unchanged == [created]
    assert [m.model_dump() for m in _meters(world)] == [before]


def test_an_address_the_partner_supplied_first_is_not_replaced_by_the_utilitys() -> None:
    world = World([_without_address(1)])
    world.sync()
    [meter] = _meters(world)
    partner_address = {"street_1": "9 Partner Way", "postal_code": "94110", "city": "SF"}
    partner_address["state_or_province_code"] = "CA"
    data = {**meter.data, "customer": {**meter.data["customer"], **partner_address}}
    world.meters.replace(meter.model_copy(update={"data": data, "version": 2}), expected_version=1)
    world.utility.points = [_point(1)]
    result = world.sync()
    assert result.meters_completed == [] and result.meters_unchanged == [meter.meter_id]
    [kept] = _meters(world)
    assert kept.data["customer"]["street_1"] == "9 Partner Way" and kept.version == 2


def test_the_partner_supplies_the_address_by_overwriting_the_connect_meter() -> None:
    world = World([_without_address(1)])
    [meter_id] = world.sync().meters_created
    [meter] = _meters(world)

    def send(reference: str, *, update_existing: bool) -> ProvisionalAsset:
        asset = {
            "partner_reference": reference,
            "transmission_region": "CAISO",
            "customer_classification": "RESIDENTIAL",
            "load_types": ["HVAC"],
            "meter_type": "UTILITY_METER",
            "customer": {
                "street_1": "5 Bay Rd",
                "postal_code": "94607",
                "city": "Oakland",
                "state_or_province_code": "CA",
            },
        }
        return create_meter(
            world.meters,
            "p1",
            CreateMeter.model_validate(asset),
            update_existing=update_existing,
            connect=lambda asset: "/connect",
            now=lambda: NOW,
        )

    # Neither a plain create under its reference nor a new CAISO utility meter passes the catalog (only a
    # customer authorization makes one)
    with pytest.raises(AssetRejected):
        send(meter.partner_reference, update_existing=False)
    with pytest.raises(AssetRejected):
        send("partner-made-caiso-meter", update_existing=True)
    # With update_existing the Connect meter is overwritten: the address is in, the utility's fields stay
    outcome = send(meter.partner_reference, update_existing=True)
    assert outcome.status_detail.name == StatusDetailName.METER_UPDATED and str(outcome.meter_id) == meter_id
    [updated] = _meters(world)
    assert updated.data["customer"]["street_1"] == "5 Bay Rd" and updated.data["load_types"] == ["HVAC"]
    assert updated.data["utility"] == meter.data["utility"]
    assert updated.created_by is CreatedBy.UTILITY and updated.utility_link == meter.utility_link
    enrollment = derive_enrollment(updated, NOW)
    # the partner's part is done: only the operator's market registration remains
    assert {a.action_type.value for a in enrollment.required_actions.leap} == {"HAS_MARKET_REGISTRATION"}
    assert [a for a in enrollment.required_actions.partner if a.action_type.value == "ADDRESS"] == []
    # And a later sync bringing the utility's address leaves the partner's in place
    world.utility.points = [_point(1)]
    assert world.sync().meters_completed == []
    assert _meters(world)[0].data["customer"]["street_1"] == "5 Bay Rd"


def _billed(n: int, account: str = "CA-0077", agreement: str | None = None) -> ServicePoint:
    """A point whose utility sends its customer resources: the bill's account and service agreement."""
    return replace(
        _point(n), bill_customer_account_number=account, bill_service_agreement_number=agreement or f"SA-{n}"
    )


def test_the_bill_identifiers_the_utility_sends_are_on_the_meter_and_in_its_details() -> None:
    # Given a customer account holding two service agreements, and a third point the utility sends none for
    world = World([_billed(1), _billed(2), _point(3)])
    world.sync()
    meters = {m.partner_reference.rsplit(":", 1)[1]: m for m in _meters(world)}
    # Then each meter carries its own agreement and the shared account, beside the fields it had
    assert meters["up-1"].data["utility"] == {
        "utility_name": "DEMO",
        "electric_service_account_number": "acct-1",
        "utility_meter_serial_number": "serial-1",
        "tariff": "E-TOU-C",
        "bill_customer_account_number": "CA-0077",
        "bill_service_agreement_number": "SA-1",
    }
    assert meters["up-2"].data["utility"]["bill_service_agreement_number"] == "SA-2"
    details = meter_details(meters["up-2"]).model_dump(mode="json", exclude_none=True)["utility"]
    assert (details["bill_customer_account_number"], details["bill_service_agreement_number"]) == ("CA-0077", "SA-2")
    # And a meter whose utility sent none has none (left out, not empty)
    third = meter_details(meters["up-3"]).model_dump(mode="json", exclude_none=True)["utility"]
    assert "bill_customer_account_number" not in third and "bill_service_agreement_number" not in third


def test_bill_identifiers_arriving_or_changing_on_a_later_sync_update_the_meter_once() -> None:
    # Given a meter created before the customer shared the customer scope
    world = World([_point(1)])
    [created] = world.sync().meters_created
    # When a later sync's feed carries the customer account and agreement
    world.utility.points = [_billed(1)]
    second = world.sync()
    # Then the meter gets them in one write, and reports as updated
    assert second.meters_updated == [created] and second.meters_unchanged == []
    [meter] = _meters(world)
    assert meter.version == 2 and meter.data["utility"]["bill_service_agreement_number"] == "SA-1"
    # And a re-run changes nothing; a renumbered agreement is written over the old one
    assert world.sync().meters_unchanged == [created] and _meters(world)[0].version == 2
    world.utility.points = [_billed(1, agreement="SA-1-RENUMBERED")]
    assert world.sync().meters_updated == [created]
    assert _meters(world)[0].data["utility"]["bill_service_agreement_number"] == "SA-1-RENUMBERED"
    # And a feed that no longer sends them (the customer scope withdrawn) leaves the last ones known
    world.utility.points = [_point(1)]
    assert world.sync().meters_unchanged == [created]
    assert _meters(world)[0].data["utility"]["bill_customer_account_number"] == "CA-0077"


def test_the_partners_meter_merged_with_the_utilitys_gets_the_bill_identifiers_and_keeps_its_own_fields() -> None:
    world = World([_point(1)], link_id="issued-link-1")
    partner_meter = _partner_meter()
    world.meters.create(partner_meter)
    world.sync()
    # When the bill identifiers arrive on a later sync of the merged meter
    world.utility.points = [_billed(1)]
    assert world.sync().meters_updated == [partner_meter.meter_id]
    [merged] = _meters(world)
    assert merged.data["utility"]["bill_customer_account_number"] == "CA-0077"
    assert merged.data["utility"]["tariff"] == "PARTNER-TARIFF"  # the partner's value still stays


def test_a_partner_cannot_set_the_bill_identifiers_and_an_overwrite_keeps_the_utilitys() -> None:
    world = World([_billed(1)])
    world.sync()
    [meter] = _meters(world)
    asset = {**meter.data, "load_types": ["HVAC"]}
    asset["utility"] = {"tariff": "E-1", "bill_service_agreement_number": "PARTNER-MADE"}
    create_meter(
        world.meters,
        "p1",
        CreateMeter.model_validate(asset),
        update_existing=True,
        connect=lambda asset: "/connect",
        now=lambda: NOW,
    )
    [updated] = _meters(world)
    assert updated.data["utility"]["bill_service_agreement_number"] == "SA-1"
    assert updated.data["utility"]["tariff"] == "E-1"


def test_the_connections_listing_says_which_meters_await_an_address() -> None:
    # Given a customer with two service points, one of them without an address
    world = World([_point(1), _without_address(2)])
    world.connect.sessions_by_key[("p1", "s1")] = ConnectSession(
        session_id="s1",
        partner_id="p1",
        ref_id="site-42",
        transmission_region=TransmissionRegion.CAISO,
        status=SessionStatus.COMPLETED,
        csrf_token="t",
        started_at=NOW,
        last_interaction_at=NOW,
    )
    world.sync()
    located = meter_id_for("p1", partner_reference(world.authorization, _point(1)))
    unlocated = meter_id_for("p1", partner_reference(world.authorization, _without_address(2)))

    def listed() -> dict[str, bool]:
        [connection] = connections.list_connections(
            world.connect, "p1", connections.ConnectionFilter(), NOW, meters=world.meters
        ).connections
        assert sorted(connection.meter_ids) == sorted(m.meter_id for m in connection.meters)
        return {m.meter_id: m.awaiting_address for m in connection.meters}

    # Then the listing shows each meter, and that one awaits its address
    assert listed() == {located: False, unlocated: True}
    # And once a later sync brings the address, it no longer does
    world.utility.points = [_point(1), _point(2)]
    world.sync()
    assert listed() == {located: False, unlocated: False}


def _thirteen_months(world: World) -> World:
    world.utility.served_from = NOW - timedelta(days=3 * 365)  # a customer of long standing
    return world


def _history(world: World) -> Any:
    saved = world.connect.get_authorization("p1", world.authorization.authorization_id)
    assert saved is not None
    return saved.history["up-1"]


def test_a_first_sync_stores_thirteen_months_newest_window_first() -> None:
    world = _thirteen_months(World([_point(1)]))
    result = world.sync()
    midnight = NOW.replace(hour=0)
    oldest = midnight - timedelta(days=HISTORY_DAYS)
    assert result.status == "COMPLETED" and not result.more_history
    assert len(world.utility.windows) == math.ceil(HISTORY_DAYS / FETCH_WINDOW_DAYS) == 13
    assert world.utility.windows[0] == (midnight - timedelta(days=FETCH_WINDOW_DAYS), midnight)
    assert world.utility.windows[-1][0] == oldest
    assert all(later[0] == earlier[1] for later, earlier in itertools.pairwise(world.utility.windows))
    assert result.readings_stored == 13 * 2 * 96
    assert _history(world).model_dump() == {"through": midnight, "reaches": oldest, "complete": True}


def _stored(world: World) -> dict[Any, Any]:
    """The stored days (meter ids derive from the partner reference, so two worlds' keys compare)."""
    return dict(world.intervals.items)


def test_a_sync_cut_short_resumes_at_the_first_window_not_stored_and_ends_as_an_uninterrupted_run() -> None:
    whole = _thirteen_months(World([_point(1)]))
    whole.sync()
    cut = _thirteen_months(World([_point(1)]))
    cut.utility.failing_window = 5  # the utility fails the sixth window: the run dies after five
    with pytest.raises(UtilityError):
        cut.sync()
    assert len(cut.utility.windows) == 5 and not _history(cut).complete
    resumed = cut.sync()
    # the retry fetches the overlap since the first run's start, then the backfill from window six on
    midnight = NOW.replace(hour=0)
    assert cut.utility.windows[5] == (midnight - timedelta(days=2), midnight)
    assert cut.utility.windows[6:] == whole.utility.windows[5:]
    assert not resumed.more_history and _history(cut) == _history(whole)
    assert _stored(cut) == _stored(whole)


def test_a_run_stops_at_its_window_budget_and_the_next_goes_on() -> None:
    world = _thirteen_months(World([_point(1)]))

    def run() -> Any:
        return UtilitySync(
            world.connect,
            world.meters,
            world.intervals,
            world.vault,
            world.adapter_for,
            lambda: NOW,
            utilities=UtilityRegistry(),
            max_windows=4,
        ).run("p1", world.authorization.authorization_id)

    first = run()
    assert first.more_history and first.windows_fetched == 4 and first.status == "COMPLETED"
    runs = 1
    while run().more_history:
        runs += 1
    assert runs + 1 == 4  # 13 windows, 4 a run (each later run also fetches the two-day overlap first)
    assert _history(world).complete
    assert _history(world).reaches == NOW.replace(hour=0) - timedelta(days=HISTORY_DAYS)


def test_an_empty_early_window_ends_the_backfill_without_error() -> None:
    world = World([_point(1)])
    world.utility.served_from = NOW.replace(hour=0) - timedelta(days=100)
    result = world.sync()
    assert result.status == "COMPLETED" and not result.more_history
    # windows 1-4 hold readings (the fourth's last two days are after service began), the fifth has none
    assert len(world.utility.windows) == 5
    history = _history(world)
    assert history.complete and history.reaches == world.utility.windows[-1][0]
    world.utility.windows.clear()
    world.sync()
    assert world.utility.windows == [(NOW.replace(hour=0) - timedelta(days=2), NOW.replace(hour=0))]


def test_a_second_sync_fetches_only_the_recent_overlap_after_thirteen_months() -> None:
    world = _thirteen_months(World([_point(1)]))
    world.sync()
    world.utility.windows.clear()
    later = NOW + timedelta(days=3)
    result = _world_at(world, later).run("p1", world.authorization.authorization_id)
    assert world.utility.windows == [(NOW.replace(hour=0) - timedelta(days=2), later.replace(hour=0))]
    assert not result.more_history and _history(world).through == later.replace(hour=0)


def test_a_delivery_that_runs_short_of_time_queues_the_same_message_until_the_history_is_complete() -> None:
    world = _thirteen_months(World([_point(1)]))
    queue = InMemoryWorkQueue()
    sync = _world_at(world, NOW)
    windows_left = iter(range(100))
    deliveries = 0
    while True:
        deliveries += 1
        result = sync_and_continue(
            sync, queue, "p1", world.authorization.authorization_id, time_is_short=lambda: next(windows_left) % 5 == 4
        )
        if not result.more_history:
            break
    message = {"partner_id": "p1", "authorization_id": world.authorization.authorization_id}
    assert deliveries > 1 and queue.messages == [message] * (deliveries - 1)
    assert _history(world).complete


# ----- metrics ----------------------------------------------------------------------------------------------


def test_each_delivered_sync_counts_by_result_with_the_readings_it_stored(emf: EmfCapture) -> None:
    # Given an authorization whose utility serves one point, then refuses the tokens
    world = World([_point(1)])
    sync = _world_at(world, NOW)
    authorization_id = world.authorization.authorization_id
    sync_and_continue(sync, InMemoryWorkQueue(), "p1", authorization_id, time_is_short=lambda: False)
    world.utility.revoked = True
    sync_and_continue(sync, InMemoryWorkQueue(), "p1", authorization_id, time_is_short=lambda: False)
    sync_and_continue(sync, InMemoryWorkQueue(), "p1", authorization_id, time_is_short=lambda: False)
    # Then each run counts by its result, and the readings the first stored count once
    assert totals(emf()) == {
        point("UtilitySyncs", Status="COMPLETED"): 1,
        point("UtilitySyncs", Status="REVOKED_BY_UTILITY"): 1,
        point("UtilitySyncs", Status="SKIPPED_REVOKED"): 1,
        point("UtilitySyncReadings"): 2 * 96,
    }


def test_the_partner_sees_the_meters_before_their_history_is_stored_and_the_sync_is_recorded_only_once_done() -> None:
    # Given a customer with 13 months of history, whose utility fails the sixth window of the backfill
    world = _thirteen_months(World([_point(1)]))
    world.utility.failing_window = 5
    # When the first run dies there (the queue will retry it)
    with pytest.raises(UtilityError):
        world.sync()
    # Then the authorization already lists the meter, and says no sync has finished
    stored = world.connect.get_authorization("p1", world.authorization.authorization_id)
    assert stored is not None and stored.meter_ids == [m.meter_id for m in _meters(world)]
    assert stored.synced_at is None
    # And the retry records the sync once its history is stored, without listing the meter twice
    world.sync()
    done = world.connect.get_authorization("p1", world.authorization.authorization_id)
    assert done is not None and done.synced_at == NOW and done.meter_ids == stored.meter_ids


def test_a_grant_revoked_while_its_history_is_fetched_is_not_marked_completed_again_by_the_sync() -> None:
    # Given a first sync fetching 13 months of history
    world = _thirteen_months(World([_point(1)]))

    def revoke(window: int) -> None:
        if window == 2:  # When the partner revokes the grant meanwhile
            connections.revoke_authorization(
                world.connect,
                world.meters,
                world.vault,
                world.adapter_for,
                "p1",
                world.authorization.authorization_id,
                lambda: NOW,
                utilities=UtilityRegistry(),
            )

    world.utility.while_serving = revoke
    world.sync()
    # Then the meter says its grant was revoked once the sync has ended, not COMPLETED
    [meter] = _meters(world)
    assert meter.utility_link is not None and meter.utility_link.status == "REVOKED"
