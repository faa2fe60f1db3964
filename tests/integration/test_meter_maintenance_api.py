"""functions/meters_api/app.py end to end on moto: meter maintenance (tags, archiving, reference corrections)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
from meterhub.meters.use_cases.correct_reference import DuplicateReference, correct_reference
from meterhub.platform.settings import MetersTableSettings

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


# ----- correcting a partner reference ----------------------------------------------------------------------


def reference_path(meter_id: str) -> str:
    return f"/v1.1/meters/{meter_id}/partner_meter_ref"


def guards(aws: DynamoDBClient, partner_id: str) -> dict[str, str]:
    """The partner's reference guards (REF# items): reference -> meter_id, straight from the table."""
    response = aws.query(
        TableName=MetersTableSettings.load().meters_table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :ref)",
        ExpressionAttributeValues={":pk": {"S": f"PARTNER#{partner_id}"}, ":ref": {"S": "REF#"}},
        ConsistentRead=True,
    )
    return {item["sk"]["S"].removeprefix("REF#"): item["meter_id"]["S"] for item in response.get("Items", [])}


def test_a_corrected_reference_moves_the_guard_and_shows_everywhere(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a meter created as "crm-17"
    [meter] = create(invoke, make_asset, "crm-17")

    # When its reference is corrected
    status, body = invoke("PATCH", reference_path(meter), {"partner_reference": "crm-0017"})

    # Then the meter reads, searches and stores under the new reference only, and the old one is free again
    assert status == 200, body
    assert (body["meter_id"], body["partner_reference"]) == (meter, "crm-0017")
    assert body["audit"]["updated_at"] > body["audit"]["created_at"]
    assert invoke("GET", f"/v2/meters/{meter}")[1] == body
    assert guards(aws, partner.partner_id) == {"crm-0017": meter}
    _, found = invoke("POST", SEARCH, {"partner_references": ["crm-17", "crm-0017"]})
    assert [m["meter_id"] for m in found["meters"]] == [meter]
    status, again = post_meter(invoke, make_asset("crm-17"))
    assert (status, again["status"]) == (200, "COMPLETED")
    assert again["meter_id"] != meter


def test_a_reference_another_meter_holds_is_refused_and_nothing_changes(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given two meters
    meter, holder = create(invoke, make_asset, "crm-1", "crm-2")
    before = (stored_meters(aws, partner.partner_id), guards(aws, partner.partner_id))

    # When the first is given the second's reference
    status, body = invoke("PATCH", reference_path(meter), {"partner_reference": "crm-2"})

    # Then it is refused in Leap's duplicate wording, naming the holder, and nothing changed
    assert status == 409
    assert body == {
        "title": f"Partner reference ID found on meter ID {holder}. A unique reference ID is required.",
        "status": 409,
        "details": {"partner_reference": "crm-2", "meter_id": holder, "name": "DUPLICATE_REF_ID"},
    }
    assert (stored_meters(aws, partner.partner_id), guards(aws, partner.partner_id)) == before


def test_correcting_to_the_same_reference_changes_nothing(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    [meter] = create(invoke, make_asset, "crm-1")
    before = stored_meters(aws, partner.partner_id)
    status, body = invoke("PATCH", reference_path(meter), {"partner_reference": "crm-1"})
    assert (status, body["partner_reference"]) == (200, "crm-1")
    assert stored_meters(aws, partner.partner_id) == before


def test_correcting_another_partners_meter_is_a_404_and_nothing_is_touched(
    aws: DynamoDBClient, partner: IssuedKey, other_partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    [theirs] = create(invoke, make_asset, "crm-1", partner_id=other_partner.partner_id)
    before = (stored_meters(aws, other_partner.partner_id), guards(aws, other_partner.partner_id))
    status, body = invoke("PATCH", reference_path(theirs), {"partner_reference": "crm-9"})
    assert (status, body) == (404, {"title": "Meter not found", "status": 404, "details": {"meter_id": theirs}})
    assert (stored_meters(aws, other_partner.partner_id), guards(aws, other_partner.partner_id)) == before
    assert guards(aws, partner.partner_id) == {}


@pytest.mark.parametrize(
    ("meter_id", "request_body", "details"),
    [
        (UNKNOWN_METER, {}, {"partner_reference": "is required"}),
        (UNKNOWN_METER, {"partner_reference": "ab"}, {"partner_reference": "must be at least 3 characters"}),
        (UNKNOWN_METER, {"partner_reference": "r" * 257}, {"partner_reference": "must be at most 256 characters"}),
        (UNKNOWN_METER, {"partner_reference": "a/b?c"}, None),
        (UNKNOWN_METER, {"partner_reference": "crm-1", "extra": 1}, {"extra": "is not allowed"}),
        ("abcdef", {"partner_reference": "crm-1"}, {"meter_id": "abcdef"}),
    ],
    ids=["missing", "too-short", "too-long", "forbidden-characters", "unknown-field", "bad-meter-id"],
)
def test_malformed_reference_corrections_are_400s_naming_the_field(
    invoke: Invoke, meter_id: str, request_body: dict[str, Any], details: dict[str, str] | None
) -> None:
    status, body = invoke("PATCH", reference_path(meter_id), request_body)
    assert status == 400, body
    if details is None:
        assert list(body["details"]) == ["partner_reference"]
    else:
        assert body["details"] == details


def test_an_unknown_meter_is_a_404(invoke: Invoke) -> None:
    status, body = invoke("PATCH", reference_path(UNKNOWN_METER), {"partner_reference": "crm-1"})
    assert (status, body["details"]) == (404, {"meter_id": UNKNOWN_METER})


def test_concurrent_corrections_to_one_reference_let_exactly_one_win(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given moto's transact_write_items made atomic like DynamoDB's (as in the concurrent-create test), and eight
    # meters
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.Lock()
    original = DynamoDBBackend.transact_write_items

    def atomic(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            original(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", atomic)
    meters = create(invoke, make_asset, *(f"race-{n}" for n in range(8)))
    repo = dynamo_meter_repository(MetersTableSettings.load().meters_table_name)
    start = threading.Barrier(len(meters))

    def attempt(meter_id: str) -> str:
        start.wait(timeout=10)
        try:
            correct_reference(repo, partner.partner_id, meter_id, "race-winner")
        except DuplicateReference as refused:
            assert isinstance(refused.details, dict)
            return f"refused:{refused.details['meter_id']}"
        return "won"

    # When each of them is corrected to the same free reference at once
    with ThreadPoolExecutor(max_workers=len(meters)) as pool:
        outcomes = dict(zip(meters, pool.map(attempt, meters), strict=True))

    # Then exactly one won, the seven others were refused naming it, and storage agrees
    [winner] = [meter for meter, outcome in outcomes.items() if outcome == "won"]
    assert sorted(outcomes.values()) == sorted(["won"] + [f"refused:{winner}"] * 7)
    expected = {meter: "race-winner" if meter == winner else f"race-{n}" for n, meter in enumerate(meters)}
    assert {
        meter["meter_id"]: meter["partner_reference"] for meter in stored_meters(aws, partner.partner_id)
    } == expected
    assert guards(aws, partner.partner_id) == {reference: meter for meter, reference in expected.items()}


BULK_REFERENCES = "/v1.1/meters/partner_meter_ref"


def test_bulk_corrections_apply_together_and_may_swap(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given three meters whose first two references were swapped by mistake, and a third to rename
    a, b, c = create(invoke, make_asset, "site-b", "site-a", "site-c")

    # When one request corrects all three
    corrections = [
        {"meter_id": a, "partner_reference": "site-a"},
        {"meter_id": b, "partner_reference": "site-b"},
        {"meter_id": c, "partner_reference": "site-c-2"},
    ]
    status, body = invoke("PATCH", BULK_REFERENCES, {"meters": corrections})

    # Then every meter has its new reference, and the guards say so
    assert status == 200, body
    assert [(m["meter_id"], m["partner_reference"]) for m in body["meters"]] == [
        (a, "site-a"),
        (b, "site-b"),
        (c, "site-c-2"),
    ]
    assert guards(aws, partner.partner_id) == {"site-a": a, "site-b": b, "site-c-2": c}


def test_bulk_corrections_with_one_taken_reference_change_nothing(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    a, b, holder = create(invoke, make_asset, "r-1", "r-2", "r-3")
    before = (stored_meters(aws, partner.partner_id), guards(aws, partner.partner_id))
    corrections = [{"meter_id": a, "partner_reference": "r-9"}, {"meter_id": b, "partner_reference": "r-3"}]
    status, body = invoke("PATCH", BULK_REFERENCES, {"meters": corrections})
    assert (status, body["details"]) == (
        409,
        {"partner_reference": "r-3", "meter_id": holder, "name": "DUPLICATE_REF_ID"},
    )
    assert (stored_meters(aws, partner.partner_id), guards(aws, partner.partner_id)) == before


def test_bulk_corrections_naming_another_partners_meter_are_a_404_and_change_nothing(
    aws: DynamoDBClient, partner: IssuedKey, other_partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    [mine] = create(invoke, make_asset, "r-1")
    [theirs] = create(invoke, make_asset, "r-1", partner_id=other_partner.partner_id)
    before = (guards(aws, partner.partner_id), guards(aws, other_partner.partner_id))
    corrections = [{"meter_id": mine, "partner_reference": "r-8"}, {"meter_id": theirs, "partner_reference": "r-9"}]
    status, body = invoke("PATCH", BULK_REFERENCES, {"meters": corrections})
    assert (status, body["details"]) == (404, {"meter_id": theirs})
    assert (guards(aws, partner.partner_id), guards(aws, other_partner.partner_id)) == before


@pytest.mark.parametrize(
    ("request_body", "details"),
    [
        ({"meters": []}, {"meters": "must contain at least 1 item"}),
        (
            {"meters": [{"meter_id": UNKNOWN_METER, "partner_reference": f"r-{n:02d}"} for n in range(34)]},
            {"meters": "must contain at most 33 items"},
        ),
        ({"meters": [{"meter_id": UNKNOWN_METER}]}, {"meters.0.partner_reference": "is required"}),
        (
            {"meters": [{"meter_id": UNKNOWN_METER, "partner_reference": "r-1"}] * 2},
            {"meters.1.meter_id": "is already named by meters.0"},
        ),
        (
            {
                "meters": [
                    {"meter_id": UNKNOWN_METER, "partner_reference": "r-1"},
                    {"meter_id": UNKNOWN_METER.replace("1", "2"), "partner_reference": "r-1"},
                ]
            },
            {"meters.1.partner_reference": "is already named by meters.0"},
        ),
    ],
    ids=["empty", "34-corrections", "no-reference", "meter-twice", "reference-twice"],
)
def test_malformed_bulk_corrections_are_400s_naming_the_field(
    invoke: Invoke, request_body: dict[str, Any], details: dict[str, str]
) -> None:
    status, body = invoke("PATCH", BULK_REFERENCES, request_body)
    assert (status, body["details"]) == (400, details), body
