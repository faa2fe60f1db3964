"""functions/meter_jobs_api/app.py on moto: submit (JSON, CSV), whole-request errors, job reads before and after
the worker, listings with the filter idiom, provisional assets (JSON and CSV), filter discovery, and tenant
isolation on every endpoint. The worker is run from the real queue message (tests/conftest.py `job_worker`)."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import pytest

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

MakeAsset = Callable[..., dict[str, Any]]
JOBS = "/v1.1/jobs/meters"
ASSETS = "/v1.1/provisional-assets"
JOB_FILTERS = "/v1.1/jobs/meter-job-filters"
ASSET_FILTERS = "/v1.1/provisional-assets-filters"
CSV_HEADER = (
    "partner_reference,transmission_region,customer_classification,load_types.0,load_types.1,meter_type,"
    "customer.street_1,customer.postal_code,customer.city,customer.state_or_province_code,"
    "customer.end_customer_name,device.device_type"
)


class Result(Protocol):
    """tests/conftest.py HttpResult."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any: ...


InvokeJobs = Callable[..., Result]


class JobWorker(Protocol):
    """tests/conftest.py JobWorker."""

    def receive(self) -> list[dict[str, Any]]: ...

    def run_queue(self, max_rounds: int = 20) -> int: ...


def csv_row(reference: str, *, postal_code: str = "02110", name: str = "Zoë Café") -> str:
    return (
        f'{reference},ISONE,RESIDENTIAL,BATTERY_STORAGE,HVAC,DEVICE,"1 Main St, Unit 2",{postal_code},Boston,MA,'
        f"{name},BATTERY"
    )


def csv_text(*rows: str) -> str:
    return "\r\n".join((CSV_HEADER, *rows)) + "\r\n"


def submit(invoke_jobs: InvokeJobs, assets: list[dict[str, Any]], **query: str) -> str:
    response = invoke_jobs("POST", JOBS, {"assets": assets}, query=query or None)
    assert response.status == 201, response.text
    return str(response.json["job_id"])


def submit_csv(invoke_jobs: InvokeJobs, text: str, **query: str) -> str:
    response = invoke_jobs("POST", JOBS, raw_body=text, content_type="text/csv", query=query or None)
    assert response.status == 201, response.text
    return str(response.json["job_id"])


def get_job(invoke_jobs: InvokeJobs, job_id: str, partner_id: str | None = None) -> Any:
    response = invoke_jobs("GET", f"{JOBS}/{job_id}", partner_id=partner_id)
    assert response.status == 200, response.text
    return response.json


