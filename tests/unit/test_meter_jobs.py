"""meterhub.meter_jobs.use_cases.jobs on the InMemory fakes: submit, read, the list idiom (filters, search, paging),
filter discovery and the provisional-asset CSV export."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from meterhub.catalog.enums import ProvisionalAssetStatus, StatusDetailName
from meterhub.meter_jobs.api_models import ListedProvisionalAsset, ListProvisionalAssetsResponse
from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob, PayloadFormat
from meterhub.meter_jobs.use_cases import jobs as meter_jobs
from meterhub.meter_jobs.use_cases.jobs import (
    ASSET_FILTERS,
    ASSET_SEARCH,
    DEFAULT_PAGE_SIZE,
    JOB_FILTERS,
    JOB_SEARCH,
    ListQuery,
    get_job,
    job_filters,
    list_jobs,
    list_provisional_assets,
    parse_list_query,
    provisional_asset_filters,
    provisional_assets_csv,
    submit_job,
)
from meterhub.meters.api_models.responses import StatusDetail
from meterhub.platform.errors import InvalidInput, NotFound, StorageUnavailable, UnsupportedMediaType

from tests.fakes.meter_jobs import InMemoryJobRepository
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.queues import InMemoryWorkQueue

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
ACME = "partner-acme"
BOREALIS = "partner-borealis"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def jobs() -> InMemoryJobRepository:
    return InMemoryJobRepository()


@pytest.fixture
def objects() -> InMemoryObjectStore:
    return InMemoryObjectStore()


@pytest.fixture
def queue() -> InMemoryWorkQueue:
    return InMemoryWorkQueue()


def add_job(
    repo: InMemoryJobRepository,
    n: int,
    *,
    partner_id: str = ACME,
    file_name: str | None = None,
    regions: tuple[str, ...] = ("ISONE",),
    assets_count: int = 1,
) -> MeterJob:
    """Job number n (PROCESSING), created n minutes after T0."""
    at = T0 + timedelta(minutes=n)
    job = MeterJob(
        job_id=str(uuid.UUID(int=n + 1, version=4)),
        partner_id=partner_id,
        file_name=file_name or f"job-{n}.csv",
        payload_format=PayloadFormat.CSV,
        assets_count=assets_count,
        transmission_regions=list(regions),
        created_at=at,
        updated_at=at,
    )
    repo.create(job)
    return job


def add_assets(
    repo: InMemoryJobRepository, job: MeterJob, assets: list[tuple[str, ProvisionalAssetStatus, Any]]
) -> None:
    """Record (reference, status, data) outcomes for the job as one chunk, one second apart."""
    outcomes = [
        AssetOutcome(
            job_id=job.job_id,
            index=index,
            partner_reference=reference,
            status=status,
            status_detail=(
                StatusDetail(name=StatusDetailName.METER_CREATED)
                if status is ProvisionalAssetStatus.COMPLETED
                else StatusDetail()
            ),
            meter_id=str(uuid.uuid4()) if status is ProvisionalAssetStatus.COMPLETED else None,
            created_at=job.created_at + timedelta(seconds=index + 1),
            data=data,
        )
        for index, (reference, status, data) in enumerate(assets)
    ]
    repo.record_chunk(job, 0, outcomes)


def job_query(
    *filters: str,
    search: str | None = None,
    fields: list[str] | None = None,
    size: int | None = None,
    token: str | None = None,
) -> ListQuery:
    return parse_list_query(list(filters), search, fields, size, token, filter_keys=JOB_FILTERS, searchable=JOB_SEARCH)


def asset_query(
    *filters: str,
    search: str | None = None,
    fields: list[str] | None = None,
    size: int | None = None,
    token: str | None = None,
) -> ListQuery:
    return parse_list_query(
        list(filters), search, fields, size, token, filter_keys=ASSET_FILTERS, searchable=ASSET_SEARCH
    )


# ----- submit ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("application/json", PayloadFormat.JSON),
        ("application/json; charset=utf-8", PayloadFormat.JSON),
        ("Application/JSON", PayloadFormat.JSON),
        ("text/csv", PayloadFormat.CSV),
        ("text/csv; charset=utf-8", PayloadFormat.CSV),
        ("application/csv", PayloadFormat.CSV),
    ],
)
def test_submit_stores_the_payload_records_the_job_and_queues_it(
    jobs: InMemoryJobRepository,
    objects: InMemoryObjectStore,
    queue: InMemoryWorkQueue,
    make_asset: MakeAsset,
    content_type: str,
    fmt: PayloadFormat,
) -> None:
    # Given two assets in two regions (and one unknown region), in the request's format
    if fmt is PayloadFormat.JSON:
        assets = [make_asset("ref-1", region="NYISO"), make_asset("ref-2"), make_asset("ref-3", region="MARS")]
        body = json.dumps({"assets": assets}).encode()
    else:
        body = b"partner_reference,transmission_region\r\nref-1,NYISO\r\nref-2,ISONE\r\nref-3,MARS\r\n"
    # When submitted
    job_id = submit_job(jobs, objects, queue, ACME, body, content_type, update_existing=True, file_name=None)
    # Then the job is PROCESSING with its count, a default file name and the known regions
    job = jobs.get(ACME, job_id)
    assert job is not None
    assert (job.status, job.assets_count, job.payload_format, job.update_existing) == (
        JobStatus.PROCESSING,
        3,
        fmt,
        True,
    )
    assert job.file_name == f"{job_id}.{fmt.value}"
    assert job.transmission_regions == ["ISONE", "NYISO"]
    assert (job.processed, job.next_index) == (0, 0)
    # And the normalised assets are stored under the partner's prefix, one line each
    lines = objects.objects[f"partners/{ACME}/meter-jobs/{job_id}/assets.jsonl"].splitlines()
    assert [json.loads(line)["asset"]["partner_reference"] for line in lines] == ["ref-1", "ref-2", "ref-3"]
    # And one message names the job
    assert queue.messages == [{"partner_id": ACME, "job_id": job_id}]


@pytest.mark.parametrize("file_name", ["crm export 2024.csv", "a.b-c_d.json", "x" * 251 + ".csv", "A1.CSV"])
def test_a_valid_file_name_is_kept(
    jobs: InMemoryJobRepository, objects: InMemoryObjectStore, queue: InMemoryWorkQueue, file_name: str
) -> None:
    body = b"partner_reference\r\nref-1\r\n"
    job_id = submit_job(jobs, objects, queue, ACME, body, "text/csv", update_existing=False, file_name=file_name)
    job = jobs.get(ACME, job_id)
    assert job is not None and job.file_name == file_name


@pytest.mark.parametrize(
    "file_name",
    ["no-extension", "a/b.csv", "../x.csv", "bad*.csv", ".csv", "x.", "Zoë.csv", "x" * 252 + ".csv", ""],
)
def test_an_invalid_file_name_is_refused_before_anything_is_stored(
    jobs: InMemoryJobRepository, objects: InMemoryObjectStore, queue: InMemoryWorkQueue, file_name: str
) -> None:
    # When the file_name breaks Leap's rule
    with pytest.raises(InvalidInput) as refused:
        submit_job(
            jobs,
            objects,
            queue,
            ACME,
            b'{"assets":[{}]}',
            "application/json",
            update_existing=False,
            file_name=file_name,
        )
    # Then it is a 400 naming file_name, and nothing is stored or queued
    assert refused.value.details == [
        {
            "message": "at most 255 characters: letters, digits, . _ - and spaces, then an extension",
            "problem_field": "file_name",
        }
    ]
    assert (jobs.jobs_by_id, objects.objects, queue.messages) == ({}, {}, [])


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_an_unsupported_content_type_is_415(
    jobs: InMemoryJobRepository, objects: InMemoryObjectStore, queue: InMemoryWorkQueue, content_type: str | None
) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        submit_job(jobs, objects, queue, ACME, b'{"assets":[{}]}', content_type, update_existing=False, file_name=None)
    assert refused.value.status == 415
    assert isinstance(refused.value.details, list) and "text/csv" in refused.value.details[0]["message"]
    assert (jobs.jobs_by_id, objects.objects, queue.messages) == ({}, {}, [])


@pytest.mark.parametrize(
    ("body", "content_type"), [(b"{", "application/json"), (b"colour\r\nred\r\n", "text/csv"), (b"", "text/csv")]
)
def test_a_refused_request_stores_and_queues_nothing(
    jobs: InMemoryJobRepository, objects: InMemoryObjectStore, queue: InMemoryWorkQueue, body: bytes, content_type: str
) -> None:
    with pytest.raises(InvalidInput):
        submit_job(jobs, objects, queue, ACME, body, content_type, update_existing=False, file_name=None)
    assert (jobs.jobs_by_id, objects.objects, queue.messages) == ({}, {}, [])


class BrokenQueue(InMemoryWorkQueue):
    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        raise ConnectionError("queue unreachable")


def test_a_job_that_cannot_be_queued_ends_failed_with_a_reason(
    jobs: InMemoryJobRepository, objects: InMemoryObjectStore
) -> None:
    # When the queue refuses the message
    with pytest.raises(StorageUnavailable):
        submit_job(
            jobs,
            objects,
            BrokenQueue(),
            ACME,
            b'{"assets":[{}]}',
            "application/json",
            update_existing=False,
            file_name=None,
        )
    # Then the job is not left PROCESSING forever
    ((_, job),) = jobs.jobs_by_id.items()
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is not None and "queued" in job.failure_reason


# ----- read ------------------------------------------------------------------------------------------------


def test_get_job_returns_counters_and_assets_in_order(jobs: InMemoryJobRepository) -> None:
    # Given a job with three recorded outcomes
    job = add_job(jobs, 1, assets_count=3)
    add_assets(
        jobs,
        job,
        [
            ("ref-a", ProvisionalAssetStatus.COMPLETED, {}),
            ("ref-b", ProvisionalAssetStatus.FAILED, {}),
            ("ref-c", ProvisionalAssetStatus.DUPLICATE, {}),
        ],
    )
    # When it is read
    read = get_job(jobs, ACME, job.job_id)
    # Then the counters and the assets (in submission order) are there
    assert str(read.job_id) == job.job_id
    assert (read.assets_count, read.assets_created_count, read.assets_failed_count) == (3, 1, 2)
    assert [(a.partner_reference, a.status) for a in read.assets] == [
        ("ref-a", ProvisionalAssetStatus.COMPLETED),
        ("ref-b", ProvisionalAssetStatus.FAILED),
        ("ref-c", ProvisionalAssetStatus.DUPLICATE),
    ]
    assert read.next_page_token is None


def test_get_job_accepts_an_upper_case_id(jobs: InMemoryJobRepository) -> None:
    job = add_job(jobs, 1)
    assert str(get_job(jobs, ACME, job.job_id.upper()).job_id) == job.job_id


@pytest.mark.parametrize("partner_id", [ACME, BOREALIS])
def test_unknown_or_another_partners_job_is_not_found(jobs: InMemoryJobRepository, partner_id: str) -> None:
    job = add_job(jobs, 1)
    job_id = str(uuid.uuid4()) if partner_id == ACME else job.job_id
    with pytest.raises(NotFound) as missing:
        get_job(jobs, partner_id, job_id)
    assert missing.value.status == 404 and missing.value.details == {"job_id": job_id}


@pytest.mark.parametrize("job_id", ["not-a-uuid", "123", "5961a37f-6325-431c-97cb", "' OR 1=1"])
def test_a_malformed_job_id_is_400(jobs: InMemoryJobRepository, job_id: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        get_job(jobs, ACME, job_id)
    assert refused.value.title == "Job id is not a UUID"


def test_a_jobs_assets_are_paged(jobs: InMemoryJobRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 5 assets and pages of 2
    monkeypatch.setattr(meter_jobs, "JOB_ASSETS_PAGE", 2)
    job = add_job(jobs, 1, assets_count=5)
    add_assets(jobs, job, [(f"ref-{n}", ProvisionalAssetStatus.COMPLETED, {}) for n in range(5)])
    # When paging with next_page_token
    seen: list[str] = []
    token: str | None = None
    for _ in range(5):
        page = get_job(jobs, ACME, job.job_id, token)
        seen += [a.partner_reference for a in page.assets]
        token = page.next_page_token
        if token is None:
            break
    # Then every asset came once, in order
    assert seen == [f"ref-{n}" for n in range(5)]
    # And a token of one job is refused for another
    other = add_job(jobs, 2)
    first_page_token = get_job(jobs, ACME, job.job_id).next_page_token
    assert first_page_token is not None
    with pytest.raises(InvalidInput):
        get_job(jobs, ACME, other.job_id, first_page_token)


# ----- the list idiom --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["colour:red", "status", "status:", "status:   ", ":FAILED", "Status:FAILED", "partner_reference:x"],
)
def test_a_bad_job_filter_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        job_query(raw)
    assert isinstance(refused.value.details, dict) and refused.value.details["problem_field"] == "filter"


@pytest.mark.parametrize(
    ("query", "raw", "named"),
    [
        (job_query, "status:BOGUS", "status: 'BOGUS' is not one of"),
        (job_query, "status:FAILED,bogus", "'bogus' is not one of"),
        (job_query, "transmission_region:MARS", "CAISO, ERCOT"),
        (asset_query, "status:BOGUS", "DUPLICATE, FAILED"),
        (asset_query, "job_id:notuuid", "job_id: 'notuuid' is not a UUID"),
    ],
)
def test_a_filter_value_that_can_never_match_is_refused_naming_the_allowed_values(
    query: Callable[..., ListQuery], raw: str, named: str
) -> None:
    # An empty 200 would tell a partner with a typo that nothing matched; the 400 says what would.
    with pytest.raises(InvalidInput) as refused:
        query(raw)
    details = refused.value.details
    assert isinstance(details, dict) and details["problem_field"] == "filter"
    assert named in details["message"]


def test_search_query_requires_search_fields() -> None:
    with pytest.raises(InvalidInput) as refused:
        job_query(search="acme")
    assert isinstance(refused.value.details, dict) and refused.value.details["problem_field"] == "search_fields"


def test_an_unknown_search_field_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        job_query(search="acme", fields=["status"])
    assert isinstance(refused.value.details, dict) and refused.value.details["problem_field"] == "search_fields"


@pytest.mark.parametrize(
    ("size", "valid"), [(None, True), (1, True), (1000, True), (0, False), (1001, False), (-5, False)]
)
def test_page_size_bounds(size: int | None, valid: bool) -> None:
    if valid:
        assert job_query(size=size).page_size == (size or DEFAULT_PAGE_SIZE)
    else:
        with pytest.raises(InvalidInput):
            job_query(size=size)


def test_filters_parse_to_and_of_ins() -> None:
    query = job_query("status:FAILED, COMPLETED", "transmission_region:CAISO", "status:COMPLETED,PROCESSING")
    assert query.filters == {"status": frozenset({"COMPLETED"}), "transmission_region": frozenset({"CAISO"})}


@pytest.fixture
def listed_jobs(jobs: InMemoryJobRepository) -> list[MeterJob]:
    """Acme's jobs 0..5 (newest = 5), some with a recorded asset, and one Borealis job."""
    made = [
        add_job(jobs, 0, regions=("CAISO",), file_name="Test.csv"),
        add_job(jobs, 1, regions=("NYISO",), file_name="crm-export.csv"),
        add_job(jobs, 2, regions=("CAISO", "NYISO"), file_name="crm-export.json"),
        add_job(jobs, 3, regions=("ISONE",)),
        add_job(jobs, 4, regions=("ERCOT",), file_name="Test.csv"),
        add_job(jobs, 5, regions=("CAISO",)),
    ]
    borealis = add_job(jobs, 6, partner_id=BOREALIS, regions=("CAISO",), file_name="Test.csv")
    add_assets(jobs, made[1], [("site-alpha-1", ProvisionalAssetStatus.FAILED, {})])
    add_assets(jobs, made[4], [("SITE-ALPHA-2", ProvisionalAssetStatus.COMPLETED, {})])
    add_assets(jobs, made[5], [("site-beta-1", ProvisionalAssetStatus.FAILED, {})])
    ended = {
        0: JobStatus.COMPLETED,
        1: JobStatus.FAILED,
        2: JobStatus.COMPLETED,
        4: JobStatus.COMPLETED_WITH_ERRORS,
        5: JobStatus.FAILED,
    }
    for n, status in ended.items():
        assert jobs.finish(made[n], status)
    assert jobs.finish(borealis, JobStatus.COMPLETED)
    return made


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param([], [5, 4, 3, 2, 1, 0], id="none-newest-first"),
        pytest.param(["status:COMPLETED"], [2, 0], id="one"),
        pytest.param(["status:COMPLETED,FAILED"], [5, 2, 1, 0], id="in"),
        pytest.param(["status:COMPLETED,FAILED", "transmission_region:NYISO"], [2, 1], id="and"),
        pytest.param(["transmission_region:CAISO,ERCOT"], [5, 4, 2, 0], id="region-in"),
        pytest.param(["file_name:Test.csv"], [4, 0], id="file-name"),
        pytest.param(["file_name:Test.csv", "status:FAILED"], [], id="and-empty"),
        pytest.param(["status:COMPLETED_WITH_ERRORS"], [4], id="with-errors"),
    ],
)
def test_list_jobs_filters(
    jobs: InMemoryJobRepository, listed_jobs: list[MeterJob], filters: list[str], expected: list[int]
) -> None:
    page = list_jobs(jobs, ACME, job_query(*filters))
    assert [str(j.job_id) for j in page.jobs] == [listed_jobs[n].job_id for n in expected]
    assert page.next_page_token is None


