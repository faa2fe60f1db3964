"""Batch meter jobs as partners see them: submit, read, list, filter, and the provisional-asset listing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from meterhub.catalog.enums import ProvisionalAssetStatus, TransmissionRegion
from meterhub.meter_jobs.api_models import (
    AssetUploadStatus,
    Job,
    JobAndAssets,
    ListedProvisionalAsset,
    ListProvisionalAssetsResponse,
    PagedJobs,
)
from meterhub.meter_jobs.ports import JobRepository
from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob, PayloadFormat
from meterhub.meter_jobs.use_cases.payload import Entry, assets_key, parse_csv, parse_json
from meterhub.meters.api_models.responses import FiltersResponse, KeyValueFilter
from meterhub.platform import keys, page_tokens
from meterhub.platform.errors import InvalidInput, NotFound, StorageUnavailable, UnsupportedMediaType
from meterhub.platform.ids import parse_id
from meterhub.platform.object_store import ObjectStore
from meterhub.platform.spreadsheet_csv import csv_text
from meterhub.platform.work_queue import WorkQueue

FILE_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9._\s-]+\.[a-zA-Z0-9]+$")
MAX_FILE_NAME_LENGTH = 255
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
JOB_ASSETS_PAGE = 1000
"""A job's GET returns its assets 1,000 at a time: a 25,000-asset job would not fit in one Lambda response."""

T = TypeVar("T")


# ----- submit -------------------------------------------------------------------------------------------
def payload_format(content_type: str | None) -> PayloadFormat:
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json":
        return PayloadFormat.JSON
    if media in {"text/csv", "application/csv"}:
        return PayloadFormat.CSV
    raise UnsupportedMediaType(
        "Unsupported content type",
        [{"message": f"Content-Type {media or '(none)'} is not supported: send application/json or text/csv"}],
    )


def submit_job(
    jobs: JobRepository,
    objects: ObjectStore,
    queue: WorkQueue,
    partner_id: str,
    body: bytes,
    content_type: str | None,
    *,
    update_existing: bool,
    file_name: str | None,
) -> str:
    """Validate the request as a whole, store its assets, record the job and queue it. Returns the job id."""
    fmt = payload_format(content_type)
    if file_name is not None and (len(file_name) > MAX_FILE_NAME_LENGTH or not FILE_NAME_PATTERN.fullmatch(file_name)):
        raise InvalidInput(
            "Invalid file_name",
            [
                {
                    "message": f"at most {MAX_FILE_NAME_LENGTH} characters: letters, digits, . _ - and spaces, "
                    "then an extension",
                    "problem_field": "file_name",
                }
            ],
        )
    entries = parse_json(body) if fmt is PayloadFormat.JSON else parse_csv(body)
    job_id = str(uuid.uuid4())
    objects.put(assets_key(partner_id, job_id), b"".join(e.to_line() for e in entries), "application/x-ndjson")
    now = datetime.now(UTC)
    job = MeterJob(
        job_id=job_id,
        partner_id=partner_id,
        file_name=file_name or f"{job_id}.{fmt.value}",
        payload_format=fmt,
        update_existing=update_existing,
        assets_count=len(entries),
        transmission_regions=_regions(entries),
        created_at=now,
        updated_at=now,
    )
    jobs.create(job)
    try:
        queue.send({"partner_id": partner_id, "job_id": job_id})
    except Exception as error:
        # Without its message the job would wait forever: end it with the reason instead.
        jobs.finish(job, JobStatus.FAILED, "the job could not be queued; submit it again")
        raise StorageUnavailable("The job could not be queued; please retry") from error
    return job_id


def _regions(entries: list[Entry]) -> list[str]:
    known = {region.value for region in TransmissionRegion}
    found = {e.asset.get("transmission_region") for e in entries if isinstance(e.asset, dict)}
    return sorted(region for region in found if isinstance(region, str) and region in known)