def payload_lines(partner_id: str, job_id: str) -> list[dict[str, Any]]:
    s3 = boto3.client("s3", region_name="us-east-1")
    key = f"partners/{partner_id}/meter-jobs/{job_id}/assets.jsonl"
    body = s3.get_object(Bucket=os.environ["DATA_BUCKET_NAME"], Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def statuses(job: Any) -> list[tuple[str, str, str | None]]:
    return [(a["partner_reference"], a["status"], a["status_detail"].get("name")) for a in job["assets"]]


# ----- submit ----------------------------------------------------------------------------------------------


def test_post_json_answers_201_stores_the_payload_and_queues_the_job(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, partner: IssuedKey, make_asset: MakeAsset
) -> None:
    # When a JSON job is posted
    response = invoke_jobs(
        "POST", JOBS, {"assets": [make_asset("j-1"), make_asset("j-2")]}, query={"file_name": "crm-export.json"}
    )
    # Then it answers 201 {job_id} only
    assert response.status == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert list(response.json) == ["job_id"]
    job_id = response.json["job_id"]
    assert str(uuid.UUID(job_id)) == job_id
    # And the payload is in S3 under the partner's prefix
    lines = payload_lines(partner.partner_id, job_id)
    assert [(line["index"], line["json_index"], line["asset"]["partner_reference"]) for line in lines] == [
        (0, 0, "j-1"),
        (1, 1, "j-2"),
    ]
    # And one message for the job is on the queue
    (message,) = job_worker.receive()
    assert json.loads(message["Body"]) == {"partner_id": partner.partner_id, "job_id": job_id}
    # And the job is readable, PROCESSING, with the given file name
    job = get_job(invoke_jobs, job_id)
    assert (job["status"], job["file_name"], job["assets_count"]) == ("PROCESSING", "crm-export.json", 2)


def test_post_csv_answers_201_and_stores_normalised_assets(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, partner: IssuedKey
) -> None:
    # When a CSV (BOM, quoted comma, UTF-8, blank line) is posted
    response = invoke_jobs(
        "POST",
        JOBS,
        raw_body="\ufeff" + csv_text(csv_row("c-1"), "", csv_row("c-2")),
        content_type="text/csv; charset=utf-8",
    )
    # Then it is accepted, and the rows are stored as assets with their CSV line numbers
    assert response.status == 201, response.text
    job_id = response.json["job_id"]
    lines = payload_lines(partner.partner_id, job_id)
    assert [(line["csv_row"], line["asset"]["partner_reference"]) for line in lines] == [(2, "c-1"), (4, "c-2")]
    assert lines[0]["asset"]["customer"]["street_1"] == "1 Main St, Unit 2"
    assert lines[0]["asset"]["customer"]["end_customer_name"] == "Zoë Café"
    assert lines[0]["asset"]["load_types"] == ["BATTERY_STORAGE", "HVAC"]
    assert len(job_worker.receive()) == 1
    assert get_job(invoke_jobs, job_id)["file_name"] == f"{job_id}.csv"


@pytest.mark.parametrize("content_type", ["application/xml", None])
def test_wrong_content_type_is_415_in_the_envelope(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, content_type: str | None
) -> None:
    response = invoke_jobs("POST", JOBS, raw_body=csv_text(csv_row("x-1")), content_type=content_type)
    assert response.status == 415, response.text
    body = response.json
    assert (body["title"], body["status"]) == ("Unsupported content type", 415)
    assert "text/csv" in body["details"][0]["message"]
    assert job_worker.receive() == []


@pytest.mark.parametrize(
    ("raw", "title", "details"),
    [
        pytest.param("{oops", "Request body is not valid JSON", None, id="not-json"),
        pytest.param('{"asset": []}', "Missing assets", [{"problem_field": "assets"}], id="no-assets"),
        pytest.param(
            '{"assets": [{}, 1, "x", {}]}', "Invalid assets", [{"json_index": 1}, {"json_index": 2}], id="non-objects"
        ),
    ],
)
def test_bad_json_is_400_with_details_entries(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, raw: str, title: str, details: list[dict[str, Any]] | None
) -> None:
    # When the JSON body is unusable as a whole
    response = invoke_jobs("POST", JOBS, raw_body=raw)
    # Then it is a 400 in Leap's envelope with a ValidationError per problem
    assert response.status == 400, response.text
    body = response.json
    assert (body["title"], body["status"]) == (title, 400)
    assert all(isinstance(entry["message"], str) and entry["message"] for entry in body["details"])
    if details is None:
        assert len(body["details"]) == 1 and set(body["details"][0]) == {"message"}
    else:
        assert [{k: v for k, v in entry.items() if k != "message"} for entry in body["details"]] == details
    # And nothing was queued
    assert job_worker.receive() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "partner_reference,customer.citty,colour\r\nx-1,Boston,red\r\n",
            [{"csv_row": 1, "problem_field": "customer.citty"}, {"csv_row": 1, "problem_field": "colour"}],
            id="unknown-columns",
        ),
        pytest.param(csv_text(csv_row("x-1"), "x-2,ISONE", csv_row("x-3")), [{"csv_row": 3}], id="ragged-row"),
    ],
)
def test_bad_csv_is_400_naming_row_and_column(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, text: str, expected: list[dict[str, Any]]
) -> None:
    response = invoke_jobs("POST", JOBS, raw_body=text, content_type="text/csv")
    assert response.status == 400, response.text
    assert response.json["status"] == 400
    assert [{k: v for k, v in entry.items() if k != "message"} for entry in response.json["details"]] == expected
    assert job_worker.receive() == []


@pytest.mark.parametrize("file_name", ["../escape.csv"])
def test_bad_file_name_is_400(invoke_jobs: InvokeJobs, make_asset: MakeAsset, file_name: str) -> None:
    response = invoke_jobs("POST", JOBS, {"assets": [make_asset("f-1")]}, query={"file_name": file_name})
    assert response.status == 400, response.text
    assert response.json["title"] == "Invalid file_name"
    assert response.json["details"][0]["problem_field"] == "file_name"