@pytest.mark.parametrize(
    ("search", "fields", "expected"),
    [
        pytest.param("alpha", ["partner_reference"], [4, 1], id="reference-case-insensitive"),
        pytest.param("beta-1", ["partner_reference"], [5], id="reference"),
        pytest.param("crm-export", ["file_name"], [2, 1], id="file-name"),
        pytest.param("test.csv,beta", ["file_name", "partner_reference"], [5, 4, 0], id="either-term-either-field"),
        pytest.param("nothing", ["file_name", "partner_reference"], [], id="no-match"),
    ],
)
def test_list_jobs_search(
    jobs: InMemoryJobRepository, listed_jobs: list[MeterJob], search: str, fields: list[str], expected: list[int]
) -> None:
    page = list_jobs(jobs, ACME, job_query(search=search, fields=fields))
    assert [str(j.job_id) for j in page.jobs] == [listed_jobs[n].job_id for n in expected]


def test_list_jobs_search_by_job_id(jobs: InMemoryJobRepository, listed_jobs: list[MeterJob]) -> None:
    page = list_jobs(jobs, ACME, job_query(search=listed_jobs[3].job_id, fields=["job_id"]))
    assert [str(j.job_id) for j in page.jobs] == [listed_jobs[3].job_id]


@pytest.mark.parametrize(("size", "filters"), [(1, []), (2, []), (4, []), (6, []), (1, ["status:COMPLETED,FAILED"])])
def test_list_jobs_pages_through_every_job_once(
    jobs: InMemoryJobRepository, listed_jobs: list[MeterJob], size: int, filters: list[str]
) -> None:
    # When paging with page tokens
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        page = list_jobs(jobs, ACME, job_query(*filters, size=size, token=token))
        pages += 1
        assert len(page.jobs) <= size
        seen += [str(j.job_id) for j in page.jobs]
        token = page.next_page_token
        if token is None:
            break
        assert pages < 10
    # Then every matching job came exactly once, newest first, and no empty last page was needed
    expected = list_jobs(jobs, ACME, job_query(*filters)).jobs
    assert seen == [str(j.job_id) for j in expected]
    assert pages == -(-len(expected) // size)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"filters": ["status:COMPLETED"]}, id="other-filter"),
        pytest.param({"filters": ["status:FAILED"], "search": "x", "fields": ["file_name"]}, id="added-search"),
        pytest.param({"filters": []}, id="filter-dropped"),
    ],
)
def test_a_page_token_reused_with_other_filters_is_refused(
    jobs: InMemoryJobRepository, listed_jobs: list[MeterJob], other: dict[str, Any]
) -> None:
    # Given a token issued for status:FAILED
    token = list_jobs(jobs, ACME, job_query("status:FAILED", size=1)).next_page_token
    assert token is not None
    # When it is sent with other filters
    with pytest.raises(InvalidInput) as refused:
        list_jobs(
            jobs,
            ACME,
            job_query(*other["filters"], search=other.get("search"), fields=other.get("fields"), size=1, token=token),
        )
    # Then it is refused
    assert "page_token" in refused.value.title


