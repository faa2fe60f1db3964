"""functions/meters_api/app.py end to end on moto: create, read, search, enrollment and every error path."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from meterhub.catalog.enums import ProvisionalAssetStatus, StatusDetailName
from meterhub.meters.adapters.dynamodb import DynamoMeterRepository, dynamo_meter_repository
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.api_models.responses import ProvisionalAsset
from meterhub.meters.use_cases.create_meter import connect_link, create_meter
from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
from meterhub.platform.settings import MetersTableSettings, PartnersTableSettings

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey
    from mypy_boto3_dynamodb import DynamoDBClient

Invoke = Callable[..., tuple[int, Any]]
MakeAsset = Callable[..., dict[str, Any]]

CREATE = "/v1.1/meters"
SEARCH = "/v2/meters/search"
INTERNAL_ERROR = "An error happened whilst processing your request"
DELETE = object()
VALID_ESIID = "10443720001234567"


def post_meter(
    invoke: Invoke,
    asset: dict[str, Any],
    *,
    token: str | None = None,
    update_existing: bool | None = None,
    partner_id: str | None = None,
) -> tuple[int, Any]:
    body: dict[str, Any] = {"provisional_asset": asset}
    if token is not None:
        body["onboarding_token"] = token
    query = {"update_existing": str(update_existing).lower()} if update_existing is not None else None
    return invoke("POST", CREATE, body, query=query, partner_id=partner_id)


def stored_meters(aws: DynamoDBClient, partner_id: str) -> list[dict[str, Any]]:
    """The meter items (not the reference guards) of a partner, straight from the table."""
    response = aws.query(
        TableName=MetersTableSettings.load().meters_table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :meter)",
        ExpressionAttributeValues={":pk": {"S": f"PARTNER#{partner_id}"}, ":meter": {"S": "METER#"}},
        ConsistentRead=True,
    )
    return [json.loads(item["doc"]["S"]) for item in response.get("Items", [])]


def mutate(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or with DELETE remove) the value at a dot path."""
    *parents, last = path.split(".")
    target: Any = document
    for step in parents:
        target = target[int(step)] if isinstance(target, list) else target[step]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return document


def create_five(invoke: Invoke, make_asset: MakeAsset) -> list[dict[str, Any]]:
    """Five meters of different region / type / class, created in order; their 200 bodies."""
    specs = [
        ("m-0", "ISONE", "DEVICE", "RESIDENTIAL"),
        ("m-1", "ERCOT", "SUBMETER", "COMMERCIAL"),
        ("m-2", "ISONE", "UTILITY_METER", "COMMERCIAL"),
        ("m-3", "CAISO", "DEVICE", "RESIDENTIAL"),
        ("m-4", "ISONE", "SUBMETER", "RESIDENTIAL"),
    ]
    bodies = []
    for reference, region, meter_type, classification in specs:
        status, body = post_meter(
            invoke, make_asset(reference, region=region, meter_type=meter_type, classification=classification)
        )
        assert status == 200, body
        bodies.append(body)
    return bodies


# ----- create ----------------------------------------------------------------------------------------------