def test_a_body_over_the_size_limit_is_413(invoke_jobs: InvokeJobs, job_worker: JobWorker) -> None:
    from meterhub.meter_jobs.use_cases.payload import MAX_BODY_BYTES

    text = csv_text(*(csv_row(f"big-{n:06d}") for n in range(MAX_BODY_BYTES // 100)))
    assert len(text.encode()) > MAX_BODY_BYTES
    response = invoke_jobs("POST", JOBS, raw_body=text, content_type="text/csv")
    assert response.status == 413, response.text[:500]
    assert (response.json["title"], response.json["status"]) == ("Request body too large", 413)
    assert job_worker.receive() == []


@pytest.mark.parametrize("value", ["maybe"])
def test_a_non_boolean_update_existing_is_400(invoke_jobs: InvokeJobs, make_asset: MakeAsset, value: str) -> None:
    response = invoke_jobs("POST", JOBS, {"assets": [make_asset("u-1")]}, query={"update_existing": value})
    assert response.status == 400, response.text
    assert "update_existing" in json.dumps(response.json["details"])


# ----- reading a job before and after the worker -----------------------------------------------------------


def test_a_job_is_processing_until_the_worker_runs_then_completed(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset
) -> None:
    # Given a 3-asset job
    job_id = submit(invoke_jobs, [make_asset(f"ok-{n}", region=r) for n, r in enumerate(["ISONE", "ISONE", "NYISO"])])
    # When read before the worker ran
    before = get_job(invoke_jobs, job_id)
    # Then it is PROCESSING with its count and no outcomes yet
    assert before["status"] == "PROCESSING"
    assert (before["assets_count"], before["assets_created_count"], before["assets_failed_count"]) == (3, 0, 0)
    assert before["assets_updated_count"] == 0
    assert before["assets"] == []
    assert before["transmission_regions"] == ["ISONE", "NYISO"]
    # When the worker runs from the queued message
    assert job_worker.run_queue() == 1
    # Then the job is COMPLETED with exact counters and every asset created
    after = get_job(invoke_jobs, job_id)
    assert after["status"] == "COMPLETED"
    assert (after["assets_count"], after["assets_created_count"], after["assets_updated_count"]) == (3, 3, 0)
    assert after["assets_failed_count"] == 0
    assert statuses(after) == [(f"ok-{n}", "COMPLETED", "METER_CREATED") for n in range(3)]
    assert all(str(uuid.UUID(a["meter_id"])) == a["meter_id"] for a in after["assets"])
    assert "failure_reason" not in after
    assert after["updated_at"] >= before["updated_at"]


def test_a_mixed_job_reports_every_asset_status(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset
) -> None:
    # Given an existing meter "m-dup"
    first = submit(invoke_jobs, [make_asset("m-dup")])
    job_worker.run_queue()
    dup_meter_id = get_job(invoke_jobs, first)["assets"][0]["meter_id"]
    # When a job holds a new asset, an invalid one, a duplicate, a customer-authorized one and a repeated reference
    job_id = submit(
        invoke_jobs,
        [
            make_asset("m-new"),
            make_asset("m-bad", customer={"postal_code": "ABC"}),
            make_asset("m-dup"),
            make_asset("m-caiso", region="CAISO", meter_type="UTILITY_METER"),
            make_asset("m-twice"),
            make_asset("m-twice"),
        ],
    )
    job_worker.run_queue()
    # Then the job is COMPLETED_WITH_ERRORS with exact counters
    job = get_job(invoke_jobs, job_id)
    assert job["status"] == "COMPLETED_WITH_ERRORS"
    assert (job["assets_count"], job["assets_created_count"], job["assets_updated_count"]) == (6, 1, 0)
    assert job["assets_failed_count"] == 5
    # And each asset has its status and detail
    assert statuses(job) == [
        ("m-new", "COMPLETED", "METER_CREATED"),
        ("m-bad", "FAILED", "VALIDATION_ERROR"),
        ("m-dup", "DUPLICATE", "DUPLICATE_REF_ID"),
        ("m-caiso", "FAILED", "VALIDATION_ERROR"),
        ("m-twice", "MULTIPLE_PARTNER_REFERENCE", None),
        ("m-twice", "MULTIPLE_PARTNER_REFERENCE", None),
    ]
    new, bad, dup, caiso, *_ = job["assets"]
    assert str(uuid.UUID(new["meter_id"])) == new["meter_id"]
    assert list(bad["status_detail"]["failed_fields"]) == ["customer.postal_code"]
    assert dup_meter_id in dup["status_detail"]["description"]
    assert "meter_id" not in dup and "meter_id" not in bad
    assert "Connect" in caiso["status_detail"]["failed_fields"]["meter_type"]


def test_a_job_of_only_bad_rows_fails(invoke_jobs: InvokeJobs, job_worker: JobWorker) -> None:
    job_id = submit_csv(invoke_jobs, csv_text(csv_row("b-1", postal_code="1"), csv_row("b-2", name="Who?")))
    job_worker.run_queue()
    job = get_job(invoke_jobs, job_id)
    assert job["status"] == "FAILED"
    assert (job["assets_created_count"], job["assets_failed_count"]) == (0, 2)
    assert [list(a["status_detail"]["failed_fields"]) for a in job["assets"]] == [
        ["customer.postal_code"],
        ["customer.end_customer_name"],
    ]


def test_a_csv_job_with_one_bad_row_completes_with_errors(invoke_jobs: InvokeJobs, job_worker: JobWorker) -> None:
    job_id = submit_csv(invoke_jobs, csv_text(csv_row("r-1"), csv_row("r-2", postal_code="021"), csv_row("r-3")))
    job_worker.run_queue()
    job = get_job(invoke_jobs, job_id)
    assert job["status"] == "COMPLETED_WITH_ERRORS"
    assert (job["assets_count"], job["assets_created_count"], job["assets_failed_count"]) == (3, 2, 1)
    assert [a["status"] for a in job["assets"]] == ["COMPLETED", "FAILED", "COMPLETED"]


def test_update_existing_over_http_counts_updates(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset
) -> None:
    # Given a created meter
    first = submit(invoke_jobs, [make_asset("upd-1")])
    job_worker.run_queue()
    meter_id = get_job(invoke_jobs, first)["assets"][0]["meter_id"]
    # When a CSV job with update_existing=true names it again
    job_id = submit_csv(invoke_jobs, csv_text(csv_row("upd-1"), csv_row("upd-2")), update_existing="true")
    job_worker.run_queue()
    # Then it is METER_UPDATED on the same meter and counted as updated
    job = get_job(invoke_jobs, job_id)
    assert job["status"] == "COMPLETED"
    assert (job["assets_created_count"], job["assets_updated_count"], job["assets_failed_count"]) == (1, 1, 0)
    assert statuses(job)[0] == ("upd-1", "COMPLETED", "METER_UPDATED")
    assert job["assets"][0]["meter_id"] == meter_id


@pytest.mark.parametrize("job_id", ["5961a37f-6325-431c-97cb-82f35e3c09cfX"])
def test_a_malformed_job_id_is_400(invoke_jobs: InvokeJobs, job_id: str) -> None:
    response = invoke_jobs("GET", f"{JOBS}/{job_id}")
    assert response.status == 400, response.text
    assert response.json == {"title": "Job id is not a UUID", "status": 400, "details": {"job_id": job_id}}


def test_an_unknown_job_is_404(invoke_jobs: InvokeJobs) -> None:
    job_id = str(uuid.uuid4())
    response = invoke_jobs("GET", f"{JOBS}/{job_id}")
    assert response.status == 404
    assert response.json == {"title": "Job not found", "status": 404, "details": {"job_id": job_id}}


# ----- listings --------------------------------------------------------------------------------------------


@pytest.fixture
def three_jobs(invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset) -> dict[str, str]:
    """A COMPLETED ISONE job, a FAILED NYISO job and a COMPLETED_WITH_ERRORS CAISO+ISONE job (by name)."""
    names = {
        "good": submit(
            invoke_jobs, [make_asset("l-good-1", device={"device_serial_number": "SN-777"})], file_name="good.json"
        ),
        "bad": submit(
            invoke_jobs, [make_asset("l-bad-1", region="NYISO", customer={"postal_code": "x"})], file_name="bad.json"
        ),
        "mixed": submit_csv(
            invoke_jobs,
            "partner_reference,transmission_region,customer_classification,load_types.0,meter_type,"
            "customer.street_1,customer.postal_code,customer.city,customer.state_or_province_code\r\n"
            "l-mix-1,ISONE,RESIDENTIAL,HVAC,DEVICE,1 Main,02110,Boston,MA\r\n"
            "l-mix-2,CAISO,RESIDENTIAL,HVAC,UTILITY_METER,1 Main,94105,Oakland,CA\r\n",
            file_name="mixed.csv",
        ),
    }
    job_worker.run_queue()
    return names


JOB_FILTER_CASES: list[tuple[list[str], list[str]]] = [
    ([], ["mixed", "bad", "good"]),
    (["status:COMPLETED"], ["good"]),
    (["status:COMPLETED,FAILED"], ["bad", "good"]),
    (["status:COMPLETED,COMPLETED_WITH_ERRORS", "transmission_region:CAISO"], ["mixed"]),
    (["file_name:bad.json"], ["bad"]),
    (["transmission_region:ISONE"], ["mixed", "good"]),
    (["transmission_region:ISONE", "status:FAILED"], []),
]


def test_list_jobs_with_repeated_filter_params(invoke_jobs: InvokeJobs, three_jobs: dict[str, str]) -> None:
    # One moto setup for the whole table (setting up three processed jobs is the slow part)
    for filters, expected in JOB_FILTER_CASES:
        response = invoke_jobs("GET", JOBS, query={"filter": filters} if filters else None)
        assert response.status == 200, (filters, response.text)
        assert [j["job_id"] for j in response.json["jobs"]] == [three_jobs[name] for name in expected], filters
        assert "next_page_token" not in response.json


def test_list_jobs_search_and_paging(invoke_jobs: InvokeJobs, three_jobs: dict[str, str]) -> None:
    # Search by an asset's reference
    found = invoke_jobs("GET", JOBS, query={"search_query": "l-mix", "search_fields": ["partner_reference"]}).json
    assert [j["job_id"] for j in found["jobs"]] == [three_jobs["mixed"]]
    # Page one at a time: every job once
    seen: list[str] = []
    query: dict[str, str | list[str]] = {"page_size": "1"}
    for _ in range(5):
        page = invoke_jobs("GET", JOBS, query=query).json
        seen += [j["job_id"] for j in page["jobs"]]
        if "next_page_token" not in page:
            break
        query = {"page_size": "1", "page_token": page["next_page_token"]}
    assert seen == [three_jobs[n] for n in ("mixed", "bad", "good")]
    # A page token reused with other filters is refused
    first = invoke_jobs("GET", JOBS, query={"page_size": "1"}).json
    reused = {"page_size": "1", "page_token": first["next_page_token"], "filter": ["status:FAILED"]}
    response = invoke_jobs("GET", JOBS, query=reused)
    assert response.status == 400, response.text
    assert response.json["title"] == "page_token belongs to a search with different filters"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"filter": ["colour:red"]}, id="unknown-filter"),
        pytest.param({"search_query": "x"}, id="search-without-fields"),
    ],
)
def test_list_jobs_bad_query_is_400_envelope(invoke_jobs: InvokeJobs, query: dict[str, Any]) -> None:
    response = invoke_jobs("GET", JOBS, query=query)
    assert response.status == 400, response.text
    assert response.json["status"] == 400 and response.json["title"]


