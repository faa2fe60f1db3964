"""A partner's first five minutes, over real HTTP against the local runner: create, duplicate, update,
read, search with paging, enrollment, and what another partner can (not) see."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from datetime import datetime
from typing import Any, Protocol

import pytest
import requests

pytestmark = pytest.mark.e2e


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str
    demo_api_key: str

    def new_partner(self, name: str) -> tuple[str, str]: ...

    def auth(self, api_key: str) -> dict[str, str]: ...

    def printed(self) -> str: ...


def asset(reference: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "partner_reference": reference,
        "transmission_region": "ISONE",
        "customer_classification": "RESIDENTIAL",
        "load_types": ["BATTERY_STORAGE"],
        "meter_type": "DEVICE",
        "customer": {
            "street_1": "12 Harbor Way",
            "postal_code": "02110",
            "city": "Boston",
            "state_or_province_code": "MA",
            "country_code": "US",
        },
        "device": {"device_type": "BATTERY", "battery_power_capacity_kw": 5, "battery_energy_capacity_kwh": 13.5},
    }
    document.update(overrides)
    return document


class Client:
    def __init__(self, stack: LocalStack, api_key: str) -> None:
        self.url = stack.url
        self.headers = stack.auth(api_key)

    def post(self, path: str, body: Any, **params: str) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=body, params=params, headers=self.headers, timeout=30)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=self.headers, timeout=30)


@pytest.fixture(scope="module")
def acme(local_stack: LocalStack) -> Client:
    return Client(local_stack, local_stack.new_partner(f"E2E Acme {uuid.uuid4().hex[:6]}")[1])


@pytest.fixture(scope="module")
def borealis(local_stack: LocalStack) -> Client:
    return Client(local_stack, local_stack.new_partner(f"E2E Borealis {uuid.uuid4().hex[:6]}")[1])


def test_the_printed_curl_creates_a_meter_that_get_returns(local_stack: LocalStack) -> None:
    # Given the curl `make run` prints for the demo partner
    printed = local_stack.printed()
    command = next(line.strip() for line in printed.splitlines() if line.strip().startswith("curl -s -X POST"))
    # When a developer pastes it into a shell
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True)
    created = json.loads(result.stdout)
    # Then a meter is created, and the printed read-back curl returns it
    assert created["status"] == "COMPLETED", created
    read = next(line.strip() for line in printed.splitlines() if line.strip().startswith("curl -s http"))
    read = read.replace("<meter_id>", created["meter_id"])
    fetched = json.loads(subprocess.run(["bash", "-c", read], capture_output=True, text=True, timeout=30).stdout)
    assert fetched["meter_id"] == created["meter_id"]
    assert fetched["audit"]["created_by"] == "PARTNER"


def test_create_duplicate_update_and_read(acme: Client) -> None:
    # Given a new meter
    created = acme.post("/v1.1/meters", {"provisional_asset": asset("e2e-site-1")})
    assert created.status_code == 200, created.text
    meter_id = created.json()["meter_id"]
    assert created.json()["status_detail"]["name"] == "METER_CREATED"

    # When the same reference is sent again without update_existing
    duplicate = acme.post("/v1.1/meters", {"provisional_asset": asset("e2e-site-1", customer_group="changed")})
    # Then it is a duplicate naming the meter, and nothing changed
    assert duplicate.status_code == 200
    assert duplicate.json()["status"] == "DUPLICATE"
    assert duplicate.json()["status_detail"]["name"] == "DUPLICATE_REF_ID"
    assert meter_id in duplicate.json()["status_detail"]["description"]
    assert "customer_group" not in acme.get(f"/v2/meters/{meter_id}").json()

    # When it is sent with update_existing=true
    updated = acme.post(
        "/v1.1/meters", {"provisional_asset": asset("e2e-site-1", customer_group="vpp-a")}, update_existing="true"
    )
    # Then the same meter is overwritten, keeping its id and creation time
    assert updated.json()["status_detail"]["name"] == "METER_UPDATED"
    assert updated.json()["meter_id"] == meter_id
    read = acme.get(f"/v2/meters/{meter_id}").json()
    assert read["customer_group"] == "vpp-a"
    created_at = datetime.fromisoformat(created.json()["created_at"])
    assert datetime.fromisoformat(read["audit"]["created_at"]) == created_at
    assert datetime.fromisoformat(read["audit"]["updated_at"]) > created_at


def test_search_pages_through_every_meter_once(acme: Client) -> None:
    # Given five meters sharing a customer group no other test uses
    group = f"page-{uuid.uuid4().hex[:6]}"
    ids = {
        acme.post("/v1.1/meters", {"provisional_asset": asset(f"e2e-page-{group}-{n}", customer_group=group)}).json()[
            "meter_id"
        ]
        for n in range(5)
    }
    # When searching two at a time
    seen: list[str] = []
    body: dict[str, Any] = {"customer_groups": [group], "page_size": 2}
    for _ in range(5):
        page = acme.post("/v2/meters/search", body)
        assert page.status_code == 200, page.text
        seen.extend(meter["meter_id"] for meter in page.json()["meters"])
        token = page.json().get("next_page_token")
        if token is None:
            break
        body = {**body, "page_token": token}
    # Then every meter came back exactly once
    assert sorted(seen) == sorted(ids)


def test_enrollment_is_derived_from_the_catalog(acme: Client) -> None:
    # Given an Eversource battery without the account number
    created = acme.post(
        "/v1.1/meters", {"provisional_asset": asset("e2e-enroll-1", utility={"utility_name": "EVERSOURCE"})}
    ).json()
    # When its enrollment is read
    enrollment = acme.get(f"/v2/meters/{created['meter_id']}/enrollments").json()
    # Then CPS and Eversource ConnectedSolutions are pending on the missing fields, other utilities' CS absent
    programs = {p["program_identifier"]: p["enrollment_status"] for p in enrollment["program_enrollment"]}
    assert programs == {"MA_DOER-CPS": "PENDING", "EVERSOURCE-CS": "PENDING"}
    assert enrollment["global_enrollment_status"] == "PENDING"
    actions = enrollment["required_actions"]["partner"]
    assert {a["action_code"] for a in actions} == {"SERV_0005"}
    assert any("utility.electric_service_account_number" in a["action_description"] for a in actions)


def test_another_partners_meter_is_not_found(acme: Client, borealis: Client) -> None:
    # Given a meter of Acme
    meter_id = acme.post("/v1.1/meters", {"provisional_asset": asset("e2e-private-1")}).json()["meter_id"]
    # When Borealis reads or searches for it
    read = borealis.get(f"/v2/meters/{meter_id}")
    search = borealis.post("/v2/meters/search", {"meter_ids": [meter_id]})
    # Then it does not exist for Borealis
    assert read.status_code == 404
    assert read.json() == {"title": "Meter not found", "status": 404, "details": {"meter_id": meter_id}}
    assert search.json()["meters"] == []
    # And Borealis may use the same partner_reference for its own meter
    assert borealis.post("/v1.1/meters", {"provisional_asset": asset("e2e-private-1")}).json()["status"] == "COMPLETED"


def test_bad_input_names_every_failing_field(acme: Client) -> None:
    # When an asset has several problems
    response = acme.post(
        "/v1.1/meters",
        {"provisional_asset": asset("e2e-bad-1", transmission_region="MARS", customer={"postal_code": "2110"})},
    )
    # Then each one is reported in Leap's CreateMeterErrorResponse
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert {
        "provisional_asset.transmission_region",
        "provisional_asset.customer.postal_code",
        "provisional_asset.customer.street_1",
        "provisional_asset.customer.city",
    } <= fields


def test_malformed_meter_id_is_400(acme: Client) -> None:
    response = acme.get("/v2/meters/not-a-uuid")
    assert response.status_code == 400
    assert response.json() == {"title": "Meter id is not a UUID", "status": 400, "details": {"meter_id": "not-a-uuid"}}


def test_customer_authorized_utility_meter_is_refused_with_the_connect_route(acme: Client) -> None:
    response = acme.post(
        "/v1.1/meters",
        {
            "provisional_asset": asset(
                "e2e-ca-1",
                transmission_region="CAISO",
                meter_type="UTILITY_METER",
                customer={
                    "street_1": "1 Market St",
                    "postal_code": "94105",
                    "city": "San Francisco",
                    "state_or_province_code": "CA",
                },
            )
        },
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "provisional_asset.meter_type"
    assert re.search(r"/connect\?account=[a-z0-9-]+&transmissionRegion=CAISO&refId=e2e-ca-1", error["description"])
