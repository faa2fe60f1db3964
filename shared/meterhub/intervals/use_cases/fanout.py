"""A large interval file ingested across invocations: the steps of `rules.piece_checks` run as queued tasks,
their results staged in the data bucket, each step joined by `UploadRepository.mark_part_done`.

The flow (one task per part; every task idempotent, so SQS's redeliveries and retries are harmless):

    start  (the ingest function, for a file over the fan-out threshold): the plan (pieces, buckets, the
           reference time) written once to `plan.json`; a `check` task per piece
    check  piece i: validated; its summary and its rows per meter bucket staged; the last piece done queues a
           `group` task per bucket
    group  bucket b: the pieces' masks and day records put together; duplicates across pieces become seeds; the
           last bucket done either queues a `recheck` per seeded piece, or `settle`s
    recheck piece i with its seed: its summary restaged with the duplicates on their lines; the last one
           `settle`s
    settle the pieces' summaries assembled into one report (`piece_checks.assemble`): a file with an error
           ends FAILED with its errors CSV (streamed to the bucket as it is generated) and nothing stored; a
           clean file queues a `merge` task per bucket
    merge  bucket b: its day records merged (`bounded_merges`), counted (`days_written`); the last bucket done
           assembles the report again and ends the job COMPLETED

Why SQS and not Step Functions Distributed Map: the file's pieces are already independent tasks with their own
retries, and the join is one conditional DynamoDB update, so SQS gives everything needed at a cost per file of
a few requests per piece ($0.40 per million); a Distributed Map run costs $0.025 per 1,000 state transitions
plus a child execution per item and adds a state machine to deploy and operate. Concurrency is the consuming
function's reserved concurrency (and the event source's maximum concurrency), one number per stage. The local
runner already relays SQS to functions faithfully (visibility, receive counts, redrive), where moto runs a state
machine only with `execute_state_machine` on and without Map's item batching and failure tolerance.

The join (`_joined`): each part, once its results are staged, is recorded done (`mark_part_done`, atomic); the
call that records the step's last part runs the join, then records the join itself done (a `<step>-joined`
part). Two parts finishing at the same moment both count and exactly one of them records the last one, so the
join runs once. A part delivered again after the step is complete runs the join only when the join was never
recorded: its first delivery died between recording the part and finishing the join, so nothing is left waiting.
(If that first delivery is merely slow, both join: harmless, because every step is idempotent — the same inputs
stage the same results, merges are idempotent — and a finished job's tasks do nothing.)

What a task holds: never every piece's results at once. The settle and merge joins read the pieces' summaries
one at a time as `assemble` consumes them (`_summaries`). A failed file's settle reads them twice: once for the
report, then again as its errors CSV is generated (`piece_checks.assembled_errors` through
`errors_csv.errors_csv_stream`), a 64 KiB chunk at a time as the upload (`ObjectStore.put_file`) reads it. So a
file whose every row is bad (a 1 GB file: some 10 million errors, a 0.9 GB CSV) costs the settling invocation
one piece's summary, the report's first `MAX_ERRORS` errors and its counts, a chunk of CSV and the multipart
upload's parts in flight (at most 40 MiB, the S3 adapter's bound), whatever the file's size; the CSV goes from
memory to the bucket and never touches the function's disk (/tmp, 512 MB). An upload that fails midway is
aborted, leaving no errors object, and the settle raises so the queue retries it; the retry generates the same
CSV again (the summaries are staged and never change). An invocation killed mid-upload (a timeout) sends no
abort: the data bucket's `AbortIncompleteMultipartUploads` lifecycle rule removes its parts after 7 days, and
the retry uploads the CSV whole. A group task reads every piece's record of its bucket one at a time and holds
what the bucket adds up to (its day records); a recheck reads the buckets' lists of seeded pieces and its own
seeds, never their day records; a merge reads its own bucket; the merge join takes the buckets' `days_written`
from their recorded counts instead of reading their day records again. A file larger than
INTERVAL_FAN_OUT_BUCKETS times 64 MiB gets more buckets (`buckets_for`), so a bucket's day records stay about
64 MiB of the file's worth whatever its size. What still grows with the file in one invocation: one GET per
piece in the group tasks and the two joins (two in a failed file's settle), one PUT per bucket in a check task
(16 at a time), and lists of piece
numbers (the plan, the seeded pieces).

What is staged (`interval-work/<pid>/<job_id>/`): `plan.json`; `check-<i>.json` (a piece's counts and
errors); `check-<i>-<b>.json` (its masks and day records of bucket b); `group-<b>.json` (a bucket's day
records); `seeded-<b>.json` (the pieces that repeat an earlier piece's slots of bucket b) and
`seed-<i>-<b>.json` (those earlier slots, piece i's seed from bucket b). They stay after the job ends: the
data bucket's `ExpireIntervalWork` lifecycle rule deletes them after 7 days (longer than a task can wait on its
queue, so a running file never loses them), a crashed file's too. Outside `partners/` for two reasons: a
lifecycle rule filters on a key prefix, which cannot skip the partner id; and the bucket notifies the ingest
function of every object created under `partners/`, which would make each staged object an ingest invocation
that finds it is not a drop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from meterhub.intervals.ports import IntervalStore, MeterSource, UploadRepository
from meterhub.intervals.records import UPLOAD_TERMINAL, UploadJob
from meterhub.intervals.rules.codes import ErrorCode
from meterhub.intervals.rules.model import RowError
from meterhub.intervals.rules.paths import Drop, parse_drop
from meterhub.intervals.rules.piece_checks import (
    Masks,
    PieceCheck,
    assemble,
    assembled_errors,
    check_piece,
    group_bucket,
)
from meterhub.intervals.rules.pieces import Piece, header_of, plan
from meterhub.intervals.rules.slots import DayKey, DaySlots
from meterhub.intervals.use_cases.bounded_merges import merge_batches
from meterhub.intervals.use_cases.errors_csv import errors_csv_stream
from meterhub.intervals.use_cases.meter_lookup import repository_lookup
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.platform.errors import NotFound
from meterhub.platform.object_store import ObjectInfo, ObjectStore
from meterhub.platform.work_queue import WorkQueue

WORK_PREFIX = "interval-work"
DAYS_WRITTEN = "days_written"
"""The merge step's count (`mark_part_done`): each bucket's day records merged, summed for the job's report."""
CHECK_STEP = "check"
"""The step whose parts (the file's pieces) are recorded done with their row counts: the job's progress
(`upload_jobs.with_progress`)."""


