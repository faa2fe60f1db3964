"""`Client`: one method per API operation (named after its operationId), and helpers for what takes several calls.

Answers are the API's JSON as dicts (`JSON`): the OpenAPI document (GET /openapi.json) is their reference, and
the client never drops a field the API adds. The helpers return small dataclasses (`results`).

The API key goes in the Authorization header of requests to the API only: presigned S3 URLs (upload and
download) are called by a second HTTP client without it, and redirects are never followed with it. Neither the
key nor the header appears in a repr, an exception or a log line.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal
from urllib.parse import quote

import httpx

from meterhub_client.errors import JobTimeout, error_for
from meterhub_client.operations import ROUTES
from meterhub_client.results import MeterJobResult, UploadResult

JSON = dict[str, Any]
Progress = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes) while a file uploads."""
OnPoll = Callable[[JSON], None]
"""Called with the job each time a wait polls it."""

DEFAULT_URL = "http://127.0.0.1:3000"  # `make run`
MAX_DIRECT_UPLOAD_BYTES = 5 * 1024 * 1024
"""POST /v1.1/interval-data takes at most 5 MB (openapi.json, README); larger files go through upload-url."""
UPLOAD_CHUNK_BYTES = 1024 * 1024
FIRST_POLL_SECONDS = 0.25
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,199}")
"""What the API accepts as an uploaded file's name (UploadUrlRequest.file_name)."""
METER_JOB_FINAL = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"})
UPLOAD_FINAL = frozenset({"COMPLETED", "FAILED"})


