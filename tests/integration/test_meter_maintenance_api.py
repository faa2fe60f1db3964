"""functions/meters_api/app.py end to end on moto: meter maintenance (tags, archiving, reference corrections)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.test_meters_api import post_meter, stored_meters

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey
    from mypy_boto3_dynamodb import DynamoDBClient

Invoke = Callable[..., tuple[int, Any]]
MakeAsset = Callable[..., dict[str, Any]]

TAGS = "/v1.1/meters/tags"
SEARCH = "/v2/meters/search"
UNKNOWN_METER = "6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e11"


def create(invoke: Invoke, make_asset: MakeAsset, *references: str, partner_id: str | None = None) -> list[str]:
    """Meters with these references; their ids."""
    ids = []
    for reference in references:
        status, body = post_meter(invoke, make_asset(reference), partner_id=partner_id)
        assert status == 200, body
        ids.append(body["meter_id"])
    return ids


def tags_of(aws: DynamoDBClient, partner_id: str) -> dict[str, list[str]]:
    return {meter["partner_reference"]: meter["tags"] for meter in stored_meters(aws, partner_id)}


# ----- tags ------------------------------------------------------------------------------------------------


def test_tags_are_added_to_every_named_meter_and_found_by_search(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given three meters
    first, second, _ = create(invoke, make_asset, "t-0", "t-1", "t-2")

    # When two of them are tagged (one tag twice, one meter twice)
    status, body = invoke("POST", TAGS, {"meter_ids": [second, first, second], "tags": ["pilot", "Block 7", "pilot"]})

    # Then both carry the tags once, the answer shows them as stored, and a tag search finds exactly them
    assert status == 200, body
    assert [(m["meter_id"], m["tags"]) for m in body["meters"]] == [
        (second, ["pilot", "Block 7"]),
        (first, ["pilot", "Block 7"]),
    ]
    assert tags_of(aws, partner.partner_id) == {"t-0": ["pilot", "Block 7"], "t-1": ["pilot", "Block 7"], "t-2": []}
    _, found = invoke("POST", SEARCH, {"tags": ["Block 7"]})
    assert [m["partner_reference"] for m in found["meters"]] == ["t-0", "t-1"]


def test_adding_tags_a_meter_has_changes_nothing_and_keeps_its_update_time(
    invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a tagged meter
    [meter] = create(invoke, make_asset, "t-0")
    invoke("POST", TAGS, {"meter_ids": [meter], "tags": ["a", "b"]})
    _, before = invoke("GET", f"/v2/meters/{meter}")

    # When the same tags are added again
    status, body = invoke("POST", TAGS, {"meter_ids": [meter], "tags": ["b", "a"]})

    # Then the meter is as it was: same tags, same order, same update time
    assert status == 200
    _, after = invoke("GET", f"/v2/meters/{meter}")
    assert after == before == body["meters"][0]


def test_tags_are_removed_and_a_missing_tag_is_no_error(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given two meters tagged a, b, c
    meters = create(invoke, make_asset, "t-0", "t-1")
    invoke("POST", TAGS, {"meter_ids": meters, "tags": ["a", "b", "c"]})

    # When b and a tag neither has are removed from both
    status, body = invoke("DELETE", TAGS, {"meter_ids": meters, "tags": ["b", "never-set"]})

    # Then both keep a and c, in their order, and a search for b finds nothing
    assert status == 200, body
    assert [m["tags"] for m in body["meters"]] == [["a", "c"], ["a", "c"]]
    assert tags_of(aws, partner.partner_id) == {"t-0": ["a", "c"], "t-1": ["a", "c"]}
    _, found = invoke("POST", SEARCH, {"tags": ["b"]})
    assert found["meters"] == []


def test_a_tag_over_128_characters_is_a_400_naming_it(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    [meter] = create(invoke, make_asset, "t-0")
    status, body = invoke("POST", TAGS, {"meter_ids": [meter], "tags": ["ok", "x" * 129]})
    assert status == 400
    assert body["details"] == {"tags.1": "must be at most 128 characters"}
    assert tags_of(aws, partner.partner_id) == {"t-0": []}


def test_a_tag_of_128_characters_is_stored(invoke: Invoke, make_asset: MakeAsset) -> None:
    [meter] = create(invoke, make_asset, "t-0")
    status, body = invoke("POST", TAGS, {"meter_ids": [meter], "tags": ["x" * 128]})
    assert (status, body["meters"][0]["tags"]) == (200, ["x" * 128])


def test_a_21st_tag_on_any_meter_is_a_400_and_no_meter_changes(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given two meters, the second already holding 19 tags
    roomy, crowded = create(invoke, make_asset, "t-0", "t-1")
    nineteen = [f"tag-{n:02d}" for n in range(19)]
    assert invoke("POST", TAGS, {"meter_ids": [crowded], "tags": nineteen})[0] == 200
    before = stored_meters(aws, partner.partner_id)

    # When two new tags are added to both (the first meter could take them, the second would hold 21)
    status, body = invoke("POST", TAGS, {"meter_ids": [roomy, crowded], "tags": ["new-1", "new-2"]})

    # Then it is a 400 naming the field, the rule and the meter, and neither meter changed
    assert status == 400
    assert body["title"] == "A meter holds at most 20 tags"
    assert body["details"]["meter_id"] == crowded
    assert body["details"]["tags"].startswith("must leave at most 20 tags on a meter")
    assert stored_meters(aws, partner.partner_id) == before


def test_a_20th_tag_is_accepted(invoke: Invoke, make_asset: MakeAsset) -> None:
    [meter] = create(invoke, make_asset, "t-0")
    invoke("POST", TAGS, {"meter_ids": [meter], "tags": [f"tag-{n:02d}" for n in range(19)]})
    status, body = invoke("POST", TAGS, {"meter_ids": [meter], "tags": ["tag-19"]})
    assert (status, len(body["meters"][0]["tags"])) == (200, 20)


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_another_partners_meter_is_a_404_and_nothing_is_touched(
    aws: DynamoDBClient,
    partner: IssuedKey,
    other_partner: IssuedKey,
    invoke: Invoke,
    make_asset: MakeAsset,
    method: str,
) -> None:
    # Given a meter of each partner, both tagged "keep"
    [mine] = create(invoke, make_asset, "t-0")
    [theirs] = create(invoke, make_asset, "t-0", partner_id=other_partner.partner_id)
    invoke("POST", TAGS, {"meter_ids": [mine], "tags": ["keep"]})
    invoke("POST", TAGS, {"meter_ids": [theirs], "tags": ["keep"]}, partner_id=other_partner.partner_id)
    before = (stored_meters(aws, partner.partner_id), stored_meters(aws, other_partner.partner_id))

    # When this partner changes tags on its meter and the other partner's
    status, body = invoke(method, TAGS, {"meter_ids": [mine, theirs], "tags": ["keep"]})

    # Then it is Leap's 404 for the other meter, and neither meter changed
    assert status == 404
    assert body == {"title": "Meter not found", "status": 404, "details": {"meter_id": theirs}}
    assert (stored_meters(aws, partner.partner_id), stored_meters(aws, other_partner.partner_id)) == before


@pytest.mark.parametrize(
    ("request_body", "details"),
    [
        ({"meter_ids": [UNKNOWN_METER]}, {"tags": "is required"}),
        ({"meter_ids": [], "tags": ["a"]}, {"meter_ids": "must contain at least 1 item"}),
        ({"meter_ids": [UNKNOWN_METER], "tags": []}, {"tags": "must contain at least 1 item"}),
        ({"meter_ids": ["abc"], "tags": ["a"]}, {"meter_ids.0": "must be a UUID"}),
        ({"meter_ids": [UNKNOWN_METER], "tags": ["a"] * 21}, {"tags": "must contain at most 20 items"}),
        ({"meter_ids": [UNKNOWN_METER] * 101, "tags": ["a"]}, {"meter_ids": "must contain at most 100 items"}),
        ({"meter_ids": [UNKNOWN_METER], "tags": ["a"], "extra": 1}, {"extra": "is not allowed"}),
    ],
    ids=["no-tags", "no-meters", "empty-tags", "bad-id", "21-tags", "101-meters", "unknown-field"],
)
def test_malformed_tag_requests_are_400s_naming_the_field(
    invoke: Invoke, request_body: dict[str, Any], details: dict[str, str]
) -> None:
    status, body = invoke("POST", TAGS, request_body)
    assert (status, body["details"]) == (400, details), body


def test_unknown_meter_is_a_404(invoke: Invoke) -> None:
    status, body = invoke("DELETE", TAGS, {"meter_ids": [UNKNOWN_METER], "tags": ["a"]})
    assert (status, body["details"]) == (404, {"meter_id": UNKNOWN_METER})


# ----- archiving -------------------------------------------------------------------------------------------

ARCHIVE = "/v1.1/meters/archive"


def test_archived_meters_show_it_and_exclude_archived_leaves_them_out(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given three meters, two of them archived
    first, second, third = create(invoke, make_asset, "a-0", "a-1", "a-2")
    status, body = invoke("POST", ARCHIVE, {"meter_ids": [third, first]})
    assert status == 200, body
    assert [(m["meter_id"], m["is_archived"]) for m in body["meters"]] == [(third, True), (first, True)]

    # Then reads show is_archived, search includes them by default and leaves them out with exclude_archived
    assert invoke("GET", f"/v2/meters/{first}")[1]["is_archived"] is True
    assert invoke("GET", f"/v2/meters/{second}")[1]["is_archived"] is False
    _, everything = invoke("POST", SEARCH, {})
    assert [m["partner_reference"] for m in everything["meters"]] == ["a-0", "a-1", "a-2"]
    _, live = invoke("POST", SEARCH, {"exclude_archived": True})
    assert [m["partner_reference"] for m in live["meters"]] == ["a-1"]
    _, enrollment = invoke("GET", f"/v2/meters/{third}/enrollments")
    assert enrollment["is_archived"] is True

    # When one is restored, it is listed again
    status, body = invoke("DELETE", ARCHIVE, {"meter_ids": [third]})
    assert (status, body["meters"][0]["is_archived"]) == (200, False)
    _, live = invoke("POST", SEARCH, {"exclude_archived": True})
    assert [m["partner_reference"] for m in live["meters"]] == ["a-1", "a-2"]


def test_archiving_twice_changes_nothing_the_second_time(invoke: Invoke, make_asset: MakeAsset) -> None:
    [meter] = create(invoke, make_asset, "a-0")
    _, first = invoke("POST", ARCHIVE, {"meter_ids": [meter]})
    _, second = invoke("POST", ARCHIVE, {"meter_ids": [meter]})
    assert first == second
    assert first["meters"][0]["audit"]["updated_at"] > first["meters"][0]["audit"]["created_at"]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_archiving_another_partners_meter_is_a_404_and_nothing_is_touched(
    aws: DynamoDBClient,
    partner: IssuedKey,
    other_partner: IssuedKey,
    invoke: Invoke,
    make_asset: MakeAsset,
    method: str,
) -> None:
    [mine] = create(invoke, make_asset, "a-0")
    [theirs] = create(invoke, make_asset, "a-0", partner_id=other_partner.partner_id)
    before = (stored_meters(aws, partner.partner_id), stored_meters(aws, other_partner.partner_id))
    status, body = invoke(method, ARCHIVE, {"meter_ids": [mine, theirs]})
    assert (status, body["details"]) == (404, {"meter_id": theirs})
    assert (stored_meters(aws, partner.partner_id), stored_meters(aws, other_partner.partner_id)) == before


@pytest.mark.parametrize(
    ("request_body", "details"),
    [
        ({}, {"meter_ids": "is required"}),
        ({"meter_ids": []}, {"meter_ids": "must contain at least 1 item"}),
        ({"meter_ids": ["abc"]}, {"meter_ids.0": "must be a UUID"}),
        ({"meter_ids": [UNKNOWN_METER] * 101}, {"meter_ids": "must contain at most 100 items"}),
        ({"meter_ids": [UNKNOWN_METER], "is_archived": False}, {"is_archived": "is not allowed"}),
    ],
    ids=["no-meters", "empty", "bad-id", "101-meters", "unknown-field"],
)
def test_malformed_archive_requests_are_400s_naming_the_field(
    invoke: Invoke, request_body: dict[str, Any], details: dict[str, str]
) -> None:
    status, body = invoke("POST", ARCHIVE, request_body)
    assert (status, body["details"]) == (400, details), body
