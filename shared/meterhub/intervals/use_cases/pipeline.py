"""One dropped interval file -> one upload job: validate every row, store the file whole or not at all, file
the original and the reports.

A file is the unit (as in Leap): pass 1 streams the object and validates every row (errors stream to a
reject file); only when the file has no error does pass 2 stream it again and merge its day records. Merges
are idempotent (same file -> same slots), so a run killed halfway and retried ends in the state of one clean
run. S3 delivers at least once: the object version is claimed once (intervals/adapters/uploads.py), and a delivery for a
finished job does nothing.
"""

from __future__ import annotations

import io
import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO

from meterhub.intervals.ports import IntervalStore, MeterSource, UploadRepository
from meterhub.intervals.records import STORED_ERRORS, UPLOAD_TERMINAL, UploadJob, UploadStatus
from meterhub.intervals.rules.model import MeterLookup, RowError
from meterhub.intervals.rules.paths import Drop, parse_drop, partner_path
from meterhub.intervals.rules.slots import DaySlots
from meterhub.intervals.rules.validation_report import ValidationReport
from meterhub.intervals.rules.validator import IntervalFileValidator
from meterhub.intervals.use_cases.bounded_merges import merge_batches
from meterhub.intervals.use_cases.errors_csv import ErrorsCsvWriter
from meterhub.intervals.use_cases.meter_lookup import repository_lookup
from meterhub.platform.errors import NotFound
from meterhub.platform.object_store import ObjectInfo, ObjectStore
from meterhub.platform.observability import (
    INTERVAL_FILES,
    INTERVAL_INGEST_LAG,
    INTERVAL_ROWS_INGESTED,
    INTERVAL_ROWS_REJECTED,
    record_metric,
)

PROGRESS_ROWS = 100_000
STORE_BATCH_ROWS = 5_000_000
STORE_DAY_ITEMS = 10_000
"""Pass 2 groups up to 10,000 meter-days (~35 MB) before writing them, so each meter-day of a file is written
about once whatever the row order (a time-ordered file of 1,000 meters holds ten days per batch)."""
SPOOL_BYTES = 4 * 1024 * 1024
"""Reject rows beyond this go to a temporary file on disk, so a file full of errors never fills memory."""


class RejectFile:
    """The errors CSV (`errors_csv.ErrorsCsvWriter`'s rows) of a file ingested in one invocation, written as
    errors stream out of the validator: in memory up to `SPOOL_BYTES`, then on the function's /tmp.

    Spooling is safe here because the file, and so its CSV (about 0.9x the file when every row is bad), is at
    most the fan-out threshold (`IntervalFanOutBytes`, 50 MB), well within /tmp's 512 MB; a larger file is
    fanned out, and its CSV never touches disk (`errors_csv.errors_csv_stream`). (With the fan-out turned off,
    0, every file comes here and /tmp bounds the CSV.)"""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")  # noqa: SIM115
        self._text = io.TextIOWrapper(self._file, encoding="utf-8", newline="")
        self._writer = ErrorsCsvWriter(self._text)

    def write(self, error: RowError) -> None:
        self._writer.write(error)

    def body(self) -> IO[bytes]:
        """The CSV written so far, from its first byte: handed to `ObjectStore.put_file`, which streams it to
        the bucket, so the report is never one bytes object in memory however many errors it holds."""
        self._text.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._text.close()


Within = Callable[[str, Callable[[], UploadJob]], UploadJob | None]
"""Runs a file's ingestion (the work) within the bound of workers of its partner (the id): the work's result, or
None when every slot was held and the file was queued again to wait (use_cases.partner_workers)."""