@pytest.mark.parametrize("token", ["garbage", "eyJ4IjoxfQ", ""])
def test_a_forged_page_token_is_refused(jobs: InMemoryJobRepository, listed_jobs: list[MeterJob], token: str) -> None:
    query = job_query(size=1, token=token)
    if token == "":
        # an empty token means the first page
        assert len(list_jobs(jobs, ACME, query).jobs) == 1
        return
    with pytest.raises(InvalidInput):
        list_jobs(jobs, ACME, query)


def test_another_partner_lists_only_its_own_jobs(jobs: InMemoryJobRepository, listed_jobs: list[MeterJob]) -> None:
    page = list_jobs(jobs, BOREALIS, job_query())
    assert [j.file_name for j in page.jobs] == ["Test.csv"]
    assert list_jobs(jobs, BOREALIS, job_query(search="alpha", fields=["partner_reference"])).jobs == []
    assert list_jobs(jobs, "partner-nobody", job_query()).jobs == []


# ----- provisional assets ----------------------------------------------------------------------------------


@pytest.fixture
def listed_assets(jobs: InMemoryJobRepository) -> tuple[MeterJob, MeterJob]:
    first = add_job(jobs, 0, assets_count=3)
    second = add_job(jobs, 1, assets_count=2, regions=("CAISO",))
    add_assets(
        jobs,
        first,
        [
            (
                "a-1",
                ProvisionalAssetStatus.COMPLETED,
                {"transmission_region": "ISONE", "device": {"device_serial_number": "SN-100"}},
            ),
            ("a-2", ProvisionalAssetStatus.FAILED, {"transmission_region": "ISONE"}),
            ("a-3", ProvisionalAssetStatus.DUPLICATE, {"transmission_region": "NYISO", "device": "not-an-object"}),
        ],
    )
    add_assets(
        jobs,
        second,
        [
            ("b-1", ProvisionalAssetStatus.MULTIPLE_PARTNER_REFERENCE, {"transmission_region": "CAISO"}),
            (
                "b-2",
                ProvisionalAssetStatus.COMPLETED,
                {"transmission_region": "CAISO", "device": {"device_serial_number": "sn-200"}},
            ),
        ],
    )
    other = add_job(jobs, 2, partner_id=BOREALIS)
    add_assets(jobs, other, [("a-1", ProvisionalAssetStatus.COMPLETED, {"transmission_region": "ISONE"})])
    return first, second