# ----- read ---------------------------------------------------------------------------------------------
def _job(job: MeterJob) -> Job:
    return Job.model_validate(job.model_dump(include=set(Job.model_fields)))


def get_job(jobs: JobRepository, partner_id: str, job_id: str, page_token: str | None = None) -> JobAndAssets:
    job = jobs.get(partner_id, parse_id(job_id, "job_id"))
    if job is None:
        raise NotFound("Job not found", {"job_id": job_id})
    fingerprint = page_tokens.fingerprint({"job_id": job.job_id})
    after = _asset_cursor(page_tokens.decode(page_token, fingerprint, prefix=keys.ASSET)) if page_token else -1
    assets = list(_take(jobs.job_assets(partner_id, job.job_id, after), JOB_ASSETS_PAGE + 1))
    more = len(assets) > JOB_ASSETS_PAGE
    assets = assets[:JOB_ASSETS_PAGE]
    return JobAndAssets(
        **_job(job).model_dump(),
        assets=[_status(asset) for asset in assets],
        next_page_token=page_tokens.encode(keys.asset(assets[-1].index), fingerprint) if more else None,
    )


def _asset_cursor(cursor: str) -> int:
    index = cursor.removeprefix(keys.ASSET)
    if not index.isdigit():
        raise InvalidInput("page_token is not a token this API issued", {"page_token": cursor[:64]})
    return int(index)


def _status(asset: AssetOutcome) -> AssetUploadStatus:
    return AssetUploadStatus.model_validate(asset.model_dump(include=set(AssetUploadStatus.model_fields)))


def _take(items: Iterable[T], count: int) -> Iterator[T]:
    for index, item in enumerate(items):
        if index == count:
            return
        yield item


# ----- the list idiom: filter=key:v1,v2 (AND across keys, IN within), search_query + search_fields ---------
@dataclass(frozen=True)
class ListQuery:
    filters: Mapping[str, frozenset[str]]
    search_terms: tuple[str, ...]
    search_fields: tuple[str, ...]
    page_size: int
    page_token: str | None

    def fingerprint(self) -> str:
        return page_tokens.fingerprint(
            {
                "filters": {k: sorted(v) for k, v in self.filters.items()},
                "terms": self.search_terms,
                "fields": self.search_fields,
            }
        )


@dataclass(frozen=True)
class FilterRule:
    """What one filter key accepts, so a value that can never match is a 400 rather than an empty page."""

    values: frozenset[str] | None = None
    """The closed set of values (an enum's), or None for free text."""
    is_uuid: bool = False

    @classmethod
    def one_of(cls, values: Iterable[str]) -> FilterRule:
        return cls(values=frozenset(values))

    def refusal(self, value: str) -> str | None:
        """Why `value` can never match, or None when it can."""
        if self.values is not None and value not in self.values:
            return f"{value[:64]!r} is not one of {', '.join(sorted(self.values))}"
        if self.is_uuid and not _is_uuid(value):
            return f"{value[:64]!r} is not a UUID"
        return None


ANY_TEXT = FilterRule()
A_UUID = FilterRule(is_uuid=True)
MAX_FILTERS = 20
"""Repeats of `filter` (AND) and `search_fields` a list query takes; there are only a handful of keys."""


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _filter_problem(raw: str, message: str) -> InvalidInput:
    return InvalidInput("Invalid filter", {"problem_field": "filter", "message": f"{raw[:128]!r}: {message}"})