def test_provisional_assets_as_json(invoke_jobs: InvokeJobs, three_jobs: dict[str, str]) -> None:
    response = invoke_jobs("GET", ASSETS, query={"filter": ["status:FAILED", f"job_id:{three_jobs['mixed']}"]})
    assert response.status == 200, response.text
    (asset,) = response.json["provisional_assets"]
    assert (asset["partner_reference"], asset["job_id"]) == ("l-mix-2", three_jobs["mixed"])
    assert asset["data"]["transmission_region"] == "CAISO"
    assert asset["status_detail"]["name"] == "VALIDATION_ERROR"
    searched = invoke_jobs(
        "GET", ASSETS, query={"search_query": "sn-777", "search_fields": ["device_serial_number"]}
    ).json
    assert [a["partner_reference"] for a in searched["provisional_assets"]] == ["l-good-1"]


@pytest.mark.parametrize("accept", ["text/csv; charset=utf-8"])
def test_provisional_assets_as_csv(invoke_jobs: InvokeJobs, three_jobs: dict[str, str], accept: str) -> None:
    # When provisional assets are asked for as CSV
    response = invoke_jobs("GET", ASSETS, accept=accept, query={"filter": [f"job_id:{three_jobs['mixed']}"]})
    # Then the export is CSV with dot-path headers and failed_fields as indexed pairs
    assert response.status == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [r["partner_reference"] for r in rows] == ["l-mix-2", "l-mix-1"]
    header = response.text.split("\r\n")[0].split(",")
    assert header[:5] == ["job_id", "partner_reference", "status", "status_detail.name", "status_detail.description"]
    assert {"data.customer.street_1", "data.load_types.0", "created_at", "meter_id"} <= set(header)
    assert rows[0]["status_detail.failed_fields.0.key"] == "meter_type"
    assert "Connect" in rows[0]["status_detail.failed_fields.0.value"]
    assert rows[1]["meter_id"] and rows[1]["status_detail.failed_fields.0.key"] == ""


