"""read_meters.search_meters over the InMemory repository: paging, filters, tokens, tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.api_models.responses import MeterFilterRequest
from meterhub.meters.records import MeterRecord
from meterhub.meters.use_cases import read_meters
from meterhub.platform.errors import InvalidInput, NotFound
from pydantic import ValidationError

from tests.fakes.meters import InMemoryMeterRepository

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
PARTNER = "partner-a"
OTHER = "partner-b"
T0 = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)

# (reference, region, meter_type, classification) of the five meters, in creation order.
FLEET = [
    ("m-0", "ISONE", "DEVICE", "RESIDENTIAL"),
    ("m-1", "ERCOT", "SUBMETER", "COMMERCIAL"),
    ("m-2", "ISONE", "UTILITY_METER", "COMMERCIAL"),
    ("m-3", "CAISO", "DEVICE", "RESIDENTIAL"),
    ("m-4", "ISONE", "SUBMETER", "RESIDENTIAL"),
]


def store(repo: InMemoryMeterRepository, partner_id: str, document: dict[str, Any], at: datetime, n: int) -> str:
    meter_id = f"00000000-0000-4000-8000-{n:012d}" if partner_id == PARTNER else f"99999999-0000-4000-8000-{n:012d}"
    data = CreateMeter.model_validate(document).model_dump(mode="json", exclude_none=True)
    repo.create(
        MeterRecord(
            meter_id=meter_id,
            partner_id=partner_id,
            partner_reference=document["partner_reference"],
            data=data,
            created_at=at,
            updated_at=at,
        )
    )
    return meter_id


@pytest.fixture
def repo(make_asset: MakeAsset) -> InMemoryMeterRepository:
    """Five meters of PARTNER created one hour apart (inserted out of order), and two of OTHER in between."""
    repo = InMemoryMeterRepository()
    for n in (3, 0, 4, 1, 2):
        reference, region, meter_type, classification = FLEET[n]
        document = make_asset(reference, region=region, meter_type=meter_type, classification=classification)
        store(repo, PARTNER, document, T0 + timedelta(hours=n), n)
    store(repo, OTHER, make_asset("m-0"), T0 + timedelta(minutes=30), 0)
    store(repo, OTHER, make_asset("other-1"), T0 + timedelta(minutes=90), 1)
    return repo


def search(repo: InMemoryMeterRepository, partner_id: str = PARTNER, **filters: Any) -> list[str]:
    """References of every page of a search, following next_page_token."""
    references: list[str] = []
    token: str | None = None
    while True:
        request = MeterFilterRequest.model_validate({**filters, **({"page_token": token} if token else {})})
        page = read_meters.search_meters(repo, partner_id, request)
        references.extend(m.partner_reference for m in page.meters)
        token = page.next_page_token
        if token is None:
            return references


def test_paging_returns_every_meter_once_in_creation_order(repo: InMemoryMeterRepository) -> None:
    # Given five meters
    pages: list[list[str]] = []
    tokens: list[str | None] = []
    request = MeterFilterRequest(page_size=2)

    # When every page of two is read
    while True:
        page = read_meters.search_meters(repo, PARTNER, request)
        pages.append([m.partner_reference for m in page.meters])
        tokens.append(page.next_page_token)
        if page.next_page_token is None:
            break
        request = MeterFilterRequest(page_size=2, page_token=page.next_page_token)

    # Then three pages hold all five exactly once, in creation order, and only the last has no token
    assert pages == [["m-0", "m-1"], ["m-2", "m-3"], ["m-4"]]
    assert [t is None for t in tokens] == [False, False, True]


def test_last_page_that_is_exactly_full_has_no_token(repo: InMemoryMeterRepository) -> None:
    # Given five meters and a page of five
    request = MeterFilterRequest(page_size=5)

    # When the single page is read
    page = read_meters.search_meters(repo, PARTNER, request)

    # Then it holds all five and says there is nothing more
    assert [m.partner_reference for m in page.meters] == ["m-0", "m-1", "m-2", "m-3", "m-4"]
    assert page.next_page_token is None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {"meter_ids": ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000003"]},
            ["m-1", "m-3"],
        ),
        ({"partner_references": ["m-4", "m-2", "nope"]}, ["m-2", "m-4"]),
        ({"transmission_region": "ISONE"}, ["m-0", "m-2", "m-4"]),
        ({"transmission_region": "NYISO"}, []),
        ({"meter_types": ["DEVICE"]}, ["m-0", "m-3"]),
        ({"meter_types": ["SUBMETER", "UTILITY_METER"]}, ["m-1", "m-2", "m-4"]),
        ({"customer_classification": "COMMERCIAL"}, ["m-1", "m-2"]),
        ({"created_after_date_time": "2025-01-10T09:00:00Z"}, ["m-2", "m-3", "m-4"]),
        ({"created_before_date_time": "2025-01-10T10:00:00Z"}, ["m-0", "m-1"]),
        (
            {"created_after_date_time": "2025-01-10T08:30:00Z", "created_before_date_time": "2025-01-10T11:30:00Z"},
            ["m-1", "m-2", "m-3"],
        ),
        ({"transmission_region": "ISONE", "customer_classification": "RESIDENTIAL"}, ["m-0", "m-4"]),
        ({"load_types": ["HVAC"]}, []),
    ],
    ids=[
        "meter_ids",
        "partner_references",
        "region",
        "region-none",
        "meter_types-one",
        "meter_types-many",
        "classification",
        "created_after-exclusive",
        "created_before-exclusive",
        "created-window",
        "and-ed",
        "load_types",
    ],
)
def test_filter_selects_exactly_the_matching_meters(
    repo: InMemoryMeterRepository, filters: dict[str, Any], expected: list[str]
) -> None:
    # When searching with the filter (small pages, so paging and filtering combine)
    found = search(repo, page_size=1, **filters)

    # Then exactly the matching meters come back, in creation order
    assert found == expected


def test_page_token_reused_with_other_filters_is_invalid_input(repo: InMemoryMeterRepository) -> None:
    # Given a token issued for a region-filtered search
    first = read_meters.search_meters(repo, PARTNER, MeterFilterRequest(page_size=1, transmission_region="ISONE"))
    assert first.next_page_token is not None

    # When it is sent with a different filter
    with pytest.raises(InvalidInput) as refused:
        read_meters.search_meters(
            repo,
            PARTNER,
            MeterFilterRequest(page_size=1, transmission_region="ERCOT", page_token=first.next_page_token),
        )

    # Then it is refused, naming the token
    assert refused.value.title == "page_token belongs to a search with different filters"
    assert set(refused.value.details) == {"page_token"}


def test_page_token_may_be_reused_with_another_page_size(repo: InMemoryMeterRepository) -> None:
    # Given a token from a page of one
    first = read_meters.search_meters(repo, PARTNER, MeterFilterRequest(page_size=1))
    assert first.next_page_token is not None

    # When the next page is asked with a bigger page size
    rest = read_meters.search_meters(repo, PARTNER, MeterFilterRequest(page_size=10, page_token=first.next_page_token))

    # Then the remaining meters follow
    assert [m.partner_reference for m in rest.meters] == ["m-1", "m-2", "m-3", "m-4"]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!",
        "eyJhZnRlciI6IDF9",
        "eyJmb28iOiAiYmFyIn0",
        "bnVsbA",
        "eyJhZnRlciI6IlJFRiN4IiwiZmlsdGVycyI6IngifQ",
    ],
    ids=["garbage", "not-base64", "after-not-string", "wrong-keys", "json-null", "foreign-cursor"],
)
def test_garbage_page_token_is_invalid_input(repo: InMemoryMeterRepository, token: str) -> None:
    # When a search is sent with a token this API never issued
    with pytest.raises(InvalidInput) as refused:
        read_meters.search_meters(repo, PARTNER, MeterFilterRequest(page_token=token))

    # Then it is refused naming the token, never a crash
    assert refused.value.title.startswith("page_token ")
    assert set(refused.value.details) == {"page_token"}


def test_token_of_another_partner_does_not_reveal_their_meters(repo: InMemoryMeterRepository) -> None:
    # Given a token issued to the other partner
    theirs = read_meters.search_meters(repo, OTHER, MeterFilterRequest(page_size=1))
    assert theirs.next_page_token is not None

    # When this partner uses it
    page = read_meters.search_meters(repo, PARTNER, MeterFilterRequest(page_size=10, page_token=theirs.next_page_token))

    # Then only this partner's meters come back
    assert {m.partner_reference for m in page.meters} <= {f"m-{n}" for n in range(5)}
    assert all(str(m.meter_id).startswith("00000000-") for m in page.meters)


def test_another_partners_meters_never_appear(repo: InMemoryMeterRepository) -> None:
    # When this partner lists everything, and asks for the other partner's meter by id and reference
    everything = search(repo)
    by_id = search(repo, meter_ids=["99999999-0000-4000-8000-000000000001"])
    by_reference = search(repo, partner_references=["other-1"])

    # Then none of the other partner's meters appear
    assert everything == ["m-0", "m-1", "m-2", "m-3", "m-4"]
    assert by_id == []
    assert by_reference == []


def test_other_partner_sees_only_their_own(repo: InMemoryMeterRepository) -> None:
    # When the other partner lists everything
    found = search(repo, OTHER)

    # Then only their two meters come back
    assert found == ["m-0", "other-1"]


def test_get_meter_of_another_partner_is_not_found(repo: InMemoryMeterRepository) -> None:
    # When this partner asks for the other partner's meter
    with pytest.raises(NotFound) as missing:
        read_meters.get_meter(repo, PARTNER, "99999999-0000-4000-8000-000000000001")

    # Then it is indistinguishable from a missing meter
    assert missing.value.title == "Meter not found"
    assert missing.value.details == {"meter_id": "99999999-0000-4000-8000-000000000001"}


@pytest.mark.parametrize("meter_id", ["abcdef", "", "00000000-0000-4000-8000-00000000000Z"])
def test_malformed_meter_id_is_invalid_input(repo: InMemoryMeterRepository, meter_id: str) -> None:
    # When a malformed id is asked for
    with pytest.raises(InvalidInput) as refused:
        read_meters.get_meter(repo, PARTNER, meter_id)

    # Then it is Leap's 400, echoing the value
    assert refused.value.title == "Meter id is not a UUID"
    assert refused.value.details == {"meter_id": meter_id}


def test_created_after_without_offset_is_refused_or_read_as_utc(repo: InMemoryMeterRepository) -> None:
    # Given a filter time without a UTC offset
    filters = {"created_after_date_time": "2025-01-10T09:00:00"}
    try:
        MeterFilterRequest.model_validate(filters)
    except ValidationError:
        return  # refused up front as a 400: acceptable

    # When it is accepted, then it must behave as UTC
    assert search(repo, **filters) == ["m-2", "m-3", "m-4"]


def test_an_empty_meter_id_list_does_not_constrain_the_search(repo: InMemoryMeterRepository) -> None:
    # Given a filter with an empty id list (Leap allows 0 items)
    request = MeterFilterRequest(meter_ids=[])
    # When searching
    page = read_meters.search_meters(repo, PARTNER, request)
    # Then every meter of the partner comes back
    assert [meter.partner_reference for meter in page.meters] == ["m-0", "m-1", "m-2", "m-3", "m-4"]