@pytest.mark.parametrize(
    ("filters", "search", "expected"),
    [
        pytest.param([], None, ["b-2", "b-1", "a-3", "a-2", "a-1"], id="all-newest-first"),
        pytest.param(["status:COMPLETED"], None, ["b-2", "a-1"], id="status"),
        pytest.param(["status:FAILED,DUPLICATE"], None, ["a-3", "a-2"], id="status-in"),
        pytest.param(["status:MULTIPLE_PARTNER_REFERENCE"], None, ["b-1"], id="multiple"),
        pytest.param(["transmission_region:ISONE"], None, ["a-2", "a-1"], id="region"),
        pytest.param(["transmission_region:ISONE,CAISO", "status:COMPLETED"], None, ["b-2", "a-1"], id="and"),
        pytest.param(["partner_reference:a-1,b-1"], None, ["b-1", "a-1"], id="reference-in"),
        pytest.param([], ("sn-", ["device_serial_number"]), ["b-2", "a-1"], id="search-serial"),
        pytest.param([], ("A-", ["partner_reference"]), ["a-3", "a-2", "a-1"], id="search-reference"),
    ],
)
def test_list_provisional_assets_filters_and_search(
    jobs: InMemoryJobRepository,
    listed_assets: tuple[MeterJob, MeterJob],
    filters: list[str],
    search: tuple[str, list[str]] | None,
    expected: list[str],
) -> None:
    query = asset_query(*filters, search=search[0] if search else None, fields=search[1] if search else None)
    page = list_provisional_assets(jobs, ACME, query)
    assert [a.partner_reference for a in page.provisional_assets] == expected