def parse_list_query(
    filters: list[str] | None,
    search_query: str | None,
    search_fields: list[str] | None,
    page_size: int | None,
    page_token: str | None,
    *,
    filter_keys: Mapping[str, FilterRule],
    searchable: frozenset[str],
) -> ListQuery:
    parsed: dict[str, frozenset[str]] = {}
    for raw in filters or []:
        name, separator, values = raw.partition(":")
        name = name.strip()
        if not separator or name not in filter_keys or not values.strip():
            raise _filter_problem(raw, f"use key:value[,value] with key one of {', '.join(sorted(filter_keys))}")
        wanted = frozenset(v.strip() for v in values.split(",") if v.strip())
        for value in sorted(wanted):
            refusal = filter_keys[name].refusal(value)
            if refusal is not None:
                raise _filter_problem(raw, f"{name}: {refusal}")
        parsed[name] = parsed[name] & wanted if name in parsed else wanted
    terms = tuple(t.strip().lower() for t in (search_query or "").split(",") if t.strip())
    fields = tuple(search_fields or ())
    if terms and not fields:
        raise InvalidInput("search_fields is required with search_query", {"problem_field": "search_fields"})
    unknown = [f for f in fields if f not in searchable]
    if unknown:
        raise InvalidInput(
            "Invalid search_fields",
            {"problem_field": "search_fields", "message": f"{unknown}: use {', '.join(sorted(searchable))}"},
        )
    size = DEFAULT_PAGE_SIZE if page_size is None else page_size
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput("Invalid page_size", {"problem_field": "page_size", "message": f"1 to {MAX_PAGE_SIZE}"})
    return ListQuery(parsed, terms, fields, size, page_token)


def _page(rows: Iterator[tuple[str, T]], query: ListQuery, keep: Callable[[T], bool]) -> tuple[list[T], str | None]:
    selected: list[T] = []
    last = ""
    for sort_key, row in rows:
        if not keep(row):
            continue
        if len(selected) == query.page_size:
            return selected, page_tokens.encode(last, query.fingerprint())
        selected.append(row)
        last = sort_key
    return selected, None


def _matches(values: Mapping[str, Iterable[str]], query: ListQuery) -> bool:
    """Every filter key matches one of its values; some search term is in one of the searched fields."""
    for name, wanted in query.filters.items():
        if not wanted & set(values.get(name, ())):
            return False
    if not query.search_terms:
        return True
    haystack = [v.lower() for field in query.search_fields for v in values.get(field, ())]
    return any(term in value for term in query.search_terms for value in haystack)


JOB_FILTERS: Mapping[str, FilterRule] = {
    "status": FilterRule.one_of(status.value for status in JobStatus),
    "file_name": ANY_TEXT,
    "transmission_region": FilterRule.one_of(region.value for region in TransmissionRegion),
}
JOB_SEARCH = frozenset({"file_name", "job_id", "partner_reference"})


def list_jobs(jobs: JobRepository, partner_id: str, query: ListQuery) -> PagedJobs:
    before = page_tokens.decode(query.page_token, query.fingerprint()) if query.page_token else None
    job_references: dict[str, set[str]] = {}
    if "partner_reference" in query.search_fields:
        for _, asset in jobs.assets(partner_id):
            job_references.setdefault(asset.job_id, set()).add(asset.partner_reference)

    def keep(job: MeterJob) -> bool:
        values = {
            "status": [job.status.value],
            "file_name": [job.file_name],
            "transmission_region": job.transmission_regions,
            "job_id": [job.job_id],
            "partner_reference": sorted(job_references.get(job.job_id, ())),
        }
        return _matches(values, query)

    selected, token = _page(jobs.jobs(partner_id, before), query, keep)
    return PagedJobs(jobs=[_job(job) for job in selected], next_page_token=token)


def job_filters(jobs: JobRepository, partner_id: str) -> FiltersResponse:
    regions = sorted({region for _, job in jobs.jobs(partner_id) for region in job.transmission_regions})
    return FiltersResponse(
        filter_options=[
            KeyValueFilter(key="status", values=[status.value for status in JobStatus]),
            KeyValueFilter(key="transmission_region", values=regions),
        ]
    )