@pytest.mark.parametrize(
    ("query", "problem_field"),
    [
        pytest.param({"filter": ["colour:red"]}, "filter", id="unknown-key"),
        pytest.param({"search_query": "x"}, "search_fields", id="search-without-fields"),
    ],
)
def test_invalid_provisional_asset_query_is_a_bare_validation_error(
    invoke_jobs: InvokeJobs, query: dict[str, Any], problem_field: str
) -> None:
    response = invoke_jobs("GET", ASSETS, query=query)
    assert response.status == 400, response.text
    body = response.json
    assert set(body) == {"message", "problem_field"}
    assert body["problem_field"] == problem_field and body["message"]


def test_provisional_assets_in_xml_is_415(invoke_jobs: InvokeJobs) -> None:
    response = invoke_jobs("GET", ASSETS, accept="application/xml")
    assert response.status == 415, response.text
    assert (response.json["title"], response.json["status"]) == ("Unsupported Accept", 415)


def test_filter_endpoints(invoke_jobs: InvokeJobs, three_jobs: dict[str, str]) -> None:
    jobs = {f["key"]: f["values"] for f in invoke_jobs("GET", JOB_FILTERS).json["filter_options"]}
    assets = {f["key"]: f["values"] for f in invoke_jobs("GET", ASSET_FILTERS).json["filter_options"]}
    assert jobs == {
        "status": ["PROCESSING", "FAILED", "COMPLETED", "COMPLETED_WITH_ERRORS"],
        "transmission_region": ["CAISO", "ISONE", "NYISO"],
    }
    assert assets == {
        "status": ["PROCESSING", "FAILED", "DUPLICATE", "COMPLETED", "MULTIPLE_PARTNER_REFERENCE"],
        "transmission_region": ["CAISO", "ISONE", "NYISO"],
    }