def test_list_provisional_assets_by_job(jobs: InMemoryJobRepository, listed_assets: tuple[MeterJob, MeterJob]) -> None:
    first, _ = listed_assets
    page = list_provisional_assets(jobs, ACME, asset_query(f"job_id:{first.job_id}"))
    assert {str(a.job_id) for a in page.provisional_assets} == {first.job_id}
    assert [a.partner_reference for a in page.provisional_assets] == ["a-3", "a-2", "a-1"]
    assert page.provisional_assets[0].data == {"transmission_region": "NYISO", "device": "not-an-object"}


def test_list_provisional_assets_pages_every_asset_once(
    jobs: InMemoryJobRepository, listed_assets: tuple[MeterJob, MeterJob]
) -> None:
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        page = list_provisional_assets(jobs, ACME, asset_query(size=2, token=token))
        seen += [a.partner_reference for a in page.provisional_assets]
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["b-2", "b-1", "a-3", "a-2", "a-1"]


def test_a_provisional_asset_token_reused_with_other_filters_is_refused(
    jobs: InMemoryJobRepository, listed_assets: tuple[MeterJob, MeterJob]
) -> None:
    token = list_provisional_assets(jobs, ACME, asset_query(size=1)).next_page_token
    assert token is not None
    with pytest.raises(InvalidInput):
        list_provisional_assets(jobs, ACME, asset_query("status:FAILED", size=1, token=token))