@dataclass(frozen=True)
class Ingestion:
    uploads: UploadRepository
    intervals: IntervalStore
    objects: ObjectStore
    meters: MeterSource
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    write_concurrency: int = 1
    """Day merges in flight at once in pass 2 (`bounded_merges`); the function sets it from its settings."""
    fan_out: Callable[[Drop, ObjectInfo, UploadJob], UploadJob] | None = None
    """Starts a file larger than `fan_out_bytes` on the fan-out (`use_cases.fanout`) instead of `_run`."""
    fan_out_bytes: int = 0

    def ingest(
        self, key: str, version: str | None = None, created_at: datetime | None = None, within: Within | None = None
    ) -> UploadJob | None:
        """Ingest the object at `key` (a drop) and return its job; None when `key` is not a drop. `created_at`:
        when S3 says the object was created, the start of the IntervalIngestLag metric. `within`: a file ingested
        in one invocation runs within its partner's bound of workers; when it has to wait, its job is returned as
        claimed, not terminal (QUEUED, or PROCESSING after an attempt that crashed): the partner sees the file
        accepted and pending."""
        drop = parse_drop(key)
        if drop is None:
            return None
        try:
            info = self.objects.info(key, version)
        except NotFound:
            return None  # already filed by an earlier delivery (the job says how it ended)
        job = self._claim(drop, info)
        if job.status in UPLOAD_TERMINAL:
            return job
        if self.fan_out is not None and info.size > self.fan_out_bytes:
            # ends later, in another invocation (`finish`); its tasks are bounded one by one
            return self.fan_out(drop, info, self._save(job, status=UploadStatus.PROCESSING))

        def run() -> UploadJob:
            return self._ended(self._run(drop, info, self._save(job, status=UploadStatus.PROCESSING)), created_at)

        if within is None:
            return run()
        ended = within(drop.partner_id, run)
        return job if ended is None else ended  # None: it waits

    def finish(
        self,
        drop: Drop,
        info: ObjectInfo,
        job: UploadJob,
        report: ValidationReport,
        days: int,
        errors_csv: IO[bytes] | None,
    ) -> UploadJob:
        """End a job whose file was validated (and, if clean, stored) elsewhere: file it as `_run` does.
        `errors_csv`: a failed file's (`RejectFile.body`); None for a clean file, which has none."""
        return self._ended(self._file(drop, info, job, report, days, errors_csv), None)

    def give_up(
        self, key: str, version: str | None, reason: str, created_at: datetime | None = None
    ) -> UploadJob | None:
        """After the last failed attempt: end the job FAILED with the reason and file the original under
        failed/ with a feedback report, so nothing is left waiting and nothing fails silently.

        Days already merged by a clean file's interrupted store are not rolled back (merges are in place);
        the reason says so, and uploading the same file again completes it (merging is idempotent)."""
        drop = parse_drop(key)
        if drop is None:
            return None
        try:
            info = self.objects.info(key, version)
        except NotFound:
            return None
        job = self._claim(drop, info)
        if job.status in UPLOAD_TERMINAL:
            return job
        if job.storing:
            reason += (
                "; the file had no errors and part of it was already stored: upload the same file again to "
                "store the rest (storing a file twice gives the same data)"
            )
        feedback_key = drop.report_key(False, job.job_id, "feedback")
        feedback = {"job_id": job.job_id, "file": drop.partner_path, "status": "FAILED", "reason": reason}
        self.objects.put(feedback_key, json.dumps(feedback, indent=2).encode(), "application/json")
        moved = drop.moved_key(False)
        self.objects.move(drop.key, moved, info.version)
        failed = self._save(
            job,
            status=UploadStatus.FAILED,
            failure_reason=reason,
            current_file_path=partner_path(moved),
            feedback_file_path=partner_path(feedback_key),
        )
        return self._ended(failed, created_at)

    def _ended(self, job: UploadJob, created_at: datetime | None) -> UploadJob:
        """The job just became terminal: count the file, its rows and how long it took since S3 had it."""
        record_metric(INTERVAL_FILES, Status=job.status.value)
        record_metric(INTERVAL_ROWS_INGESTED, job.rows_valid if job.status is UploadStatus.COMPLETED else 0)
        record_metric(INTERVAL_ROWS_REJECTED, job.rows_invalid)
        if created_at is not None:
            record_metric(INTERVAL_INGEST_LAG, max(0.0, (job.updated_at - created_at).total_seconds()))
        return job

    # ----- steps ------------------------------------------------------------------------------------------
    def _claim(self, drop: Drop, info: ObjectInfo) -> UploadJob:
        proposed = _job_id(info.metadata.get("job-id"))
        announced = self.uploads.get(drop.partner_id, proposed)
        if announced is not None and (announced.object_key != drop.key or announced.status is not UploadStatus.QUEUED):
            # metadata naming another file's job, or a job already used (a presigned URL PUT twice): a new job
            proposed = str(uuid.uuid4())
        job_id = self.uploads.claim_object(drop.partner_id, drop.key, info.version or info.etag, proposed)
        job = self.uploads.get(drop.partner_id, job_id)
        if job is not None:
            return job
        now = self.now()
        job = UploadJob(
            job_id=job_id,
            partner_id=drop.partner_id,
            uploaded_file_path=drop.partner_path,
            current_file_path=drop.partner_path,
            object_key=drop.key,
            object_version=info.version,
            uploaded_at=now,
            updated_at=now,
        )
        self.uploads.save(job)
        return job

    def _run(self, drop: Drop, info: ObjectInfo, job: UploadJob) -> UploadJob:
        started = self.now()
        lookup = repository_lookup(self.meters, drop.partner_id)
        rejects = RejectFile()
        try:
            check = IntervalFileValidator(lookup, now=started, on_error=rejects.write)
            for count, _ in enumerate(check.rows(self._body(drop, info)), start=1):
                if count % PROGRESS_ROWS == 0:  # counters a partner can poll while a large file is checked
                    job = self._save(
                        job,
                        rows_total=check.report.rows_total,
                        rows_valid=check.report.rows_valid,
                        rows_invalid=check.report.rows_invalid,
                    )
            report = check.report
            if report.ok:
                job = self._save(job, storing=True)
            days = self._store(drop, info, lookup, started) if report.ok else 0
            return self._file(drop, info, job, report, days, rejects.body())
        finally:
            rejects.close()

    def _body(self, drop: Drop, info: ObjectInfo) -> Iterator[bytes]:
        return self.objects.chunks(drop.key, info.version)

    def _store(self, drop: Drop, info: ObjectInfo, lookup: MeterLookup, started: datetime) -> int:
        """Pass 2: the file is clean; merge its days. Returns the number of day records written."""
        store = IntervalFileValidator(lookup, now=started)
        batches = store.day_batches(self._body(drop, info), batch_rows=STORE_BATCH_ROWS, max_day_items=STORE_DAY_ITEMS)
        partner_id = drop.partner_id

        def merge(meter_id: str, day: date, slots: DaySlots) -> None:
            self.intervals.merge(partner_id, meter_id, day, slots)

        return merge_batches(batches, merge, self.write_concurrency)

    def _file(
        self,
        drop: Drop,
        info: ObjectInfo,
        job: UploadJob,
        report: ValidationReport,
        days: int,
        errors_csv: IO[bytes] | None,
    ) -> UploadJob:
        accepted = report.ok
        status = UploadStatus.COMPLETED if accepted else UploadStatus.FAILED
        summary = [item.as_dict() for item in report.error_summary()]
        feedback_key = drop.report_key(accepted, job.job_id, "feedback")
        errors_key = None if accepted else drop.report_key(accepted, job.job_id, "errors.csv")
        feedback = {
            "job_id": job.job_id,
            "file": drop.partner_path,
            "status": status.value,
            "rows_total": report.rows_total,
            "rows_valid": report.rows_valid,
            "rows_invalid": report.rows_invalid,
            "errors_total": report.errors_total,
            "error_summary": summary,
            "ignored_columns": report.unknown_columns,
            "days_written": days,
            "note": "the file was stored" if accepted else "nothing of the file was stored: fix it and upload again",
        }
        self.objects.put(feedback_key, json.dumps(feedback, indent=2).encode(), "application/json")
        if errors_key:
            if errors_csv is None:
                raise ValueError("a failed file is filed with its errors CSV")
            self.objects.put_file(errors_key, errors_csv, "text/csv")
        moved = drop.moved_key(accepted)
        self.objects.move(drop.key, moved, info.version)
        return self._save(
            job,
            status=status,
            current_file_path=partner_path(moved),
            rows_total=report.rows_total,
            rows_valid=report.rows_valid,
            rows_invalid=report.rows_invalid,
            days_written=days,
            errors_total=report.errors_total,
            error_summary=summary,
            errors=[error.as_dict() for error in report.errors[:STORED_ERRORS]],
            unknown_columns=report.unknown_columns,
            error_csv_file_path=partner_path(errors_key) if errors_key else None,
            feedback_file_path=partner_path(feedback_key),
        )

    def _save(self, job: UploadJob, **changes: object) -> UploadJob:
        updated = job.model_copy(update={**changes, "updated_at": self.now()})
        self.uploads.save(updated)
        return updated


def _job_id(value: str | None) -> str:
    """The job id an upload announced in the object's metadata, or a new one."""
    try:
        return str(uuid.UUID(value)) if value else str(uuid.uuid4())
    except ValueError:
        return str(uuid.uuid4())