# ----- tenant isolation ------------------------------------------------------------------------------------


def test_another_partner_sees_none_of_it_on_any_endpoint(
    invoke_jobs: InvokeJobs, three_jobs: dict[str, str], other_partner: IssuedKey
) -> None:
    other = other_partner.partner_id
    # The job itself
    for job_id in three_jobs.values():
        response = invoke_jobs("GET", f"{JOBS}/{job_id}", partner_id=other)
        assert response.status == 404, response.text
        assert response.json == {"title": "Job not found", "status": 404, "details": {"job_id": job_id}}
    # The job list, even when filtering or searching for Acme's jobs
    assert invoke_jobs("GET", JOBS, partner_id=other).json == {"jobs": []}
    by_name = invoke_jobs("GET", JOBS, partner_id=other, query={"filter": ["file_name:good.json"]}).json
    assert by_name["jobs"] == []
    by_reference = {"search_query": "l-", "search_fields": ["partner_reference"]}
    assert invoke_jobs("GET", JOBS, partner_id=other, query=by_reference).json["jobs"] == []
    # The provisional assets, as JSON and as CSV, even by Acme's job id
    mixed = {"filter": [f"job_id:{three_jobs['mixed']}"]}
    assert invoke_jobs("GET", ASSETS, partner_id=other).json == {"provisional_assets": []}
    assert invoke_jobs("GET", ASSETS, partner_id=other, query=mixed).json == {"provisional_assets": []}
    exported = invoke_jobs("GET", ASSETS, partner_id=other, accept="text/csv")
    assert exported.status == 200 and list(csv.DictReader(io.StringIO(exported.text))) == []
    # The filter options (no region of Acme's)
    for path in (JOB_FILTERS, ASSET_FILTERS):
        options = {f["key"]: f["values"] for f in invoke_jobs("GET", path, partner_id=other).json["filter_options"]}
        assert options["transmission_region"] == []
    # And Acme still sees its own
    assert len(invoke_jobs("GET", JOBS).json["jobs"]) == 3


