"""POST /v2/meters/enrollments/search (Leap's inventory sync) and the enrollment filters of both searches, on moto.

Statuses, partner actions and action types are answered from the stored enrollment through the meters table's
enrollment indexes (gsi2 by status, gsi3 meters with a required action), in creation order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.test_meter_maintenance_api import create
from tests.integration.test_meters_api import post_meter

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

Invoke = Callable[..., tuple[int, Any]]
MakeAsset = Callable[..., dict[str, Any]]

ENROLLMENTS = "/v2/meters/enrollments/search"
METERS = "/v2/meters/search"
# Every field ConnectedSolutions and CPS ask of an ISONE battery: such a meter is ELIGIBLE, one without is PENDING.
COMPLETE: dict[str, Any] = {
    "utility": {"utility_name": "EVERSOURCE", "electric_service_account_number": "51234567890"},
    "isone": {"in_connected_solutions": True},
    "customer": {"dispatch_option": "DAILY"},
    "device": {"device_type": "BATTERY", "battery_power_capacity_kw": 5.0, "battery_energy_capacity_kwh": 13.5},
}
# Leap's own example bodies of searchMeterEnrollments (meter-enrollment-openapi.yml), which both searches take.
LEAP_EXAMPLES: dict[str, dict[str, Any]] = {
    "all fields": {
        "transmission_region": "CAISO",
        "customer_classification": "RESIDENTIAL",
        "meter_ids": ["3fa85f64-5717-4562-b3fc-2c963f66afa6"],
        "partner_references": ["a-partner-reference"],
        "global_enrollment_statuses": ["ACTIVE"],
        "meter_types": ["UTILITY_METER"],
        "load_types": ["HVAC"],
        "customer_groups": ["CustomerGroup1"],
        "tags": ["tag1"],
        "last_modified_date_time": "2024-10-21T11:43:05.892Z",
        "created_after_date_time": "2024-10-21T11:43:05.892Z",
        "created_before_date_time": "2024-10-21T11:43:05.892Z",
        "partner_action_required": False,
        "exclude_archived": False,
        "connection_reference_ids": ["connectionReferenceId1"],
    },
    "default": {"page_size": 500},
    "meter ids": {
        "meter_ids": [
            "3fa85f64-5717-4562-b3fc-2c963f66afa1",
            "3fa85f64-5717-4562-b3fc-2c963f66afa2",
            "3fa85f64-5717-4562-b3fc-2c963f66afa3",
            "3fa85f64-5717-4562-b3fc-2c963f66afa4",
        ]
    },
    "active meters": {"global_enrollment_statuses": ["ACTIVE"]},
    "last modified": {
        "last_modified_date_time": "2024-10-21T11:43:05.892Z",
        "created_after_date_time": "2024-10-21T11:43:05.892Z",
        "created_before_date_time": "2024-10-21T11:43:05.892Z",
    },
    "connection ref": {"connection_reference_ids": ["connectionReferenceId1"]},
    "schema example filters": {"partner_action_required": False, "action_type": ["IS_AUTHORIZED"]},
}


def search(invoke: Invoke, path: str, body: dict[str, Any], partner_id: str | None = None) -> dict[str, Any]:
    status, answer = invoke("POST", path, body, partner_id=partner_id)
    assert status == 200, answer
    return answer  # type: ignore[no-any-return]


def references(answer: dict[str, Any]) -> list[str]:
    return [meter["partner_reference"] for meter in answer["meters"]]


def fleet(invoke: Invoke, make_asset: MakeAsset) -> None:
    """c-0, p-1, c-2, p-3, c-4 in that creation order: c- complete (ELIGIBLE), p- missing fields (PENDING)."""
    for n in range(5):
        reference = f"{'c' if n % 2 == 0 else 'p'}-{n}"
        asset = make_asset(reference, **COMPLETE) if n % 2 == 0 else make_asset(reference)
        status, body = post_meter(invoke, asset)
        assert status == 200, body


@pytest.mark.parametrize("example", sorted(LEAP_EXAMPLES))
@pytest.mark.parametrize("path", [ENROLLMENTS, METERS])
def test_leaps_example_requests_are_served(invoke: Invoke, make_asset: MakeAsset, path: str, example: str) -> None:
    # Given a partner with a meter
    create(invoke, make_asset, "m-0")
    # When Leap's example body is sent
    answer = search(invoke, path, LEAP_EXAMPLES[example])
    # Then it is answered (the "default" example lists the meter; the others name no such meter, status or ref)
    assert references(answer) == (["m-0"] if example == "default" else [])
    assert answer.get("next_page_token") is None


def test_the_enrollment_search_answers_each_meters_stored_enrollment(invoke: Invoke, make_asset: MakeAsset) -> None:
    fleet(invoke, make_asset)
    answer = search(invoke, ENROLLMENTS, {})
    assert references(answer) == ["c-0", "p-1", "c-2", "p-3", "c-4"]
    for meter in answer["meters"]:
        status, single = invoke("GET", f"/v2/meters/{meter['meter_id']}/enrollments")
        assert status == 200 and single == meter  # the same document as the one-meter read
    assert {m["partner_reference"]: m["global_enrollment_status"] for m in answer["meters"]} == {
        "c-0": "ELIGIBLE",
        "p-1": "PENDING",
        "c-2": "ELIGIBLE",
        "p-3": "PENDING",
        "c-4": "ELIGIBLE",
    }


@pytest.mark.parametrize("path", [ENROLLMENTS, METERS])
def test_enrollment_filters_select_by_status_action_and_action_type(
    invoke: Invoke, make_asset: MakeAsset, path: str
) -> None:
    fleet(invoke, make_asset)
    assert references(search(invoke, path, {"global_enrollment_statuses": ["PENDING"]})) == ["p-1", "p-3"]
    assert references(search(invoke, path, {"global_enrollment_statuses": ["ELIGIBLE", "PENDING"]})) == [
        "c-0",
        "p-1",
        "c-2",
        "p-3",
        "c-4",
    ]
    assert references(search(invoke, path, {"global_enrollment_statuses": ["ACTIVE"]})) == []
    assert references(search(invoke, path, {"partner_action_required": True})) == ["p-1", "p-3"]
    assert references(search(invoke, path, {"action_type": ["NO_MISSING_FIELDS"]})) == ["p-1", "p-3"]
    assert references(search(invoke, path, {"action_type": ["IS_AUTHORIZED"]})) == []
    # combined with the other filters, AND-ed
    pending_named = {"global_enrollment_statuses": ["PENDING"], "partner_references": ["p-3", "c-4"]}
    assert references(search(invoke, path, pending_named)) == ["p-3"]


def test_paging_over_two_statuses_lists_every_meter_once_in_creation_order(
    invoke: Invoke, make_asset: MakeAsset
) -> None:
    fleet(invoke, make_asset)
    body: dict[str, Any] = {"global_enrollment_statuses": ["PENDING", "ELIGIBLE"], "page_size": 2}
    seen: list[str] = []
    while True:
        answer = search(invoke, ENROLLMENTS, body)
        seen += references(answer)
        if not answer.get("next_page_token"):
            break
        body["page_token"] = answer["next_page_token"]
    assert seen == ["c-0", "p-1", "c-2", "p-3", "c-4"]


def test_a_meter_whose_enrollment_changes_while_paging_is_neither_repeated_nor_skipped(
    invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a first page of two of the five meters, by creation order
    fleet(invoke, make_asset)
    body: dict[str, Any] = {"page_size": 2}
    first = search(invoke, ENROLLMENTS, body)
    assert references(first) == ["c-0", "p-1"]
    # When p-1 (already listed) and p-3 (not yet) are completed: their enrollment changes to ELIGIBLE
    for reference in ("p-1", "p-3"):
        status, answer = post_meter(invoke, make_asset(reference, **COMPLETE), update_existing=True)
        assert status == 200, answer
    # Then the next pages list the other three once each, p-3 with its new status
    rest: list[dict[str, Any]] = []
    body["page_token"] = first["next_page_token"]
    while True:
        page = search(invoke, ENROLLMENTS, body)
        rest += page["meters"]
        if not page.get("next_page_token"):
            break
        body["page_token"] = page["next_page_token"]
    assert [m["partner_reference"] for m in rest] == ["c-2", "p-3", "c-4"]
    assert {m["partner_reference"]: m["global_enrollment_status"] for m in rest}["p-3"] == "ELIGIBLE"


def test_another_partners_meters_are_never_found(
    invoke: Invoke, make_asset: MakeAsset, other_partner: IssuedKey
) -> None:
    fleet(invoke, make_asset)
    for body in ({}, {"global_enrollment_statuses": ["PENDING", "ELIGIBLE"]}, {"partner_action_required": True}):
        assert search(invoke, ENROLLMENTS, body, partner_id=other_partner.partner_id)["meters"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"global_enrollment_statuses": ["ENROLLED"]}, "global_enrollment_statuses"),
        ({"global_enrollment_statuses": []}, "global_enrollment_statuses"),
        ({"action_type": ["CALL_US"]}, "action_type"),
        ({"partner_action_required": "maybe"}, "partner_action_required"),
        ({"page_size": 501}, "page_size"),
        ({"meter_ids": ["abcdef"]}, "meter_ids"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(invoke: Invoke, body: dict[str, Any], field: str) -> None:
    status, answer = invoke("POST", ENROLLMENTS, body)
    assert status == 400, answer
    assert field in str(answer["details"]), answer