@pytest.mark.parametrize("raw", ["file_name:x.csv", "status", "meter_id:1"])
def test_a_bad_provisional_asset_filter_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        asset_query(raw)
    assert isinstance(refused.value.details, dict) and refused.value.details["problem_field"] == "filter"


def test_another_partner_sees_only_its_own_provisional_assets(
    jobs: InMemoryJobRepository, listed_assets: tuple[MeterJob, MeterJob]
) -> None:
    first, _ = listed_assets
    page = list_provisional_assets(jobs, BOREALIS, asset_query())
    assert [a.partner_reference for a in page.provisional_assets] == ["a-1"]
    assert list_provisional_assets(jobs, BOREALIS, asset_query(f"job_id:{first.job_id}")).provisional_assets == []


# ----- filter discovery ------------------------------------------------------------------------------------


def test_job_filters_offer_every_status_and_the_partners_regions(
    jobs: InMemoryJobRepository, listed_jobs: list[MeterJob]
) -> None:
    options = {f.key: f.values for f in job_filters(jobs, ACME).filter_options}
    assert options == {
        "status": ["PROCESSING", "FAILED", "COMPLETED", "COMPLETED_WITH_ERRORS"],
        "transmission_region": ["CAISO", "ERCOT", "ISONE", "NYISO"],
    }