def test_another_partners_job_does_not_touch_acmes_meters(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset, other_partner: IssuedKey
) -> None:
    # Given Acme's meter "iso-1"
    acme_job = submit(invoke_jobs, [make_asset("iso-1")])
    job_worker.run_queue()
    # When Borealis submits the same reference with update_existing
    response = invoke_jobs(
        "POST",
        JOBS,
        {"assets": [make_asset("iso-1", customer_group="borealis")]},
        query={"update_existing": "true"},
        partner_id=other_partner.partner_id,
    )
    job_worker.run_queue()
    # Then Borealis got its own new meter, and Acme's is unchanged
    borealis_job = get_job(invoke_jobs, response.json["job_id"], partner_id=other_partner.partner_id)
    assert statuses(borealis_job) == [("iso-1", "COMPLETED", "METER_CREATED")]
    acme_meter = get_job(invoke_jobs, acme_job)["assets"][0]["meter_id"]
    assert borealis_job["assets"][0]["meter_id"] != acme_meter


def test_deeply_nested_json_is_400_not_500(invoke_jobs: InvokeJobs, job_worker: JobWorker) -> None:
    response = invoke_jobs("POST", JOBS, raw_body='{"assets": [' + "[" * 5000 + "]" * 5000 + "]}")
    assert response.status == 400, response.text
    assert response.json["title"] == "Request body is not valid JSON"


FORMULA = '=HYPERLINK("http://x","y")'
DDE = "+cmd|' /C calc'!A0"


def test_provisional_assets_csv_neutralises_formulas_the_json_keeps_them(
    invoke_jobs: InvokeJobs, job_worker: JobWorker, make_asset: MakeAsset
) -> None:
    # Given an asset whose partner_reference and city are a formula (refused, so a FAILED provisional asset that
    # still carries what was sent, with a negative capacity and a DDE payload beside them), and a created
    # meter whose city is a formula the address rules allow
    device = {"device_type": "BATTERY", "device_model": DDE, "battery_power_capacity_kw": -1.5}
    job_id = submit(
        invoke_jobs,
        [
            make_asset(FORMULA, customer={"city": FORMULA}, device=device),
            make_asset("csv-ok-1", customer={"city": "@SUM(1+1)"}),
        ],
        file_name="formulas.json",
    )
    job_worker.run_queue()
    query = {"filter": [f"job_id:{job_id}"]}

    # When they are listed as JSON and exported as CSV
    listed = invoke_jobs("GET", ASSETS, query=query)
    exported = invoke_jobs("GET", ASSETS, accept="text/csv", query=query)

    # Then the JSON keeps the exact values
    assert listed.status == 200, listed.text
    by_reference = {a["partner_reference"]: a for a in listed.json["provisional_assets"]}
    assert set(by_reference) == {FORMULA, "csv-ok-1"}
    assert by_reference[FORMULA]["data"]["customer"]["city"] == FORMULA
    assert by_reference[FORMULA]["data"]["device"]["device_model"] == DDE
    assert by_reference["csv-ok-1"]["data"]["customer"]["city"] == "@SUM(1+1)"

    # And the CSV shows every formula as text (a leading '), and the negative number as a number
    assert exported.status == 200, exported.text
    rows = {r["status"]: r for r in csv.DictReader(io.StringIO(exported.text, newline=""))}
    refused, created = rows["FAILED"], rows["COMPLETED"]
    assert (refused["partner_reference"], refused["data.customer.city"]) == ("'" + FORMULA, "'" + FORMULA)
    assert refused["data.device.device_model"] == "'" + DDE
    assert refused["data.device.battery_power_capacity_kw"] == "-1.5"
    assert refused["data.partner_reference"] == "'" + FORMULA
    assert (created["partner_reference"], created["data.customer.city"]) == ("csv-ok-1", "'@SUM(1+1)")

    # And the export cannot be sent back as a batch, so no added ' is ever stored: its columns are refused
    again = invoke_jobs("POST", JOBS, raw_body=exported.text, content_type="text/csv")
    assert again.status == 400, again.text
    assert {"job_id", "status", "data.customer.city"} <= {d["problem_field"] for d in again.json["details"]}