ASSET_FILTERS: Mapping[str, FilterRule] = {
    "status": FilterRule.one_of(status.value for status in ProvisionalAssetStatus),
    "transmission_region": FilterRule.one_of(region.value for region in TransmissionRegion),
    "partner_reference": ANY_TEXT,
    "job_id": A_UUID,
}
ASSET_SEARCH = frozenset({"partner_reference", "device_serial_number"})


def list_provisional_assets(jobs: JobRepository, partner_id: str, query: ListQuery) -> ListProvisionalAssetsResponse:
    before = page_tokens.decode(query.page_token, query.fingerprint()) if query.page_token else None

    def keep(asset: AssetOutcome) -> bool:
        device = asset.data.get("device") if isinstance(asset.data.get("device"), dict) else {}
        values = {
            "status": [asset.status.value],
            "transmission_region": [str(asset.data.get("transmission_region", ""))],
            "partner_reference": [asset.partner_reference],
            "job_id": [asset.job_id],
            "device_serial_number": [str(device.get("device_serial_number", ""))] if device else [],
        }
        return _matches(values, query)

    selected, token = _page(jobs.assets(partner_id, before), query, keep)
    return ListProvisionalAssetsResponse(
        provisional_assets=[ListedProvisionalAsset.model_validate(a.model_dump()) for a in selected],
        next_page_token=token,
    )


def provisional_asset_filters(jobs: JobRepository, partner_id: str) -> FiltersResponse:
    regions = sorted({region for _, job in jobs.jobs(partner_id) for region in job.transmission_regions})
    return FiltersResponse(
        filter_options=[
            KeyValueFilter(key="status", values=[status.value for status in ProvisionalAssetStatus]),
            KeyValueFilter(key="transmission_region", values=regions),
        ]
    )


# ----- CSV export -----------------------------------------------------------------------------------------
FIXED_COLUMNS = ("job_id", "partner_reference", "status", "status_detail.name", "status_detail.description")


def provisional_assets_csv(page: ListProvisionalAssetsResponse) -> str:
    """Dot-path columns as in Leap's export: only populated columns, arrays by index, failed_fields as
    indexed key/value pairs. Operators open it in spreadsheets, so partner values that could run as a formula
    are neutralised (meterhub.platform.spreadsheet_csv); the JSON listing keeps them exact."""
    rows = [_flat_asset(asset) for asset in page.provisional_assets]
    data_columns = sorted({c for row in rows for c in row if c.startswith("data.")})
    tail = ["created_at", "meter_id"]
    failure_columns = sorted(
        {c for row in rows for c in row if c.startswith("status_detail.failed_fields.")}, key=_natural
    )
    columns = [
        c
        for c in (*FIXED_COLUMNS, *data_columns, *tail, *failure_columns)
        if any(c in r for r in rows) or (not rows and c in (*FIXED_COLUMNS, "created_at"))
    ]
    return csv_text([columns, *([row.get(column, "") for column in columns] for row in rows)])


def _natural(column: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in column.split("."))


def _flat_asset(asset: ListedProvisionalAsset) -> dict[str, str]:
    row: dict[str, str] = {
        "job_id": str(asset.job_id),
        "partner_reference": asset.partner_reference,
        "status": asset.status.value,
        "created_at": asset.created_at.isoformat(),
    }
    if asset.meter_id:
        row["meter_id"] = str(asset.meter_id)
    if asset.status_detail.name:
        row["status_detail.name"] = asset.status_detail.name.value
    if asset.status_detail.description:
        row["status_detail.description"] = asset.status_detail.description
    for n, (field, message) in enumerate(sorted((asset.status_detail.failed_fields or {}).items())):
        row[f"status_detail.failed_fields.{n}.key"] = field
        row[f"status_detail.failed_fields.{n}.value"] = message
    _flatten("data", asset.data, row)
    return row


def _flatten(prefix: str, value: Any, row: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, row)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(f"{prefix}.{index}", item, row)
    elif value is not None:
        row[prefix] = str(value).lower() if isinstance(value, bool) else str(value)