def test_provisional_asset_filters_offer_every_asset_status(
    jobs: InMemoryJobRepository, listed_assets: tuple[MeterJob, MeterJob]
) -> None:
    options = {f.key: f.values for f in provisional_asset_filters(jobs, ACME).filter_options}
    assert options["status"] == ["PROCESSING", "FAILED", "DUPLICATE", "COMPLETED", "MULTIPLE_PARTNER_REFERENCE"]
    assert options["transmission_region"] == ["CAISO", "ISONE"]


def test_filter_regions_do_not_leak_across_partners(jobs: InMemoryJobRepository, listed_jobs: list[MeterJob]) -> None:
    add_job(jobs, 9, partner_id=BOREALIS, regions=("PJM",))
    assert "PJM" not in {v for f in job_filters(jobs, ACME).filter_options for v in f.values}
    borealis = {f.key: f.values for f in job_filters(jobs, BOREALIS).filter_options}
    assert borealis["transmission_region"] == ["CAISO", "PJM"]
    assert {f.key: f.values for f in job_filters(jobs, "partner-new").filter_options}["transmission_region"] == []


# ----- CSV export ------------------------------------------------------------------------------------------


def listed(
    reference: str,
    status: ProvisionalAssetStatus,
    data: dict[str, Any],
    *,
    name: StatusDetailName | None = None,
    description: str | None = None,
    failed_fields: dict[str, str] | None = None,
    meter_id: str | None = None,
) -> ListedProvisionalAsset:
    return ListedProvisionalAsset(
        job_id=uuid.UUID(int=7, version=4),
        partner_reference=reference,
        status=status,
        status_detail=StatusDetail(name=name, description=description, failed_fields=failed_fields),
        created_at=T0,
        meter_id=uuid.UUID(meter_id) if meter_id else None,
        data=data,
    )


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_export_uses_dot_paths_and_indexed_failed_fields() -> None:
    # Given a created asset and a failed one
    meter_id = "87654321-4321-4888-8666-2c963f66afa3"
    page = ListProvisionalAssetsResponse(
        provisional_assets=[
            listed(
                "ref-ok",
                ProvisionalAssetStatus.COMPLETED,
                {
                    "partner_reference": "ref-ok",
                    "load_types": ["HVAC", "EV_CHARGING"],
                    "customer": {"city": "Boston, MA", "end_customer_name": "Zoë Café"},
                    "site": {"renewable_generator": True, "site_devices": [{"device_type": "BATTERY"}]},
                },
                name=StatusDetailName.METER_CREATED,
                description="A new meter was created.",
                meter_id=meter_id,
            ),
            listed(
                "ref-bad",
                ProvisionalAssetStatus.FAILED,
                {"partner_reference": "ref-bad", "customer": {"postal_code": "x"}},
                name=StatusDetailName.VALIDATION_ERROR,
                description="2 field(s) failed validation",
                failed_fields={"meter_type": "Field required", "customer.postal_code": "must be a US ZIP"},
            ),
        ]
    )
    # When exported
    text = provisional_assets_csv(page)
    # Then the header is Leap's dot paths: fixed columns, data.*, created_at, meter_id, then failed_fields pairs
    header = text.split("\r\n")[0].split(",")
    assert header == [
        "job_id",
        "partner_reference",
        "status",
        "status_detail.name",
        "status_detail.description",
        "data.customer.city",
        "data.customer.end_customer_name",
        "data.customer.postal_code",
        "data.load_types.0",
        "data.load_types.1",
        "data.partner_reference",
        "data.site.renewable_generator",
        "data.site.site_devices.0.device_type",
        "created_at",
        "meter_id",
        "status_detail.failed_fields.0.key",
        "status_detail.failed_fields.0.value",
        "status_detail.failed_fields.1.key",
        "status_detail.failed_fields.1.value",
    ]
    # And the rows carry the values (quoted where needed, booleans lower case, absent = empty)
    ok, bad = read_csv(text)
    assert ok["data.customer.city"] == "Boston, MA"
    assert ok["data.customer.end_customer_name"] == "Zoë Café"
    assert ok["data.site.renewable_generator"] == "true"
    assert ok["meter_id"] == meter_id and bad["meter_id"] == ""
    assert ok["created_at"] == T0.isoformat()
    assert (bad["status_detail.failed_fields.0.key"], bad["status_detail.failed_fields.0.value"]) == (
        "customer.postal_code",
        "must be a US ZIP",
    )
    assert (bad["status_detail.failed_fields.1.key"], bad["status_detail.failed_fields.1.value"]) == (
        "meter_type",
        "Field required",
    )
    assert ok["status_detail.failed_fields.0.key"] == ""