# ----- parameter shapes declared on the routes (openapi.json carries them) -----------------------------------


@pytest.mark.parametrize(
    ("page_size", "refusal"), [("1", None), ("1000", None), ("0", "at least 1"), ("1001", "at most 1000")]
)
def test_list_jobs_page_size_is_bounded_by_the_route(
    invoke_jobs: InvokeJobs, page_size: str, refusal: str | None
) -> None:
    response = invoke_jobs("GET", JOBS, query={"page_size": page_size})
    if refusal is None:
        assert response.status == 200, response.text
    else:
        assert response.status == 400, response.text
        assert response.json == {
            "title": "Invalid request",
            "status": 400,
            "details": {"page_size": f"must be {refusal}"},
        }


TOO_LONG_TOKEN = "A" * 2049
LONGEST_TOKEN = "A" * 2048


def test_job_page_tokens_are_bounded_by_the_route(invoke_jobs: InvokeJobs) -> None:
    unknown = f"{JOBS}/{uuid.uuid4()}"
    # The longest token reaches the use case (which does not know it, or the job) ...
    listed = invoke_jobs("GET", JOBS, query={"page_token": LONGEST_TOKEN})
    assert (listed.status, listed.json["title"]) == (400, "page_token is not a token this API issued"), listed.text
    assert invoke_jobs("GET", unknown, query={"page_token": LONGEST_TOKEN}).status == 404
    # ... one character more is refused by the route, naming page_token
    for resource in (JOBS, unknown):
        response = invoke_jobs("GET", resource, query={"page_token": TOO_LONG_TOKEN})
        assert response.status == 400, response.text
        assert response.json == {
            "title": "Invalid request",
            "status": 400,
            "details": {"page_token": "must be at most 2048 characters"},
        }


@pytest.mark.parametrize(
    ("query", "problem_field"),
    [({"page_size": "1001"}, "page_size"), ({"page_size": "0"}, "page_size"), ({"page_token": TOO_LONG_TOKEN}, None)],
)
def test_provisional_asset_paging_bounds_are_documented_and_keep_the_bare_validation_error(
    invoke_jobs: InvokeJobs, query: dict[str, str], problem_field: str | None
) -> None:
    # The largest page is served
    assert invoke_jobs("GET", ASSETS, query={"page_size": "1000"}).status == 200
    # Past the documented bounds, the answer is still Leap's bare ValidationError, not the request envelope
    response = invoke_jobs("GET", ASSETS, query=query)
    assert response.status == 400, response.text
    assert "title" not in response.json and response.json["message"]
    assert response.json.get("problem_field") == problem_field
    # And an unsupported Accept is still the 415 it was, whatever the paging
    assert invoke_jobs("GET", ASSETS, accept="application/xml", query=query).status == 415


def test_the_job_id_format_is_documented_not_enforced_by_the_route(
    invoke_jobs: InvokeJobs, make_asset: MakeAsset
) -> None:
    job_id = submit(invoke_jobs, [make_asset("u-1")])
    assert get_job(invoke_jobs, job_id.upper())["job_id"] == job_id


@pytest.mark.parametrize(("length", "status"), [(255, 201), (256, 400)])
def test_file_name_length_is_the_documented_max_length(
    invoke_jobs: InvokeJobs, make_asset: MakeAsset, length: int, status: int
) -> None:
    file_name = "a" * (length - len(".csv")) + ".csv"
    response = invoke_jobs("POST", JOBS, {"assets": [make_asset("n-1")]}, query={"file_name": file_name})
    assert response.status == status, response.text
    if status == 400:
        assert response.json["title"] == "Invalid file_name"
        assert response.json["details"][0]["problem_field"] == "file_name"