class Client:
    """A partner's connection to the API. Use it as a context manager (or call `close`).

    `transport` replaces the network (tests pass `httpx.MockTransport`); it serves the presigned URLs too.
    Waits poll after 0.25 s, then twice as long each time up to `poll_interval` seconds.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 60.0,
        poll_interval: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = base_url.rstrip("/")
        self.poll_interval = poll_interval
        headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "meterhub-client/0.1"}
        self._api = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)
        self._bare = httpx.Client(timeout=timeout, transport=transport, headers={"User-Agent": "meterhub-client/0.1"})

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._api.close()
        self._bare.close()

    # ----- transport ------------------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        path_params: Mapping[str, str] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send `operation` (operations.ROUTES); any status >= 400 raises `ClientError` / `ServerError`."""
        method, template = ROUTES[operation]
        path = template.format(**{name: quote(str(value), safe="") for name, value in (path_params or {}).items()})
        query = {name: value for name, value in (params or {}).items() if value is not None}
        response = self._api.request(method, path, params=query, json=json, content=content, headers=headers)
        if response.status_code >= 400:
            raise error_for(response)
        return response

    def _json(self, operation: str, path_params: Mapping[str, str] | None = None, **kwargs: Any) -> JSON:
        answer: JSON = self._call(operation, path_params, **kwargs).json()
        return answer

    # ----- meters ---------------------------------------------------------------------------------------

    def create_single_meter(self, provisional_asset: Mapping[str, Any], *, update_existing: bool = False) -> JSON:
        """POST /v1.1/meters: one meter, synchronously (a DUPLICATE reference is a 200 with that status)."""
        return self._json(
            "createSingleMeter",
            params={"update_existing": _flag(update_existing)},
            json={"provisional_asset": dict(provisional_asset)},
        )

    def get_meter_details(self, meter_id: str) -> JSON:
        return self._json("getMeterDetails", {"meter_id": meter_id})

    def search_meter_details(
        self, filters: Mapping[str, Any] | None = None, *, page_size: int | None = None, page_token: str | None = None
    ) -> JSON:
        """One page of POST /v2/meters/search (`filters`: MeterFilterRequest); `iter_meters` reads them all."""
        return self._json("searchMeterDetails", json=_body(filters, page_size=page_size, page_token=page_token))

    def iter_meters(self, filters: Mapping[str, Any] | None = None, *, page_size: int | None = None) -> Iterator[JSON]:
        return paginate(
            lambda token: self.search_meter_details(filters, page_size=page_size, page_token=token), "meters"
        )

    def search_meter_enrollments(
        self, filters: Mapping[str, Any] | None = None, *, page_size: int | None = None, page_token: str | None = None
    ) -> JSON:
        return self._json("searchMeterEnrollments", json=_body(filters, page_size=page_size, page_token=page_token))

    def get_meter_enrollment(self, meter_id: str) -> JSON:
        return self._json("getMeterEnrollment", {"meter_id": meter_id})

    def get_meter_intervals(
        self, meter_id: str, start: str, end: str, *, page_size: int | None = None, page_token: str | None = None
    ) -> JSON:
        params = {"start": start, "end": end, "page_size": page_size, "page_token": page_token}
        return self._json("getMeterIntervals", {"meter_id": meter_id}, params=params)

    def iter_meter_intervals(self, meter_id: str, start: str, end: str) -> Iterator[JSON]:
        return paginate(lambda token: self.get_meter_intervals(meter_id, start, end, page_token=token), "intervals")

    def add_meter_tags(self, meter_ids: Sequence[str], tags: Sequence[str]) -> JSON:
        return self._json("addMeterTags", json={"meter_ids": list(meter_ids), "tags": list(tags)})

    def remove_meter_tags(self, meter_ids: Sequence[str], tags: Sequence[str]) -> JSON:
        return self._json("removeMeterTags", json={"meter_ids": list(meter_ids), "tags": list(tags)})

    def archive_meters(self, meter_ids: Sequence[str]) -> JSON:
        return self._json("archiveMeters", json={"meter_ids": list(meter_ids)})

    def unarchive_meters(self, meter_ids: Sequence[str]) -> JSON:
        return self._json("unarchiveMeters", json={"meter_ids": list(meter_ids)})

    def update_partner_meter_ref(self, meter_id: str, partner_reference: str) -> JSON:
        body = {"partner_reference": partner_reference}
        return self._json("updatePartnerMeterRef", {"meter_id": meter_id}, json=body)

    def update_partner_meter_refs(self, references: Mapping[str, str]) -> JSON:
        """Several at once: {meter_id: new partner_reference}."""
        meters = [{"meter_id": meter_id, "partner_reference": ref} for meter_id, ref in references.items()]
        return self._json("updatePartnerMeterRefs", json={"meters": meters})

    # ----- enrollment -----------------------------------------------------------------------------------

    def idle_meter(self, meter_id: str, request: Mapping[str, Any]) -> JSON:
        return self._json("idleMeter", {"meter_id": meter_id}, json=dict(request))

    def disenroll_meter(self, meter_id: str, request: Mapping[str, Any]) -> JSON:
        return self._json("disenrollMeter", {"meter_id": meter_id}, json=dict(request))

    def participate_meter(self, meter_id: str, request: Mapping[str, Any] | None = None) -> JSON:
        return self._json("participateMeter", {"meter_id": meter_id}, json=dict(request or {}))

    def idle_meters(self, meter_ids: Sequence[str], request: Mapping[str, Any]) -> JSON:
        """The same idle period for several meters (at most 100), all or none."""
        return self._json("idleMeters", json={**request, "meter_ids": list(meter_ids)})

    def disenroll_meters(self, meter_ids: Sequence[str], request: Mapping[str, Any]) -> JSON:
        """Several meters disenrolled from `start_time` (at most 100), all or none."""
        return self._json("disenrollMeters", json={**request, "meter_ids": list(meter_ids)})

    def participate_meters(self, meter_ids: Sequence[str], request: Mapping[str, Any] | None = None) -> JSON:
        """Several meters participating again (at most 100), all or none."""
        return self._json("participateMeters", json={**(request or {}), "meter_ids": list(meter_ids)})

    def list_programs(self) -> JSON:
        return self._json("listPrograms")

    # ----- meter jobs -----------------------------------------------------------------------------------

    def create_meter_batch_job(
        self,
        assets: Sequence[Mapping[str, Any]] | None = None,
        *,
        csv_text: str | bytes | None = None,
        update_existing: bool = False,
        file_name: str | None = None,
    ) -> JSON:
        """POST /v1.1/jobs/meters with JSON `assets` or a CSV (`csv_text`): answers {job_id} at once."""
        if (assets is None) == (csv_text is None):
            raise ValueError("give either assets or csv_text")
        params = {"update_existing": _flag(update_existing), "file_name": file_name}
        if csv_text is not None:
            content = csv_text.encode("utf-8") if isinstance(csv_text, str) else csv_text
            return self._json(
                "createMeterBatchJob", params=params, content=content, headers={"Content-Type": "text/csv"}
            )
        return self._json("createMeterBatchJob", params=params, json={"assets": [dict(a) for a in assets or []]})

    def get_meter_batch_job(self, job_id: str, *, page_token: str | None = None) -> JSON:
        return self._json("getMeterBatchJob", {"job_id": job_id}, params={"page_token": page_token})

    def iter_meter_job_assets(self, job_id: str) -> Iterator[JSON]:
        return paginate(lambda token: self.get_meter_batch_job(job_id, page_token=token), "assets")

    def list_meter_batch_jobs(
        self,
        *,
        filters: Sequence[str] = (),
        search_query: str | None = None,
        search_fields: Sequence[str] = (),
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> JSON:
        """`filters` are `key:value[,value]` strings (AND across keys, IN within)."""
        params = _listing(filters, search_query, search_fields, page_size, page_token)
        return self._json("listMeterBatchJobs", params=params)

    def iter_meter_batch_jobs(self, *, filters: Sequence[str] = ()) -> Iterator[JSON]:
        return paginate(lambda token: self.list_meter_batch_jobs(filters=filters, page_token=token), "jobs")

    def list_meter_batch_jobs_filters(self) -> JSON:
        return self._json("listMeterBatchJobsFilters")

    def list_provisional_assets(
        self,
        *,
        filters: Sequence[str] = (),
        search_query: str | None = None,
        search_fields: Sequence[str] = (),
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> JSON:
        params = _listing(filters, search_query, search_fields, page_size, page_token)
        return self._json("listProvisionalAssets", params=params)

    def iter_provisional_assets(self, *, filters: Sequence[str] = ()) -> Iterator[JSON]:
        return paginate(
            lambda token: self.list_provisional_assets(filters=filters, page_token=token), "provisional_assets"
        )

    def list_provisional_assets_filters(self) -> JSON:
        return self._json("listProvisionalAssetsFilters")

    def wait_meter_job(self, job_id: str, *, timeout: float = 600.0, on_poll: OnPoll | None = None) -> MeterJobResult:
        """Poll the job until COMPLETED, COMPLETED_WITH_ERRORS or FAILED; the result holds every asset (all pages)."""
        job = self._wait(lambda: self.get_meter_batch_job(job_id), METER_JOB_FINAL, job_id, timeout, on_poll)
        assets = list(job["assets"])
        token = job.get("next_page_token")
        while token:
            page = self.get_meter_batch_job(job_id, page_token=token)
            assets.extend(page["assets"])
            token = page.get("next_page_token")
        return MeterJobResult(job_id=job_id, status=str(job["status"]), job=job, assets=assets)

    def create_meters(
        self,
        source: Sequence[Mapping[str, Any]] | str | Path,
        *,
        update_existing: bool = False,
        file_name: str | None = None,
        wait: bool = True,
        timeout: float = 600.0,
        on_poll: OnPoll | None = None,
    ) -> MeterJobResult:
        """Create meters in bulk: a list of assets, or a CSV file's path (columns are CreateMeter dot paths).

        Submits one job (`POST /v1.1/jobs/meters`) and, with `wait`, polls it to its final status. A job ending
        FAILED or COMPLETED_WITH_ERRORS is returned, not raised: `result.failed` lists the assets that failed.
        """
        if isinstance(source, str | Path):
            path = Path(source)
            submitted = self.create_meter_batch_job(
                csv_text=path.read_bytes(), update_existing=update_existing, file_name=file_name or path.name
            )
        else:
            submitted = self.create_meter_batch_job(source, update_existing=update_existing, file_name=file_name)
        job_id = str(submitted["job_id"])
        if not wait:
            return MeterJobResult(job_id=job_id, status="PROCESSING", job=submitted, assets=[])
        return self.wait_meter_job(job_id, timeout=timeout, on_poll=on_poll)

    # ----- interval data --------------------------------------------------------------------------------

    def upload_interval_data(self, content: bytes, *, file_name: str | None = None, schema: str = "load") -> JSON:
        """POST /v1.1/interval-data: the raw CSV in the body (at most MAX_DIRECT_UPLOAD_BYTES)."""
        return self._json(
            "uploadIntervalData",
            params={"schema": schema, "file_name": file_name},
            content=content,
            headers={"Content-Type": "text/csv"},
        )

    def create_interval_data_upload_url(self, *, file_name: str | None = None, schema: str = "load") -> JSON:
        """POST /v1.1/interval-data/upload-url: a QUEUED job and a presigned PUT (15 minutes) for its file."""
        body: JSON = {"schema": schema}
        if file_name is not None:
            body["file_name"] = file_name
        return self._json("createIntervalDataUploadUrl", json=body)

    def put_presigned(
        self, upload: Mapping[str, Any], stream: BinaryIO, size: int, progress: Progress | None = None
    ) -> None:
        """PUT `size` bytes from `stream` to an upload-url answer, in chunks (the file is never held in memory).

        S3 wants a Content-Length (no chunked encoding), and exactly the headers the answer lists: they are part
        of the signature. No Authorization header goes to S3.
        """
        headers = {**upload["headers"], "Content-Length": str(size)}

        def chunks() -> Iterator[bytes]:
            sent = 0
            while chunk := stream.read(UPLOAD_CHUNK_BYTES):
                yield chunk
                sent += len(chunk)
                if progress:
                    progress(sent, size)

        response = self._bare.request(
            str(upload.get("method") or "PUT"), upload["upload_url"], content=chunks(), headers=headers
        )
        if response.status_code >= 300:
            raise error_for(response)

    def list_interval_data_uploads(
        self,
        *,
        status: str | None = None,
        file_path: str | None = None,
        start: str | None = None,
        end: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> JSON:
        params = {
            "status": status,
            "file_path": file_path,
            "from": start,
            "to": end,
            "page_size": page_size,
            "page_token": page_token,
        }
        return self._json("listIntervalDataUploads", params=params)

    def iter_interval_data_uploads(self, *, status: str | None = None, file_path: str | None = None) -> Iterator[JSON]:
        return paginate(
            lambda token: self.list_interval_data_uploads(status=status, file_path=file_path, page_token=token),
            "uploads",
        )

    def get_interval_upload(self, job_id: str) -> JSON:
        """GET /v1.1/jobs/interval-data-uploads/{job_id}: the upload job (status, counters, the first 100 errors)."""
        return self._json("listIntervalDataUploadErrors", {"job_id": job_id})

    def interval_data_file_preview(self, job_id: str) -> JSON:
        return self._json("intervalDataFilePreview", {"job_id": job_id})

    def interval_data_presigned_url(self, job_id: str, file: Literal["original", "errors"] = "original") -> str:
        """Where the job's file (or its full error report) can be downloaded for 5 minutes (the 302's Location)."""
        response = self._call("intervalDataPresignedUrl", {"job_id": job_id}, params={"file": file})
        location = response.headers.get("location")
        if response.status_code != 302 or not location:
            raise error_for(response)
        return str(location)

    def download_interval_file(
        self, job_id: str, out: BinaryIO, file: Literal["original", "errors"] = "original"
    ) -> int:
        """Stream the job's file (or, with file="errors", its `<job_id>.errors.csv`) into `out`; returns the bytes."""
        written = 0
        with self._bare.stream("GET", self.interval_data_presigned_url(job_id, file)) as response:
            if response.status_code >= 300:
                response.read()
                raise error_for(response)
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        return written

    def interval_upload_errors(self, job_id: str) -> list[dict[str, str]]:
        """Every error of a FAILED upload, from its full report (not only the first 100 the job lists)."""
        report = io.BytesIO()
        self.download_interval_file(job_id, report, "errors")
        return list(csv.DictReader(io.StringIO(report.getvalue().decode("utf-8-sig"))))

    def wait_interval_upload(self, job_id: str, *, timeout: float = 900.0, on_poll: OnPoll | None = None) -> JSON:
        """Poll the upload job until COMPLETED or FAILED."""
        return self._wait(lambda: self.get_interval_upload(job_id), UPLOAD_FINAL, job_id, timeout, on_poll)

    def upload_intervals(
        self,
        path: str | Path,
        *,
        file_name: str | None = None,
        progress: Progress | None = None,
        wait: bool = True,
        timeout: float = 900.0,
        on_poll: OnPoll | None = None,
        fetch_errors: bool = True,
        direct_limit: int = MAX_DIRECT_UPLOAD_BYTES,
    ) -> UploadResult:
        """Upload an interval-data file of any size and (with `wait`) wait for its job.

        Up to `direct_limit` bytes the file goes in the body of POST /v1.1/interval-data; beyond, through a
        presigned PUT, streamed from disk. The file's name is kept when the API accepts it. A FAILED job is
        returned, not raised; with `fetch_errors` its result holds every error (the full errors.csv).
        """
        source = Path(path)
        size = source.stat().st_size
        name = file_name if file_name is not None else (source.name if FILE_NAME.fullmatch(source.name) else None)
        if size <= direct_limit:
            job_id = str(self.upload_interval_data(source.read_bytes(), file_name=name)["job_id"])
            if progress:
                progress(size, size)
        else:
            upload = self.create_interval_data_upload_url(file_name=name)
            job_id = str(upload["job_id"])
            with source.open("rb") as stream:
                self.put_presigned(upload, stream, size, progress)
        if not wait:
            return UploadResult(job_id=job_id, status="QUEUED", job={"job_id": job_id}, errors=[])
        job = self.wait_interval_upload(job_id, timeout=timeout, on_poll=on_poll)
        errors: list[dict[str, str]] = []
        if fetch_errors and job["status"] == "FAILED" and job.get("error_csv_file_path"):
            errors = self.interval_upload_errors(job_id)
        return UploadResult(job_id=job_id, status=str(job["status"]), job=job, errors=errors)

    def search_missing_interval_data(
        self, filters: Mapping[str, Any] | None = None, *, page_size: int | None = None, page_token: str | None = None
    ) -> JSON:
        """POST /v1.1/missing-interval-data/search (the gaps); `filters`: SearchMissingIntervalDataRequest."""
        return self._json("searchMissingIntervalData", json=_body(filters, page_size=page_size, page_token=page_token))

    def iter_missing_intervals(self, filters: Mapping[str, Any] | None = None) -> Iterator[JSON]:
        return paginate(lambda token: self.search_missing_interval_data(filters, page_token=token), "missing_intervals")

    # ----- webhooks -------------------------------------------------------------------------------------

    def list_webhooks(self) -> JSON:
        return self._json("listWebhooks")

    def create_webhook(
        self, receiver_url: str, event_types: Sequence[str], headers: Sequence[Mapping[str, str]] = ()
    ) -> JSON:
        """The answer's `signing_secret` is shown this once: keep it to verify deliveries."""
        body = {"receiver_url": receiver_url, "event_types": list(event_types), "headers": [dict(h) for h in headers]}
        return self._json("createWebhook", json=body)

    def update_webhook(
        self, webhook_id: str, receiver_url: str, event_types: Sequence[str], headers: Sequence[Mapping[str, str]] = ()
    ) -> JSON:
        body = {"receiver_url": receiver_url, "event_types": list(event_types), "headers": [dict(h) for h in headers]}
        return self._json("updateWebhook", {"webhook_id": webhook_id}, json=body)

    def delete_webhook(self, webhook_id: str) -> JSON:
        return self._json("deleteWebhook", {"webhook_id": webhook_id})

    def test_webhook(self, webhook_id: str, event_type: str | None = None) -> JSON:
        body = {"webhook_event_type": event_type} if event_type else {}
        return self._json("testWebhook", {"webhook_id": webhook_id}, json=body)

    def list_webhook_deliveries(
        self, webhook_id: str, *, page_size: int | None = None, page_token: str | None = None
    ) -> JSON:
        params = {"page_size": page_size, "page_token": page_token}
        return self._json("listWebhookDeliveries", {"webhook_id": webhook_id}, params=params)

    def iter_webhook_deliveries(self, webhook_id: str) -> Iterator[JSON]:
        return paginate(lambda token: self.list_webhook_deliveries(webhook_id, page_token=token), "deliveries")

    def redeliver_webhook_event(self, webhook_id: str, webhook_event_id: str) -> JSON:
        ids = {"webhook_id": webhook_id, "webhook_event_id": webhook_event_id}
        return self._json("redeliverWebhookEvent", ids)

    # ----- Connect --------------------------------------------------------------------------------------

    def create_connect_link(
        self,
        ref_id: str,
        transmission_region: str,
        *,
        variant: str | None = None,
        utility_id: str | None = None,
    ) -> JSON:
        body: JSON = {"ref_id": ref_id, "transmission_region": transmission_region}
        if variant:
            body["variant"] = variant
        if utility_id:
            body["utility_id"] = utility_id
        return self._json("createConnectLink", json=body)

    def get_connections(self, *, ref_id: str | None = None, page_token: str | None = None, **times: str) -> JSON:
        """`times`: started_after, started_before, last_interaction_after, last_interaction_before (RFC 3339)."""
        return self._json("getConnections", params={"ref_id": ref_id, "page_token": page_token, **times})

    def iter_connections(self, *, ref_id: str | None = None, **times: str) -> Iterator[JSON]:
        return paginate(lambda token: self.get_connections(ref_id=ref_id, page_token=token, **times), "connections")

    def revoke_authorization(self, authorization_id: str) -> JSON:
        return self._json("revokeAuthorization", {"authorization_id": authorization_id})

    # ----- waiting --------------------------------------------------------------------------------------

    def _wait(
        self,
        fetch: Callable[[], JSON],
        final: frozenset[str],
        job_id: str,
        timeout: float,
        on_poll: OnPoll | None,
    ) -> JSON:
        deadline = time.monotonic() + timeout
        pause = min(FIRST_POLL_SECONDS, self.poll_interval)
        while True:
            job = fetch()
            if on_poll:
                on_poll(job)
            if job["status"] in final:
                return job
            if time.monotonic() >= deadline:
                raise JobTimeout(job_id, str(job["status"]), timeout)
            time.sleep(pause)
            pause = min(pause * 2, self.poll_interval)  # a short job is seen done soon, a long one polled gently


def paginate(fetch: Callable[[str | None], JSON], items: str) -> Iterator[JSON]:
    """Every item of a paged listing: `fetch(page_token)` answers a page holding `items` and, when more may
    follow, `next_page_token` (every listing of the API pages this way, in the query or the search body)."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page[items]
        token = page.get("next_page_token")
        if not token:
            return


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _body(filters: Mapping[str, Any] | None, **paging: Any) -> JSON:
    return {**(filters or {}), **{name: value for name, value in paging.items() if value is not None}}


def _listing(
    filters: Sequence[str],
    search_query: str | None,
    search_fields: Sequence[str],
    page_size: int | None,
    page_token: str | None,
) -> JSON:
    """The query of the job and provisional-asset listings (`filter` and `search_fields` repeat)."""
    return {
        "filter": list(filters) or None,
        "search_query": search_query,
        "search_fields": list(search_fields) or None,
        "page_size": page_size,
        "page_token": page_token,
    }