def test_csv_export_orders_many_failed_fields_numerically() -> None:
    # Given an asset with 12 failed fields
    fields = {f"field_{n:02d}": f"problem {n}" for n in range(12)}
    page = ListProvisionalAssetsResponse(
        provisional_assets=[listed("ref-1", ProvisionalAssetStatus.FAILED, {}, failed_fields=fields)]
    )
    header = provisional_assets_csv(page).split("\r\n")[0].split(",")
    # Then pair 2 comes before pair 10
    failure_columns = [c for c in header if c.startswith("status_detail.failed_fields.")]
    assert failure_columns == [
        f"status_detail.failed_fields.{n}.{part}" for n in range(12) for part in ("key", "value")
    ]


def test_csv_export_only_has_populated_columns() -> None:
    # Given an asset still processing, with no detail
    page = ListProvisionalAssetsResponse(provisional_assets=[listed("ref-1", ProvisionalAssetStatus.PROCESSING, {})])
    # Then no empty column is exported
    assert provisional_assets_csv(page).split("\r\n")[0] == "job_id,partner_reference,status,created_at"


def test_a_forged_job_asset_page_token_is_400(jobs: InMemoryJobRepository) -> None:
    from meterhub.platform import page_tokens

    # Given a token that passes the fingerprint check but whose cursor is not an asset index
    job = add_job(jobs, 1)
    forged = page_tokens.encode("ASSET#not-a-number", page_tokens.fingerprint({"job_id": job.job_id}))
    # Then it is refused like any other bad token
    with pytest.raises(InvalidInput):
        get_job(jobs, ACME, job.job_id, forged)
