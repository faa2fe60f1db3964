"""Batch jobs over real HTTP against the local runner: a JSON job and a CSV job go from PROCESSING to a final
status (the runner relays the SQS queue to the worker in-process), the meters they made are readable, and
another partner cannot see the job. References carry a uuid suffix: the runner is shared by the session."""

from __future__ import annotations

import time
import uuid
from typing import Any, Protocol

import pytest
import requests

pytestmark = pytest.mark.e2e

JOBS = "/v1.1/jobs/meters"
POLL_SECONDS = 20
FINAL = {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"}
CSV_HEADER = (
    "partner_reference,transmission_region,customer_classification,load_types.0,load_types.1,meter_type,"
    "customer.street_1,customer.postal_code,customer.city,customer.state_or_province_code,"
    "customer.end_customer_name,device.device_type,device.battery_power_capacity_kw"
)


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str

    def new_partner(self, name: str) -> tuple[str, str]: ...

    def auth(self, api_key: str) -> dict[str, str]: ...


class Client:
    def __init__(self, stack: LocalStack, api_key: str) -> None:
        self.url = stack.url
        self.headers = stack.auth(api_key)

    def post_json(self, path: str, body: Any, **params: str) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=body, params=params, headers=self.headers, timeout=30)

    def post_csv(self, path: str, text: str, **params: str) -> requests.Response:
        headers = {**self.headers, "Content-Type": "text/csv; charset=utf-8"}
        return requests.post(f"{self.url}{path}", data=text.encode("utf-8"), params=params, headers=headers, timeout=30)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=self.headers, timeout=30)

    def wait_for_job(self, job_id: str) -> tuple[list[str], Any]:
        """Poll the job until it leaves PROCESSING; returns the statuses seen and the final job."""
        seen: list[str] = []
        deadline = time.monotonic() + POLL_SECONDS
        while True:
            response = self.get(f"{JOBS}/{job_id}")
            assert response.status_code == 200, response.text
            job = response.json()
            if not seen or seen[-1] != job["status"]:
                seen.append(job["status"])
            if job["status"] in FINAL:
                return seen, job
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {POLL_SECONDS}s"
            time.sleep(0.2)


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


def csv_row(reference: str, postal_code: str = "02110") -> str:
    return (
        f'{reference},ISONE,RESIDENTIAL,BATTERY_STORAGE,HVAC,DEVICE,"1 Main St, Unit 2",{postal_code},Boston,MA,'
        "Zoë Café,BATTERY,5"
    )


@pytest.fixture(scope="module")
def acme(local_stack: LocalStack) -> Client:
    return Client(local_stack, local_stack.new_partner(f"E2E Jobs Acme {uuid.uuid4().hex[:6]}")[1])


@pytest.fixture(scope="module")
def borealis(local_stack: LocalStack) -> Client:
    return Client(local_stack, local_stack.new_partner(f"E2E Jobs Borealis {uuid.uuid4().hex[:6]}")[1])


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def assert_went_from_processing_to(seen: list[str], final: str) -> None:
    # The relay may finish before the first poll: PROCESSING is then not observed, but nothing else may precede
    assert seen in ([final], ["PROCESSING", final]), seen


def test_a_json_job_completes_and_its_meters_are_readable(acme: Client) -> None:
    # Given a JSON job of two new meters
    references = [f"e2e-job-json-{suffix()}-{n}" for n in range(2)]
    response = acme.post_json(JOBS, {"assets": [asset(r) for r in references]}, file_name="e2e.json")
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    # When the runner's worker processes it
    seen, job = acme.wait_for_job(job_id)
    # Then it went PROCESSING -> COMPLETED with both meters created
    assert_went_from_processing_to(seen, "COMPLETED")
    assert (job["assets_count"], job["assets_created_count"], job["assets_failed_count"]) == (2, 2, 0)
    assert job["file_name"] == "e2e.json"
    assert [(a["partner_reference"], a["status_detail"]["name"]) for a in job["assets"]] == [
        (r, "METER_CREATED") for r in references
    ]
    # And each meter is readable through the meters API
    for reference, created in zip(references, job["assets"], strict=True):
        meter = acme.get(f"/v2/meters/{created['meter_id']}")
        assert meter.status_code == 200, meter.text
        assert meter.json()["partner_reference"] == reference
        assert meter.json()["device"]["battery_energy_capacity_kwh"] == 13.5


def test_a_csv_job_completes_and_its_meters_are_readable(acme: Client) -> None:
    # Given a CSV job (BOM, CRLF, quoted comma, UTF-8 name)
    references = [f"e2e-job-csv-{suffix()}-{n}" for n in range(2)]
    text = "\ufeff" + "\r\n".join([CSV_HEADER, *(csv_row(r) for r in references)]) + "\r\n"
    response = acme.post_csv(JOBS, text)
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    # When it is processed
    seen, job = acme.wait_for_job(job_id)
    # Then it COMPLETED, and the meters hold the CSV's values, typed
    assert_went_from_processing_to(seen, "COMPLETED")
    assert (job["assets_count"], job["assets_created_count"]) == (2, 2)
    meter = acme.get(f"/v2/meters/{job['assets'][0]['meter_id']}").json()
    assert meter["partner_reference"] == references[0]
    assert meter["customer"]["street_1"] == "1 Main St, Unit 2"
    assert meter["customer"]["end_customer_name"] == "Zoë Café"
    assert meter["load_types"] == ["BATTERY_STORAGE", "HVAC"]
    assert meter["device"]["battery_power_capacity_kw"] == 5


def test_a_csv_job_with_one_bad_row_completes_with_errors(acme: Client) -> None:
    # Given a CSV whose middle row has a bad ZIP code
    tag = suffix()
    rows = [
        csv_row(f"e2e-job-bad-{tag}-0"),
        csv_row(f"e2e-job-bad-{tag}-1", postal_code="2110"),
        csv_row(f"e2e-job-bad-{tag}-2"),
    ]
    response = acme.post_csv(JOBS, "\r\n".join([CSV_HEADER, *rows]) + "\r\n")
    assert response.status_code == 201, response.text
    # When processed
    seen, job = acme.wait_for_job(response.json()["job_id"])
    # Then the job is COMPLETED_WITH_ERRORS and the bad row FAILED on the field
    assert_went_from_processing_to(seen, "COMPLETED_WITH_ERRORS")
    assert (job["assets_count"], job["assets_created_count"], job["assets_failed_count"]) == (3, 2, 1)
    assert [a["status"] for a in job["assets"]] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert list(job["assets"][1]["status_detail"]["failed_fields"]) == ["customer.postal_code"]


def test_another_partner_gets_404_for_the_job(acme: Client, borealis: Client) -> None:
    # Given Acme's job
    response = acme.post_json(JOBS, {"assets": [asset(f"e2e-job-private-{suffix()}")]})
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    # When Borealis reads it or lists jobs
    read = borealis.get(f"{JOBS}/{job_id}")
    listed = borealis.get(JOBS)
    # Then the job does not exist for Borealis
    assert read.status_code == 404
    assert read.json() == {"title": "Job not found", "status": 404, "details": {"job_id": job_id}}
    assert job_id not in {j["job_id"] for j in listed.json()["jobs"]}
    # And Acme still reads it
    assert acme.get(f"{JOBS}/{job_id}").status_code == 200