MAX_BUCKETS = 1000
BUCKET_BYTES = 64 * 1024 * 1024
"""About how much of a file one meter bucket takes: its group task holds the bucket's day records, measured at
about 1.75 times the bytes (117 MB of heap for a 67 MB share: `benchmarks/ingest_scale.py`)."""
STAGING_CONCURRENCY = 16
"""A check task's puts of its buckets' records in flight at once: one round trip each, so a file of many buckets
does not make its check tasks wait on them one after the other."""


def buckets_for(size: int, configured: int, bucket_bytes: int = BUCKET_BYTES) -> int:
    """A file's meter buckets: the configured number (INTERVAL_FAN_OUT_BUCKETS), or for a larger file one per
    `bucket_bytes` of it, so a bucket's day records stay about that share whatever the file's size (its group and
    merge tasks' work and memory do not grow with the file), up to `MAX_BUCKETS` (a 64 GB file). The price: each
    check task stages one record per bucket (`STAGING_CONCURRENCY` at a time), and each group task reads one per
    piece. (Meters are bucketed by id, so a bucket's share is even across many meters, not within one meter's.)"""
    return min(MAX_BUCKETS, max(configured, -(-size // bucket_bytes)))


@dataclass(frozen=True)
class _Plan:
    key: str
    version: str | None
    size: int
    header_bytes: int
    piece_bytes: int
    pieces: int
    buckets: int
    now: datetime

    def piece(self, header: bytes, index: int) -> Piece:
        return plan(self.size, header, self.piece_bytes)[index]


@dataclass(frozen=True)
class FanOut:
    ingestion: Ingestion
    """Files the original and the reports at the end, as for a file ingested in one invocation."""
    tasks: WorkQueue
    piece_bytes: int
    buckets: int
    bucket_bytes: int = BUCKET_BYTES

    @property
    def _uploads(self) -> UploadRepository:
        return self.ingestion.uploads

    @property
    def _objects(self) -> ObjectStore:
        return self.ingestion.objects

    @property
    def _intervals(self) -> IntervalStore:
        return self.ingestion.intervals

    @property
    def _meters(self) -> MeterSource:
        return self.ingestion.meters

    # ----- start ----------------------------------------------------------------------------------------------
    def start(self, drop: Drop, info: ObjectInfo, job: UploadJob) -> UploadJob:
        """Plan the file once (a repeated start reuses the plan) and queue a check per piece."""
        plan_ = self._plan(drop.partner_id, job.job_id)
        if plan_ is None:
            header = header_of(lambda offset: self._objects.chunks_from(info.key, info.version, offset))
            pieces = len(plan(info.size, header, self.piece_bytes))
            buckets = buckets_for(info.size, self.buckets, self.bucket_bytes)
            plan_ = _Plan(
                info.key, info.version, info.size, len(header), self.piece_bytes, pieces, buckets, job.updated_at
            )
            self._put(drop.partner_id, job.job_id, "plan.json", _plan_record(plan_))
        job = job.model_copy(update={"pieces_total": plan_.pieces})
        self._uploads.save(job)
        self._queue(job, CHECK_STEP, range(plan_.pieces))
        return job

    # ----- the tasks --------------------------------------------------------------------------------------------
    def handle(self, task: dict[str, Any]) -> None:
        """Run one queued task (see the module docstring); a finished job's tasks do nothing."""
        job = self._uploads.get(task["partner_id"], task["job_id"])
        if job is None or job.status in UPLOAD_TERMINAL:
            return
        plan_ = self._plan(job.partner_id, job.job_id)
        if plan_ is None:
            raise NotFound("The fan-out plan of this job is missing", {"job_id": job.job_id})
        step, part = task["step"], int(task["part"])
        if step in (CHECK_STEP, "recheck"):
            self._check(job, plan_, part, recheck=step == "recheck")
        elif step == "group":
            self._group(job, plan_, part)
        elif step == "merge":
            self._merge(job, plan_, part)
        else:
            raise ValueError(f"unknown fan-out step {step!r}")

    def give_up(self, task: dict[str, Any], reason: str) -> UploadJob | None:
        """After a task's last failed attempt: end its job FAILED with the reason (as a file's last attempt
        does, `Ingestion.give_up`), so no fanned-out file waits forever on a part that cannot finish."""
        plan_ = self._plan(task["partner_id"], task["job_id"])
        if plan_ is None:
            return None
        return self.ingestion.give_up(plan_.key, plan_.version, reason)

    def _check(self, job: UploadJob, plan_: _Plan, index: int, *, recheck: bool) -> None:
        header = header_of(self._reader(plan_))
        seed = self._seed(job, plan_, index) if recheck else None
        check = check_piece(
            self._reader(plan_),
            plan_.piece(header, index),
            header,
            repository_lookup(self._meters, job.partner_id),
            now=plan_.now,
            buckets=plan_.buckets,
            seed=seed,
        )
        if not recheck:

            def stage(bucket: int) -> None:
                staged = {"seen": _masks_record(check.seen.get(bucket, {})), "days": _days_record(check.days, bucket)}
                self._put(job.partner_id, job.job_id, f"check-{index}-{bucket}.json", staged)

            with ThreadPoolExecutor(max_workers=STAGING_CONCURRENCY) as pool:
                list(pool.map(stage, range(plan_.buckets)))  # list(): a failed put raises here
        self._put(job.partner_id, job.job_id, f"check-{index}.json", _summary_record(check))
        if recheck:
            rechecks = self._rechecks(job, plan_)
            self._joined(job, "recheck", index, len(rechecks), lambda: self._settle(job, plan_))
        else:
            valid, invalid = check.rows_valid, check.rows_invalid
            counts = {"rows_total": valid + invalid, "rows_valid": valid, "rows_invalid": invalid}
            self._joined(
                job, CHECK_STEP, index, plan_.pieces, lambda: self._queue(job, "group", range(plan_.buckets)), counts
            )

    def _group(self, job: UploadJob, plan_: _Plan, bucket: int) -> None:
        staged = (self._get(job, f"check-{index}-{bucket}.json") for index in range(plan_.pieces))
        group = group_bucket((_masks(item["seen"]), _days(item["days"])) for item in staged)
        for index, seed in group.seeds.items():
            self._put(job.partner_id, job.job_id, f"seed-{index}-{bucket}.json", _masks_record(seed))
        self._put(job.partner_id, job.job_id, f"seeded-{bucket}.json", {"pieces": sorted(group.seeds)})
        record = {"days": _days_record({bucket: group.days}, bucket)}
        self._put(job.partner_id, job.job_id, f"group-{bucket}.json", record)

        def join() -> None:
            rechecks = self._rechecks(job, plan_)
            if rechecks:
                self._queue(job, "recheck", rechecks)
            else:
                self._settle(job, plan_)

        self._joined(job, "group", bucket, plan_.buckets, join)

    def _settle(self, job: UploadJob, plan_: _Plan) -> None:
        """Every piece is checked (and rechecked): fail the file with its report, or queue its merges.

        Two passes over the pieces' summaries, each read one at a time as `assemble` asks for them. The first
        only assembles the report (counts, the first errors): a clean file's merges are queued. A failed file's
        errors CSV is the second pass (`assembled_errors`), generated as `ObjectStore.put_file` reads it
        (`errors_csv_stream`): never on the function's disk nor whole in memory. This invocation holds one
        piece's summary, the report, a chunk of CSV and the upload's parts in flight (the S3 adapter bounds
        them), whatever the file's size or number of errors. An upload that fails midway leaves no errors
        object (the multipart upload is aborted) and raises, so the queue delivers the task again, whose join
        generates the same CSV again (see `_joined`)."""
        report = assemble(self._summaries(job, plan_))
        if report.ok:
            self.ingestion.uploads.save(job.model_copy(update={"storing": True, **_counts(report)}))
            self._queue(job, "merge", range(plan_.buckets))
            return
        drop, info = self._drop(plan_, job)
        errors_csv = errors_csv_stream(assembled_errors(self._summaries(job, plan_)))
        try:
            self.ingestion.finish(drop, info, job, report, 0, errors_csv)
        finally:
            errors_csv.close()

    def _merge(self, job: UploadJob, plan_: _Plan, bucket: int) -> None:
        days = _days(self._get(job, f"group-{bucket}.json")["days"])
        partner_id = job.partner_id

        def merge(meter_id: str, day: date, slots: DaySlots) -> None:
            self._intervals.merge(partner_id, meter_id, day, slots)

        merge_batches([days], merge, self.ingestion.write_concurrency)
        written = len(days)
        del days  # the join below reads summaries: not with this bucket's day records still held

        def join() -> None:
            report = assemble(self._summaries(job, plan_))
            progress = self._uploads.step_progress(job.partner_id, job.job_id, "merge")
            drop, info = self._drop(plan_, job)
            self.ingestion.finish(drop, info, job, report, progress.counts.get(DAYS_WRITTEN, 0), None)

        self._joined(job, "merge", bucket, plan_.buckets, join, {DAYS_WRITTEN: written})

    def _joined(
        self,
        job: UploadJob,
        step: str,
        part: int,
        parts: int,
        join: Callable[[], None],
        counts: dict[str, int] | None = None,
    ) -> None:
        """Record `part` of `step` done, with its `counts` (the job's progress, `upload_jobs.with_progress`); run
        `join` when it was the last (see the module docstring)."""
        done = self._uploads.mark_part_done(job.partner_id, job.job_id, step, part, counts)
        if done.done < parts:
            return
        if not done.first and self._uploads.step_progress(job.partner_id, job.job_id, f"{step}-joined").done:
            return  # a repeated delivery: the join already ran
        join()
        self._uploads.mark_part_done(job.partner_id, job.job_id, f"{step}-joined", 0)

    # ----- helpers ----------------------------------------------------------------------------------------------
    def _summaries(self, job: UploadJob, plan_: _Plan) -> Iterator[PieceCheck]:
        """The pieces' summaries in file order, each read only when asked for (`assemble` holds one at a time)."""
        for index in range(plan_.pieces):
            yield _summary(index, self._get(job, f"check-{index}.json"))

    def _rechecks(self, job: UploadJob, plan_: _Plan) -> list[int]:
        """The pieces with a seed: a list of piece numbers per bucket, not the seeds or the day records."""
        seeded: set[int] = set()
        for bucket in range(plan_.buckets):
            seeded.update(self._get(job, f"seeded-{bucket}.json")["pieces"])
        return sorted(seeded)

    def _seed(self, job: UploadJob, plan_: _Plan, index: int) -> Masks:
        """Piece `index`'s seed from the buckets that gave it one: its own staged masks, no other piece's."""
        seed: Masks = {}
        for bucket in range(plan_.buckets):
            if index in self._get(job, f"seeded-{bucket}.json")["pieces"]:
                seed.update(_masks(self._get(job, f"seed-{index}-{bucket}.json")))
        return seed

    def _queue(self, job: UploadJob, step: str, parts: Iterator[int] | range | list[int]) -> None:
        messages = [
            ({"step": step, "part": part, "partner_id": job.partner_id, "job_id": job.job_id}, 0) for part in parts
        ]
        self.tasks.send_all(messages)

    def _reader(self, plan_: _Plan) -> Callable[[int], Iterator[bytes]]:
        return lambda offset: self._objects.chunks_from(plan_.key, plan_.version, offset)

    def _drop(self, plan_: _Plan, job: UploadJob) -> tuple[Drop, ObjectInfo]:
        drop = parse_drop(plan_.key)
        if drop is None:
            raise ValueError(f"{plan_.key} is not a drop")
        return drop, self._objects.info(plan_.key, plan_.version)

    def _plan(self, partner_id: str, job_id: str) -> _Plan | None:
        try:
            record = self._read(partner_id, job_id, "plan.json")
        except NotFound:
            return None
        return _Plan(**{**record, "now": datetime.fromisoformat(record["now"])})

    def _put(self, partner_id: str, job_id: str, name: str, record: dict[str, Any]) -> None:
        body = json.dumps(record, separators=(",", ":")).encode()
        self._objects.put(work_key(partner_id, job_id, name), body, "application/json")

    def _get(self, job: UploadJob, name: str) -> dict[str, Any]:
        return self._read(job.partner_id, job.job_id, name)

    def _read(self, partner_id: str, job_id: str, name: str) -> dict[str, Any]:
        body = b"".join(self._objects.chunks(work_key(partner_id, job_id, name)))
        record: dict[str, Any] = json.loads(body)
        return record


def work_key(partner_id: str, job_id: str, name: str) -> str:
    """Where a job's staged record `name` is kept (see the module docstring)."""
    return "/".join((WORK_PREFIX, partner_id, job_id, name))


def with_fan_out(
    ingestion: Ingestion, tasks: WorkQueue, *, fan_out_bytes: int, piece_bytes: int, buckets: int
) -> FanOut:
    """The fan-out of `ingestion`, whose own ingestion hands it files over `fan_out_bytes` (0: none)."""
    fan_out = FanOut(ingestion, tasks, piece_bytes=piece_bytes, buckets=buckets)
    if fan_out_bytes <= 0:
        return fan_out
    handing_on = replace(ingestion, fan_out=fan_out.start, fan_out_bytes=fan_out_bytes)
    return FanOut(handing_on, tasks, piece_bytes=piece_bytes, buckets=buckets)


# ----- staged records ---------------------------------------------------------------------------------------------


def _plan_record(plan_: _Plan) -> dict[str, Any]:
    return {
        "key": plan_.key,
        "version": plan_.version,
        "size": plan_.size,
        "header_bytes": plan_.header_bytes,
        "piece_bytes": plan_.piece_bytes,
        "pieces": plan_.pieces,
        "buckets": plan_.buckets,
        "now": plan_.now.isoformat(),
    }


def _masks_record(masks: Masks) -> dict[str, dict[str, int]]:
    return {meter: {str(day): mask for day, mask in days.items()} for meter, days in masks.items()}


def _masks(record: dict[str, dict[str, int]]) -> Masks:
    return {meter: {int(day): int(mask) for day, mask in days.items()} for meter, days in record.items()}


def _days_record(days: dict[int, dict[DayKey, DaySlots]], bucket: int) -> list[list[Any]]:
    return [[meter, day.isoformat(), slots.to_record()] for (meter, day), slots in days.get(bucket, {}).items()]


def _days(record: list[list[Any]]) -> dict[DayKey, DaySlots]:
    return {(meter, date.fromisoformat(day)): DaySlots.from_record(slots) for meter, day, slots in record}


def _summary_record(check: PieceCheck) -> dict[str, Any]:
    return {
        "lines": check.lines,
        "rows_valid": check.rows_valid,
        "rows_invalid": check.rows_invalid,
        "errors": [list(error) for error in check.errors],
        "fatal": list(check.fatal) if check.fatal else None,
        "columns": check.columns,
        "unknown_columns": check.unknown_columns,
    }


def _error(values: list[Any]) -> RowError:
    line, column, code, message = values
    return RowError(int(line), column, ErrorCode(code), message)


def _summary(index: int, record: dict[str, Any]) -> PieceCheck:
    return PieceCheck(
        index=index,
        lines=record["lines"],
        rows_valid=record["rows_valid"],
        rows_invalid=record["rows_invalid"],
        errors=[_error(values) for values in record["errors"]],
        fatal=_error(record["fatal"]) if record["fatal"] else None,
        columns=record["columns"],
        unknown_columns=record["unknown_columns"],
    )


def _counts(report: Any) -> dict[str, int]:
    return {"rows_total": report.rows_total, "rows_valid": report.rows_valid, "rows_invalid": report.rows_invalid}