def test_create_returns_completed_and_stores_the_meter(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a valid ISONE device asset
    asset = make_asset("site-001")

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then the provisional asset is COMPLETED / METER_CREATED and the meter is in the table
    assert status == 200
    assert body["status"] == "COMPLETED"
    assert body["status_detail"] == {"name": "METER_CREATED", "description": "A new meter was created."}
    assert body["partner_reference"] == "site-001"
    assert body["data"] == asset
    [stored] = stored_meters(aws, partner.partner_id)
    assert stored["meter_id"] == body["meter_id"]
    assert stored["data"] == asset


def test_duplicate_reference_is_reported_and_changes_nothing(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a created meter
    _, first = post_meter(invoke, make_asset("site-001"))
    before = stored_meters(aws, partner.partner_id)

    # When the same reference is posted with other data
    status, body = post_meter(invoke, make_asset("site-001", customer={"city": "Worcester"}))

    # Then the answer is DUPLICATE / DUPLICATE_REF_ID naming the existing meter, and the table is unchanged
    assert status == 200
    assert body["status"] == "DUPLICATE"
    assert body["status_detail"]["name"] == "DUPLICATE_REF_ID"
    assert first["meter_id"] in body["status_detail"]["description"]
    assert "meter_id" not in body
    assert stored_meters(aws, partner.partner_id) == before


def test_update_existing_overwrites_in_place(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a created meter
    _, first = post_meter(invoke, make_asset("site-001"))
    _, created = invoke("GET", f"/v2/meters/{first['meter_id']}")

    # When the same reference is posted with update_existing=true and new data
    status, body = post_meter(invoke, make_asset("site-001", customer={"city": "Worcester"}), update_existing=True)

    # Then the same meter is overwritten: same id and creation time, new data, later update time
    assert status == 200
    assert (body["status"], body["status_detail"]["name"]) == ("COMPLETED", "METER_UPDATED")
    assert body["meter_id"] == first["meter_id"]
    _, updated = invoke("GET", f"/v2/meters/{first['meter_id']}")
    assert updated["audit"]["created_at"] == created["audit"]["created_at"]
    assert updated["audit"]["updated_at"] > created["audit"]["updated_at"]
    assert updated["customer"]["city"] == "Worcester"
    [stored] = stored_meters(aws, partner.partner_id)
    assert stored["version"] == 2


@pytest.mark.parametrize(("region", "account"), [("CAISO", "acme-solar"), ("NYISO", "acme-solar")])
def test_customer_authorized_utility_meter_is_refused_naming_the_connect_route(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset, region: str, account: str
) -> None:
    # Given a utility meter in a region onboarded through Connect
    asset = make_asset("cust-77", region=region, meter_type="UTILITY_METER")

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then it is a 400 on provisional_asset.meter_type naming the partner's Connect route, and nothing is stored
    assert status == 400
    [error] = body["errors"]
    assert error["field"] == "provisional_asset.meter_type"
    assert f"/connect?account={account}&transmissionRegion={region}&refId=cust-77" in error["description"]
    assert stored_meters(aws, partner.partner_id) == []


def test_ercot_utility_meter_without_esiid_is_refused(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given an ERCOT utility meter without ESIID
    asset = make_asset("tx-1", region="ERCOT", meter_type="UTILITY_METER")

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then the ESIID field is named as required
    assert status == 400
    [error] = body["errors"]
    assert error["field"] == "provisional_asset.utility.electric_service_account_number"
    assert error["description"].startswith("is required for ERCOT-ERS")
    assert stored_meters(aws, partner.partner_id) == []


def test_ercot_utility_meter_with_a_malformed_esiid_is_refused(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given an ERCOT utility meter with an 18-digit ESIID
    asset = make_asset(
        "tx-1", region="ERCOT", meter_type="UTILITY_METER", utility={"electric_service_account_number": "1" * 18}
    )

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then the ESIID rule is named
    assert status == 400
    assert body["errors"][0]["field"] == "provisional_asset.utility.electric_service_account_number"
    assert body["errors"][0]["description"].startswith("must be an ESIID of 17 or 22 digits")


def test_ercot_utility_meter_with_an_esiid_is_created(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given an ERCOT utility meter with a 17-digit ESIID
    asset = make_asset(
        "tx-1", region="ERCOT", meter_type="UTILITY_METER", utility={"electric_service_account_number": VALID_ESIID}
    )

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then it is created
    assert (status, body["status"]) == (200, "COMPLETED")


# ----- create: request validation --------------------------------------------------------------------------

REQUIRED_TOP_LEVEL = [
    "partner_reference",
    "transmission_region",
    "customer_classification",
    "load_types",
    "meter_type",
    "customer",
]


@pytest.mark.parametrize("field", REQUIRED_TOP_LEVEL)
def test_missing_required_top_level_field_is_named(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset, field: str
) -> None:
    # Given an asset without one required field
    asset = mutate(make_asset("site-001"), field, DELETE)

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then exactly that field is reported as required, and nothing is stored
    assert status == 400
    assert body == {
        "errors": [{"field": f"provisional_asset.{field}", "description": "is required", "suggestions": []}]
    }
    assert stored_meters(aws, partner.partner_id) == []


@pytest.mark.parametrize("field", ["street_1", "postal_code", "city", "state_or_province_code"])
def test_missing_required_customer_address_field_is_named(invoke: Invoke, make_asset: MakeAsset, field: str) -> None:
    # Given an asset whose customer address lacks one required line
    asset = mutate(make_asset("site-001"), f"customer.{field}", DELETE)

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then that nested field is reported
    assert status == 400
    assert [(e["field"], e["description"]) for e in body["errors"]] == [
        (f"provisional_asset.customer.{field}", "is required")
    ]


@pytest.mark.parametrize(
    ("path", "value", "field", "description_start"),
    [
        ("transmission_region", "MARS", "transmission_region", "must be one of: CAISO, ERCOT, NYISO, ISONE"),
        ("customer_classification", "INDUSTRIAL", "customer_classification", "must be one of: RESIDENTIAL, COMMERCIAL"),
        ("meter_type", "GAS_METER", "meter_type", "must be one of: UTILITY_METER, SUBMETER, DEVICE"),
        ("load_types", ["HVAC", "NUCLEAR"], "load_types.1", "must be one of: HVAC,"),
        ("customer.dispatch_option", "WEEKLY", "customer.dispatch_option", "must be one of: DAILY, TARGETED"),
        ("customer.postal_code", "1234", "customer.postal_code", "must match"),
        ("customer.postal_code", "ABCDE", "customer.postal_code", "must match"),
        ("customer.postal_code", "02108-12", "customer.postal_code", "must match"),
        ("partner_reference", "site/001", "partner_reference", "must match"),
        ("partner_reference", "site#001", "partner_reference", "must match"),
        ("partner_reference", "ab", "partner_reference", "must be at least 3 characters"),
        ("load_types", [], "load_types", "must contain at least 1 item"),
        ("customer.end_customer_email", "not-an-email", "customer.end_customer_email", "must be a valid email"),
        ("customer.state_or_province_code", "MAS", "customer.state_or_province_code", "must be at most 2 characters"),
    ],
    ids=[
        "region",
        "classification",
        "meter_type",
        "load_type",
        "dispatch_option",
        "postal-short",
        "postal-letters",
        "postal-plus4",
        "ref-slash",
        "ref-hash",
        "ref-short",
        "load_types-empty",
        "email",
        "state",
    ],
)
def test_invalid_field_is_named(
    aws: DynamoDBClient,
    partner: IssuedKey,
    invoke: Invoke,
    make_asset: MakeAsset,
    path: str,
    value: Any,
    field: str,
    description_start: str,
) -> None:
    # Given an asset with one invalid value
    asset = mutate(make_asset("site-001"), path, value)

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then a CreateMeterErrorResponse names exactly that field and its rule, and nothing is stored
    assert status == 400
    [error] = body["errors"]
    assert error["field"] == f"provisional_asset.{field}"
    assert error["description"].startswith(description_start), error["description"]
    assert stored_meters(aws, partner.partner_id) == []


def test_several_invalid_fields_are_all_reported(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given an asset with four problems
    asset = make_asset("site-001")
    mutate(asset, "transmission_region", "MARS")
    mutate(asset, "customer.postal_code", "1234")
    mutate(asset, "customer.city", DELETE)
    mutate(asset, "load_types", [])

    # When it is posted
    status, body = post_meter(invoke, asset)

    # Then all four are reported
    assert status == 400
    assert sorted(e["field"] for e in body["errors"]) == [
        "provisional_asset.customer.city",
        "provisional_asset.customer.postal_code",
        "provisional_asset.load_types",
        "provisional_asset.transmission_region",
    ]


@pytest.mark.parametrize(
    ("raw_body", "description_start"),
    [
        ('{"provisional_asset": {', "request body is not valid JSON"),
        ("not json at all", "request body is not valid JSON"),
        (None, "a JSON request body is required"),
    ],
    ids=["truncated", "text", "missing"],
)
def test_unreadable_body_is_a_400_without_a_field(
    invoke: Invoke, partner: IssuedKey, raw_body: str | None, description_start: str
) -> None:
    # When the body is not JSON, or absent
    status, body = invoke("POST", CREATE, raw_body=raw_body)

    # Then one body-level error says so
    assert status == 400
    [error] = body["errors"]
    assert "field" not in error
    assert error["description"].startswith(description_start)


def test_body_without_provisional_asset_names_it(invoke: Invoke) -> None:
    # When the body has no provisional_asset
    status, body = invoke("POST", CREATE, {"onboarding_token": "abc"})

    # Then that property is named as required
    assert status == 400
    assert [(e["field"], e["description"]) for e in body["errors"]] == [("provisional_asset", "is required")]


def test_bad_update_existing_query_parameter_is_named(invoke: Invoke, make_asset: MakeAsset) -> None:
    # When update_existing is not a boolean
    status, body = invoke("POST", CREATE, {"provisional_asset": make_asset()}, query={"update_existing": "maybe"})

    # Then the parameter is named
    assert status == 400
    assert [e["field"] for e in body["errors"]] == ["update_existing"]


# ----- onboarding_token ------------------------------------------------------------------------------------


def test_same_token_and_body_replays_the_first_result(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a meter created with an onboarding token
    asset = make_asset("site-001")
    first_status, first = post_meter(invoke, asset, token="tok-123")

    # When the very same request is sent again
    second_status, second = post_meter(invoke, asset, token="tok-123")

    # Then the first result is returned (not a DUPLICATE) and only one meter exists
    assert (first_status, second_status) == (200, 200)
    assert second == first
    assert second["status"] == "COMPLETED"
    assert len(stored_meters(aws, partner.partner_id)) == 1


def test_same_token_with_another_body_is_a_409(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a meter created with an onboarding token
    post_meter(invoke, make_asset("site-001"), token="tok-123")

    # When the token is reused with a different asset
    status, body = post_meter(invoke, make_asset("site-002"), token="tok-123")

    # Then it is a 409 naming the token, and nothing new is stored
    assert status == 409
    assert body == {
        "title": "onboarding_token was already used with a different request",
        "status": 409,
        "details": {"field": "onboarding_token"},
    }
    assert [m["partner_reference"] for m in stored_meters(aws, partner.partner_id)] == ["site-001"]


def test_same_token_with_another_update_existing_is_a_409(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given a meter created with an onboarding token
    asset = make_asset("site-001")
    post_meter(invoke, asset, token="tok-123")

    # When the same token and asset are sent with update_existing=true
    status, _ = post_meter(invoke, asset, token="tok-123", update_existing=True)

    # Then the request differs, so the token may not be reused
    assert status == 409


def test_token_of_a_refused_request_can_be_retried(
    aws: DynamoDBClient, partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a request refused by the catalog (ERCOT without ESIID) under a token
    refused = make_asset("tx-1", region="ERCOT", meter_type="UTILITY_METER")
    status, _ = post_meter(invoke, refused, token="tok-tx")
    assert status == 400

    # When the same token is sent again with the fixed asset
    fixed = make_asset(
        "tx-1", region="ERCOT", meter_type="UTILITY_METER", utility={"electric_service_account_number": VALID_ESIID}
    )
    status, body = post_meter(invoke, fixed, token="tok-tx")

    # Then the fixed request is processed: the refusal did not burn the token
    assert (status, body["status"]) == (200, "COMPLETED")
    assert len(stored_meters(aws, partner.partner_id)) == 1


def test_tokens_are_scoped_to_the_partner(
    aws: DynamoDBClient, partner: IssuedKey, other_partner: IssuedKey, invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given a token used by one partner
    _, mine = post_meter(invoke, make_asset("site-001"), token="shared-token")

    # When another partner uses the same token and body
    status, theirs = post_meter(
        invoke, make_asset("site-001"), token="shared-token", partner_id=other_partner.partner_id
    )

    # Then the other partner gets its own new meter
    assert (status, theirs["status"]) == (200, "COMPLETED")
    assert theirs["meter_id"] != mine["meter_id"]
    assert len(stored_meters(aws, other_partner.partner_id)) == 1


# ----- concurrency -----------------------------------------------------------------------------------------


def test_concurrent_creates_of_one_reference_store_exactly_one_meter(
    aws: DynamoDBClient, partner: IssuedKey, make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given moto's transact_write_items made atomic like DynamoDB's (moto snapshots and restores the table on a
    # failed transaction without a lock, which could erase a concurrent winner's write)
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.Lock()
    original = DynamoDBBackend.transact_write_items

    def atomic(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            original(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", atomic)
    repo = dynamo_meter_repository(MetersTableSettings.load().meters_table_name)
    connect = connect_link(
        dynamo_partner_repository(PartnersTableSettings.load().partners_table_name), partner.partner_id
    )
    asset = CreateMeter.model_validate(make_asset("race-1"))
    start = threading.Barrier(8)

    def attempt(_: int) -> ProvisionalAsset:
        start.wait(timeout=10)
        return create_meter(repo, partner.partner_id, asset, update_existing=False, connect=connect)

    # When eight threads create the same reference at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))

    # Then exactly one COMPLETED, seven DUPLICATE naming that meter, and one meter in the table
    completed = [r for r in results if r.status is ProvisionalAssetStatus.COMPLETED]
    duplicates = [r for r in results if r.status is ProvisionalAssetStatus.DUPLICATE]
    assert len(completed) == 1
    assert len(duplicates) == 7
    winner = str(completed[0].meter_id)
    assert all(winner in (d.status_detail.description or "") for d in duplicates)
    assert all(d.status_detail.name is StatusDetailName.DUPLICATE_REF_ID for d in duplicates)
    assert [m["meter_id"] for m in stored_meters(aws, partner.partner_id)] == [winner]


# ----- read ------------------------------------------------------------------------------------------------


def test_get_returns_the_meter_details(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given a created meter
    asset = make_asset("site-001", utility={"utility_name": "EVERSOURCE"})
    _, created = post_meter(invoke, asset)

    # When it is read
    status, body = invoke("GET", f"/v2/meters/{created['meter_id']}")

    # Then it is the MeterDetailsResponse: the data, our identifiers and a PARTNER audit
    assert status == 200
    assert body["meter_id"] == created["meter_id"]
    assert {k: body[k] for k in asset} == asset
    assert body["audit"]["created_by"] == "PARTNER"
    assert body["audit"]["created_at"] == body["audit"]["updated_at"] == created["created_at"]
    assert (body["is_archived"], body["tags"], body["connection_references"]) == (False, [], [])


@pytest.mark.parametrize("route", ["/v2/meters/{}", "/v2/meters/{}/enrollments"])
@pytest.mark.parametrize("meter_id", ["abcdef", "1234", "6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e1"])
def test_malformed_meter_id_is_a_400(invoke: Invoke, route: str, meter_id: str) -> None:
    # When a malformed id is asked for
    status, body = invoke("GET", route.format(meter_id))

    # Then Leap's 400 envelope echoes it
    assert status == 400
    assert body == {"title": "Meter id is not a UUID", "status": 400, "details": {"meter_id": meter_id}}


@pytest.mark.parametrize("route", ["/v2/meters/{}", "/v2/meters/{}/enrollments"])
@pytest.mark.parametrize("spelling", [str.upper, lambda meter_id: meter_id.replace("-", "")])
def test_the_uuid_format_is_documented_not_enforced_by_the_route(
    invoke: Invoke, make_asset: MakeAsset, route: str, spelling: Callable[[str], str]
) -> None:
    # Given a meter, and meter_id documented as format: uuid
    _, created = post_meter(invoke, make_asset("site-001"))

    # When it is asked for with another spelling uuid.UUID reads
    status, body = invoke("GET", route.format(spelling(created["meter_id"])))

    # Then the route lets it through, and the use case finds the meter by its canonical id as before
    assert status == 200, body
    assert body["meter_id"] == created["meter_id"]


@pytest.mark.parametrize("route", ["/v2/meters/{}", "/v2/meters/{}/enrollments"])
def test_another_partners_meter_is_not_found(
    invoke: Invoke, other_partner: IssuedKey, make_asset: MakeAsset, route: str
) -> None:
    # Given a meter of the other partner
    _, theirs = post_meter(invoke, make_asset("site-001"), partner_id=other_partner.partner_id)

    # When this partner asks for it
    status, body = invoke("GET", route.format(theirs["meter_id"]))

    # Then it is a 404, exactly as for a meter that does not exist
    assert status == 404
    assert body == {"title": "Meter not found", "status": 404, "details": {"meter_id": theirs["meter_id"]}}


def test_unknown_meter_is_not_found(invoke: Invoke) -> None:
    # When a well-formed id nobody has is asked for
    meter_id = "6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e11"
    status, body = invoke("GET", f"/v2/meters/{meter_id}")

    # Then it is a 404
    assert (status, body["title"], body["details"]) == (404, "Meter not found", {"meter_id": meter_id})


def test_request_without_authorizer_context_is_a_401(invoke: Invoke) -> None:
    # When the function is reached without a partner from the authorizer
    status, body = invoke("GET", "/v2/meters/6f1c1f4e-2d0b-4c57-9a53-6a0c2b9f8e11", authorized=False)

    # Then it answers Leap's 401 envelope
    assert (status, body) == (401, {"title": "Unauthorized", "status": 401, "details": {}})


# ----- search ----------------------------------------------------------------------------------------------


def test_search_pages_return_every_meter_exactly_once(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given five meters
    created = create_five(invoke, make_asset)

    # When every page of two is read
    pages: list[list[str]] = []
    request: dict[str, Any] = {"page_size": 2}
    while True:
        status, body = invoke("POST", SEARCH, request)
        assert status == 200
        pages.append([m["meter_id"] for m in body["meters"]])
        if "next_page_token" not in body:
            break
        request = {"page_size": 2, "page_token": body["next_page_token"]}

    # Then three pages hold the five meters once each, in creation order
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [meter_id for page in pages for meter_id in page] == [c["meter_id"] for c in created]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"transmission_region": "ISONE"}, ["m-0", "m-2", "m-4"]),
        ({"customer_classification": "COMMERCIAL"}, ["m-1", "m-2"]),
        ({"meter_types": ["DEVICE"]}, ["m-0", "m-3"]),
        ({"meter_types": ["SUBMETER", "UTILITY_METER"], "transmission_region": "ISONE"}, ["m-2", "m-4"]),
        ({"partner_references": ["m-3", "m-1", "missing"]}, ["m-1", "m-3"]),
        ({"load_types": ["HVAC"]}, []),
        ({"exclude_archived": True}, ["m-0", "m-1", "m-2", "m-3", "m-4"]),
    ],
    ids=["region", "classification", "meter_type", "types-and-region", "references", "load_types", "exclude_archived"],
)
def test_search_filters(invoke: Invoke, make_asset: MakeAsset, filters: dict[str, Any], expected: list[str]) -> None:
    # Given five meters
    create_five(invoke, make_asset)

    # When searching with a filter
    status, body = invoke("POST", SEARCH, filters)

    # Then exactly the matching meters come back, in creation order
    assert status == 200
    assert [m["partner_reference"] for m in body["meters"]] == expected


def test_search_by_meter_ids(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given five meters
    created = create_five(invoke, make_asset)

    # When searching for two of them by id
    wanted = [created[4]["meter_id"], created[1]["meter_id"]]
    status, body = invoke("POST", SEARCH, {"meter_ids": wanted})

    # Then those two come back in creation order
    assert status == 200
    assert [m["partner_reference"] for m in body["meters"]] == ["m-1", "m-4"]


def test_search_by_the_documented_maximum_of_references_with_repeats(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given five meters, and a search naming 1,000 references (the documented maximum) that repeat two of them
    create_five(invoke, make_asset)
    references = ["m-3", "m-0"] * 10 + [f"absent-{i:04d}" for i in range(980)]

    # When searching by them (DynamoDB's BatchGetItem refuses a request that names one key twice)
    status, body = invoke("POST", SEARCH, {"partner_references": references})

    # Then each named meter comes back once
    assert status == 200, body
    assert [m["partner_reference"] for m in body["meters"]] == ["m-0", "m-3"]


def test_search_over_the_maximum_of_references_is_a_400_naming_it(invoke: Invoke) -> None:
    status, body = invoke("POST", SEARCH, {"partner_references": [f"ref-{i:04d}" for i in range(1001)]})
    assert status == 400
    assert body["details"] == {"partner_references": "must contain at most 1000 items"}


def test_search_by_creation_time_is_exclusive_at_both_ends(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given five meters created one after the other
    created = create_five(invoke, make_asset)

    # When searching strictly between the first and the last creation times
    filters = {
        "created_after_date_time": created[0]["created_at"],
        "created_before_date_time": created[4]["created_at"],
    }
    status, body = invoke("POST", SEARCH, filters)

    # Then the three in between come back
    assert status == 200
    assert [m["partner_reference"] for m in body["meters"]] == ["m-1", "m-2", "m-3"]


@pytest.mark.parametrize("bound", ["created_after_date_time", "created_before_date_time"])
def test_search_by_one_creation_bound(invoke: Invoke, make_asset: MakeAsset, bound: str) -> None:
    # Given five meters
    created = create_five(invoke, make_asset)

    # When searching after (or before) the third meter's creation time
    status, body = invoke("POST", SEARCH, {bound: created[2]["created_at"]})

    # Then the meters on that side come back
    expected = ["m-3", "m-4"] if bound == "created_after_date_time" else ["m-0", "m-1"]
    assert status == 200
    assert [m["partner_reference"] for m in body["meters"]] == expected


def test_search_created_after_with_a_non_utc_offset_means_the_same_instant(
    invoke: Invoke, make_asset: MakeAsset
) -> None:
    # Given five meters
    created = create_five(invoke, make_asset)

    # When searching after one minute before the first creation, written at UTC+05:00
    first = datetime.fromisoformat(created[0]["created_at"])
    bound = (first - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=5))).isoformat()
    status, body = invoke("POST", SEARCH, {"created_after_date_time": bound})

    # Then all five come back
    assert status == 200
    assert [m["partner_reference"] for m in body["meters"]] == ["m-0", "m-1", "m-2", "m-3", "m-4"]


@pytest.mark.parametrize("field", ["created_after_date_time", "created_before_date_time", "last_modified_date_time"])
def test_search_time_without_offset_is_a_400(invoke: Invoke, field: str) -> None:
    # When a filter time has no UTC offset
    status, body = invoke("POST", SEARCH, {field: "2025-01-10T09:00:00"})

    # Then the 400 envelope names the field
    assert status == 400
    assert (body["title"], list(body["details"])) == ("Invalid request", [field])


def test_search_never_shows_another_partners_meters(
    invoke: Invoke, other_partner: IssuedKey, make_asset: MakeAsset
) -> None:
    # Given meters of both partners, one reference in common
    mine = create_five(invoke, make_asset)
    _, theirs = post_meter(invoke, make_asset("m-0"), partner_id=other_partner.partner_id)

    # When each partner searches, also by the other's id and reference
    _, my_view = invoke("POST", SEARCH, {})
    _, by_their_id = invoke("POST", SEARCH, {"meter_ids": [theirs["meter_id"]]})
    _, their_view = invoke("POST", SEARCH, {}, partner_id=other_partner.partner_id)

    # Then each sees only their own
    assert [m["meter_id"] for m in my_view["meters"]] == [m["meter_id"] for m in mine]
    assert by_their_id["meters"] == []
    assert [m["meter_id"] for m in their_view["meters"]] == [theirs["meter_id"]]


@pytest.mark.parametrize("page_size", [0, 501, -1])
def test_search_page_size_out_of_range_is_a_400(invoke: Invoke, page_size: int) -> None:
    # When a page size outside 1..500 is asked
    status, body = invoke("POST", SEARCH, {"page_size": page_size})

    # Then the 400 envelope names page_size
    assert status == 400
    assert (body["title"], body["status"], list(body["details"])) == ("Invalid request", 400, ["page_size"])


def test_search_unknown_filter_is_a_400(invoke: Invoke) -> None:
    # When a filter that does not exist is sent
    status, body = invoke("POST", SEARCH, {"colour": "blue"})

    # Then it is named as not allowed
    assert status == 400
    assert body["details"] == {"colour": "is not allowed"}


def test_search_page_token_with_other_filters_is_a_400(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given a token from an ISONE search
    create_five(invoke, make_asset)
    _, first = invoke("POST", SEARCH, {"page_size": 1, "transmission_region": "ISONE"})

    # When it is sent with another region
    status, body = invoke(
        "POST", SEARCH, {"page_size": 1, "transmission_region": "ERCOT", "page_token": first["next_page_token"]}
    )

    # Then it is refused naming the token
    assert status == 400
    assert body["title"] == "page_token belongs to a search with different filters"
    assert list(body["details"]) == ["page_token"]


def test_search_garbage_page_token_is_a_400(invoke: Invoke) -> None:
    # When a token this API never issued is sent
    status, body = invoke("POST", SEARCH, {"page_token": "not-a-token"})

    # Then it is refused naming the token
    assert status == 400
    assert body == {
        "title": "page_token is not a token this API issued",
        "status": 400,
        "details": {"page_token": "not-a-token"},
    }


# ----- enrollment ------------------------------------------------------------------------------------------


def test_enrollment_of_an_isone_device_lists_its_programs(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given an ISONE device without program fields
    _, created = post_meter(invoke, make_asset("site-001"))

    # When its enrollment is read
    status, body = invoke("GET", f"/v2/meters/{created['meter_id']}/enrollments")

    # Then every ISONE program of its state (MA: not Rhode Island's RIE-CS) is PENDING with a SERV_0005 action,
    # and participation starts at creation
    assert status == 200
    assert body["meter_id"] == created["meter_id"]
    assert body["global_enrollment_status"] == "PENDING"
    assert [e["program_identifier"] for e in body["program_enrollment"]] == [
        "MA_DOER-CPS",
        "EVERSOURCE-CS",
        "NATGRID-CS",
        "UNITIL-CS",
    ]
    assert {a["action_code"] for a in body["required_actions"]["partner"]} == {"SERV_0005"}
    assert body["participation_preferences"][0]["participation_preference"] == "PARTICIPATE"
    assert body["participation_preferences"][0]["start_time"] == created["created_at"]


def test_enrollment_of_a_meter_no_program_takes_is_ineligible(invoke: Invoke, make_asset: MakeAsset) -> None:
    # Given a CAISO device (no partner-created CAISO program)
    _, created = post_meter(invoke, make_asset("ca-1", region="CAISO", meter_type="DEVICE"))

    # When its enrollment is read
    status, body = invoke("GET", f"/v2/meters/{created['meter_id']}/enrollments")

    # Then it is INELIGIBLE with no programs
    assert (status, body["global_enrollment_status"], body["program_enrollment"]) == (200, "INELIGIBLE", [])


# ----- failures never leak ---------------------------------------------------------------------------------


def test_unexpected_error_is_the_bare_500_string(
    invoke: Invoke, make_asset: MakeAsset, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given storage that fails in an unexpected way
    def explode(self: DynamoMeterRepository, meter: object) -> None:
        raise RuntimeError("boto internals at /var/task/meterhub/dal/meters.py line 42")

    monkeypatch.setattr(DynamoMeterRepository, "create", explode)

    # When a meter is created
    status, body = post_meter(invoke, make_asset("site-001"))

    # Then the answer is Leap's bare 500 string and nothing else
    assert status == 500
    assert body == INTERNAL_ERROR


@pytest.mark.parametrize(
    ("method", "path", "body", "raw_body"),
    [
        ("POST", CREATE, None, "{"),
        ("POST", CREATE, None, "null"),
        ("POST", CREATE, None, "[1, 2]"),
        ("POST", CREATE, {"provisional_asset": []}, None),
        ("POST", CREATE, {"provisional_asset": {"customer": "x", "load_types": "HVAC"}}, None),
        ("POST", CREATE, {"provisional_asset": {"site": {"site_devices": [{"model_year": 1e308}]}}}, None),
        ("POST", SEARCH, None, "{"),
        ("POST", SEARCH, None, "[]"),
        ("POST", SEARCH, {"meter_ids": ["not-a-uuid"], "page_size": "many"}, None),
        ("POST", SEARCH, {"page_token": "\u0000\u00ff"}, None),
        ("GET", "/v2/meters/%00", None, None),
    ],
)
def test_no_response_contains_a_traceback(
    invoke: Invoke, method: str, path: str, body: Any, raw_body: str | None
) -> None:
    # When a malformed request is sent
    status, answer = invoke(method, path, body, raw_body=raw_body)

    # Then it is a client error whose body shows no Python internals
    text = json.dumps(answer)
    assert 400 <= status < 500
    assert "Traceback" not in text
    assert 'File "' not in text
    assert ".py" not in text
