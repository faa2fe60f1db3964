"""Interval ingestion at scale: one invocation against the real fan-out, task by task, and what 100,000,000 rows
would take. Figures only, no assertions.

DynamoDB is replaced by stores that sleep a fixed `--latency-ms` per request and count the requests by operation
(a merge: a consistent GetItem and a conditional PutItem of the day item; a meter lookup: a GetItem; the upload
repository's save, get, claim, `mark_part_done` and `step_progress`: PutItem, GetItem, PutItem, UpdateItem,
GetItem); they keep no interval data (nothing reads it back), so a worker's memory is the worker's. The file
(`benchmarks/ingest_writes.generate`: `--meters` meters, meter-major, 15-minute intervals from 2025-01-01, clean)
is on disk and streamed in `CHUNK_BYTES` chunks, ranged reads included, as S3 streams it.

1. **One invocation** (`Ingestion.ingest` without a fan-out, the path of files up to `IntervalFanOutBytes`):
   pass 1 validates, pass 2 merges with `--write-workers` merges in flight. The baseline: run in its own
   interpreter, in the same run, so its peak RSS (`ru_maxrss`) is that invocation's.
2. **The fan-out** (`intervals.use_cases.fanout.FanOut`, built by `with_fan_out` as `meterhub.wiring.interval_fan_out`
   builds it, on the stand-ins above, `tests.fakes.intervals.InMemoryUploadRepository` for the joins and a
   work queue that records which task queued which): the ingest invocation (`Ingestion.ingest`, which claims the
   job and calls `FanOut.start`), then every queued task through `FanOut.handle`, one after the other, each as
   one invocation: its wall time (latency sleeps included, and its merges on `bounded_merges`' real
   `--write-workers` threads: the stand-ins count under a lock), CPU time and requests are recorded. The peak
   Python heap comes from a second run of the same tasks (without the latency, which changes no heap), because
   `tracemalloc` slows this code ~10x: there the first and the last task of each step (the last runs the step's
   join) run under `tracemalloc`, started anew per task, so a peak is what that task allocated beyond what the
   process held. Staged `interval-work/` objects are written to a temporary directory on disk, not kept in
   memory: a Lambda's PUT sends the body away, so a task must not be charged for what it staged, and the staged
   records (~400 MB of JSON for 10M rows) would only crowd this shared machine's RAM.

   From the measured per-task times, the wall time at W workers is *computed* by a list scheduler over the
   recorded DAG, not run with W threads: each Lambda invocation has its own CPU, where W threads here would share
   this machine's 2 cores and the GIL, and measure the machine instead of the design. A task becomes ready when
   the step that queued it is done: every part of that step finished and its last part ran the join
   (`FanOut._joined`'s callable, timed separately: it runs in whichever part finishes last, so the scheduler
   runs it on that worker after the step's last part); at most W tasks run at once, in queue order. W=1 is the
   serial total; the measured serial total (the driver's clock) is printed beside it. SQS's own delay between a
   send and a receive (tens of ms) and cold starts are left out; S3 requests are counted, not slowed.
3. **100,000,000 rows**, from the measured tasks: check tasks keep the piece size (more of them, each as
   measured per byte); the buckets grow with the file as the fan-out grows them (`fanout.buckets_for`: one per
   64 MiB past `Buckets`), so each group and merge task keeps about the measured bucket's share of work and heap,
   and there are more of them; the settle and merge joins (which read one summary per piece) get the file's
   growth factor; requests, S3 requests and SQS messages scale with the rows. The same scheduler gives the wall
   time at the configured concurrency (`IntervalFileWorkers` for one file, `IntervalPiecesConcurrency` for the
   function); cost at on-demand
   us-east-1 prices.

Quick mode: with neither `--piece-rows` nor `--piece-bytes`, pieces are the deployed `PieceBytes` (64 MiB), but
a file smaller than `QUICK_PIECES` such pieces is cut into `QUICK_PIECES`, so `--rows 200000` runs the same
DAG in well under a minute (and the 100M model rescales the check tasks to the deployed piece size).

Recommended run (~11 minutes with 4 ms per request on a loaded 2-core machine: in the background, `nice`d):

    .venv/bin/python -m benchmarks.ingest_scale --rows 10000000 [--meters 1000] [--latency-ms 4]
        [--workers 1,4,20,64] [--piece-bytes 67108864 | --piece-rows N] [--buckets 16] [--write-workers 16]
"""

from __future__ import annotations

import argparse
import functools
import heapq
import json
import math
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from meterhub.intervals.records import UploadJob
from meterhub.intervals.rules.slots import DaySlots, merge_day
from meterhub.intervals.use_cases.bounded_merges import DEFAULT_WRITE_CONCURRENCY
from meterhub.intervals.use_cases.fanout import FanOut, buckets_for, with_fan_out
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.meters.records import MeterRecord
from meterhub.platform.errors import NotFound
from meterhub.platform.object_store import CHUNK_BYTES, ObjectInfo
from meterhub.platform.work_queue import WorkQueue

from benchmarks.ingest_writes import START, generate
from tests.fakes.intervals import InMemoryUploadRepository
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.queues import InMemoryWorkQueue

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
LAMBDA_GB_SECOND = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
WRITE_UNIT = 0.625 / 1e6
READ_UNIT = 0.125 / 1e6
S3_PUT, S3_GET = 0.005 / 1000, 0.0004 / 1000
SQS_REQUEST = 0.40 / 1e6
LAMBDA_GB = 1.0  # IntervalIngestFunction's and IntervalPiecesFunction's MemorySize (template.yaml)
LIMIT_SECONDS = 900  # Lambda's 15 minutes
PIECE_BYTES = 67_108_864  # template.yaml IntervalFanOut PieceBytes
BUCKETS = 16  # template.yaml IntervalFanOut Buckets
BUCKET_STEPS = ("group", "merge")
FILE_WORKERS = 4  # template.yaml IntervalFileWorkers: one file's tasks at once
PIECES_CONCURRENCY = 20  # template.yaml IntervalPiecesConcurrency: the pieces function's reserved concurrency
QUICK_PIECES = 8
MODEL_ROWS = 100_000_000
WRITE_OPERATIONS = ("PutItem", "UpdateItem")
READ_OPERATIONS = ("GetItem",)


# ----- DynamoDB stand-ins: a fixed latency per request, counted ----------------------------------------------


class Requests:
    """Requests and capacity units by DynamoDB operation (reads consistent: 4 KB units; writes: 1 KB units)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.units: Counter[str] = Counter()

    def request(self, operation: str, size: int = 1) -> None:
        time.sleep(self.latency)
        unit = 1024 if operation in WRITE_OPERATIONS else 4096
        with self.lock:
            self.calls[operation] += 1
            self.units[operation] += max(1, math.ceil(size / unit))

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.calls)


class CountingIntervalStore:
    """A merge is a GetItem and a conditional PutItem of the day item (sized as DynamoDB bills it, roughly); the
    items are not kept (nothing reads them back here)."""

    def __init__(self, requests: Requests) -> None:
        self.requests = requests

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        size = len(json.dumps(merge_day(None, incoming).to_record(), separators=(",", ":"))) + 120
        self.requests.request("GetItem", size)
        self.requests.request("PutItem", size)

    def merge_length(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        self.merge(partner_id, meter_id, day, incoming)

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        return iter(())  # nothing is kept: ingestion never reads back

    def length_days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        return iter(())


class CountingUploads(InMemoryUploadRepository):
    """The fake's jobs and joins, each call as the DynamoDB adapter's request (intervals/adapters/uploads.py)."""

    def __init__(self, requests: Requests) -> None:
        super().__init__()
        self.requests = requests

    def save(self, job: UploadJob) -> None:
        self.requests.request("PutItem")
        super().save(job)

    def get(self, partner_id: str, job_id: str) -> UploadJob | None:
        self.requests.request("GetItem")
        return super().get(partner_id, job_id)

    def claim_object(self, partner_id: str, object_key: str, version: str, job_id: str) -> str:
        self.requests.request("PutItem")
        return super().claim_object(partner_id, object_key, version, job_id)

    def mark_part_done(
        self, partner_id: str, job_id: str, step: str, part: int, counts: Mapping[str, int] | None = None
    ) -> Any:
        self.requests.request("UpdateItem")
        return super().mark_part_done(partner_id, job_id, step, part, counts)

    def step_progress(self, partner_id: str, job_id: str, step: str) -> Any:
        self.requests.request("GetItem")
        return super().step_progress(partner_id, job_id, step)


class CountingMeters:
    def __init__(self, requests: Requests) -> None:
        self.requests = requests

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None:
        self.requests.request("GetItem")
        data: dict[str, Any] = {
            "transmission_region": "ISONE",
            "meter_type": "DEVICE",
            "customer_classification": "RESIDENTIAL",
            "customer": {"state_or_province_code": "MA"},
        }
        return MeterRecord(
            meter_id=meter_id,
            partner_id=partner_id,
            partner_reference=meter_id[:8],
            data=data,
            created_at=START - timedelta(days=30),
            updated_at=START - timedelta(days=30),
        )


# ----- S3 and SQS stand-ins ------------------------------------------------------------------------------------


class DiskObjects(InMemoryObjectStore):
    """The data bucket on disk: the dropped file read where it was generated, everything put (staged records,
    reports) written under `folder`; every body streamed in CHUNK_BYTES chunks, ranged reads by seeking. Counts
    GETs and PUTs. Nothing is held in memory, as nothing S3 holds is in a function's memory."""

    def __init__(self, files: Mapping[str, Path], folder: Path) -> None:
        super().__init__()
        self.files = dict(files)
        self.folder = folder
        self.gets = 0
        self.puts = 0
        self.put_bytes = 0

    def _path(self, key: str) -> Path:
        return self.files.get(key) or self.folder / key

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        path = self.folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        self.puts += 1
        self.put_bytes += len(body)

    def put_file(self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        path = self.folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as target:
            while part := body.read(CHUNK_BYTES):
                target.write(part)
                self.puts += 1  # a multipart upload's part
                self.put_bytes += len(part)

    def info(self, key: str, version: str | None = None) -> ObjectInfo:
        path = self._path(key)
        if not path.exists():
            raise NotFound("File not found", {"key": key})
        return ObjectInfo(key, version, etag="disk", size=path.stat().st_size)

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        return self.chunks_from(key, version, 0)

    def chunks_from(self, key: str, version: str | None, offset: int) -> Iterator[bytes]:
        path = self._path(key)
        if not path.exists():
            raise NotFound("File not found", {"key": key})
        self.gets += 1
        return self._stream(path, offset)

    @staticmethod
    def _stream(path: Path, offset: int) -> Iterator[bytes]:
        with path.open("rb") as handle:
            handle.seek(offset)
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    def move(self, source: str, target: str, version: str | None = None) -> None:
        if source in self.files:
            self.files[target] = self.files.pop(source)
            return
        self._path(source).rename(self._path(target))


class TaskQueue(InMemoryWorkQueue):
    """The pieces queue: every task queued (as SQS would deliver it), which invocation queued it (`current`, set
    by the driver) and the SendMessageBatch requests (10 messages each)."""

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.queued_by: list[int] = []
        self.batches = 0

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        super().send(message, delay_seconds)
        self.queued_by.append(self.current)

    def send_all(self, messages: Sequence[tuple[dict[str, Any], int]]) -> None:
        self.batches += math.ceil(len(messages) / 10)
        super().send_all(messages)


@dataclass(frozen=True)
class TimedFanOut(FanOut):
    """The fan-out as deployed, with each join's time recorded (`joins`: seconds per call), so the scheduler can
    run a step's join after its last part. The one hook the benchmark adds; `FanOut` has no public one."""

    joins: list[float] = field(default_factory=list)

    def _joined(
        self,
        job: UploadJob,
        step: str,
        part: int,
        parts: int,
        join: Callable[[], None],
        counts: dict[str, int] | None = None,
    ) -> None:
        def timed() -> None:
            started = time.perf_counter()
            try:
                join()
            finally:
                self.joins.append(time.perf_counter() - started)

        super()._joined(job, step, part, parts, timed, counts)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drop_key() -> str:
    return f"partners/{uuid.uuid4()}/interval-data/load.csv"


# ----- 1. one invocation ------------------------------------------------------------------------------------------


@dataclass
class OneInvocation:
    status: str
    rows: int
    days: int
    wall: float
    cpu: float
    requests: dict[str, int]
    units: dict[str, int]
    peak_mb: float


def run_one_invocation(path: Path, write_workers: int, latency: float) -> OneInvocation:
    key = drop_key()
    requests = Requests(latency)
    with tempfile.TemporaryDirectory() as folder:
        ingestion = Ingestion(
            uploads=CountingUploads(requests),
            intervals=CountingIntervalStore(requests),
            objects=DiskObjects({key: path}, Path(folder)),
            meters=CountingMeters(requests),
            now=lambda: NOW,
            write_concurrency=write_workers,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        job = ingestion.ingest(key)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert job is not None
    return OneInvocation(
        job.status.value,
        job.rows_valid,
        job.days_written,
        wall,
        cpu,
        dict(requests.calls),
        dict(requests.units),
        peak_mb(),
    )


# ----- 2. the fan-out, task by task ---------------------------------------------------------------------------


@dataclass
class Task:
    """One invocation: `queued_by` the index of the task that queued it (-1: the file's drop)."""

    step: str
    part: int
    queued_by: int
    wall: float
    join: float
    cpu: float
    heap_mb: float | None
    requests: dict[str, int]


@dataclass
class FanOutRun:
    status: str
    rows: int
    days: int
    pieces: int
    buckets: int
    tasks: list[Task]
    serial: float
    units: dict[str, int]
    s3_gets: int
    s3_puts: int
    staged_bytes: int
    sqs_batches: int
    peak_mb: float


def run_fan_out(
    path: Path, piece_bytes: int, buckets: int, write_workers: int, latency: float, *, traced: bool
) -> FanOutRun:
    """Every task in turn. `traced`: the heap run, where the first and the last task of each step (the last runs
    the step's join) run under `tracemalloc`, the others as in the timed run (`heap_mb` None)."""
    key = drop_key()
    requests = Requests(latency)
    uploads = CountingUploads(requests)
    queue = TaskQueue()
    with tempfile.TemporaryDirectory() as folder:
        objects = DiskObjects({key: path}, Path(folder))
        ingestion = Ingestion(
            uploads=uploads,
            intervals=CountingIntervalStore(requests),
            objects=objects,
            meters=CountingMeters(requests),
            now=lambda: NOW,
            write_concurrency=write_workers,
        )
        tasks_queue: WorkQueue = queue
        built = with_fan_out(ingestion, tasks_queue, fan_out_bytes=1, piece_bytes=piece_bytes, buckets=buckets)
        fan_out = TimedFanOut(built.ingestion, built.tasks, piece_bytes=built.piece_bytes, buckets=built.buckets)
        tasks: list[Task] = []

        def invoke(step: str, part: int, queued_by: int, work: Callable[[], object], trace: bool) -> None:
            queue.current = len(tasks)
            joins, before = len(fan_out.joins), requests.snapshot()
            if trace:
                tracemalloc.start()
            wall, cpu = time.perf_counter(), time.process_time()
            work()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            heap = None
            if trace:
                heap = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
            made = requests.snapshot() - before
            tasks.append(Task(step, part, queued_by, wall, sum(fan_out.joins[joins:]), cpu, heap, dict(made)))

        started = time.perf_counter()
        invoke("start", 0, -1, lambda: fan_out.ingestion.ingest(key), traced)
        for done, message in enumerate(queue.messages):  # grows as tasks queue tasks
            batch = queue.queued_by[done]
            first = done == 0 or queue.queued_by[done - 1] != batch
            last = done + 1 == len(queue.messages) or queue.queued_by[done + 1] != batch
            handle = functools.partial(fan_out.handle, message)
            invoke(message["step"], int(message["part"]), batch, handle, traced and (first or last))
        serial = time.perf_counter() - started
        staged = sum(item.stat().st_size for item in Path(folder).rglob("*") if item.is_file())
    job = next(iter(uploads.by_id.values()))
    return FanOutRun(
        job.status.value,
        job.rows_valid,
        job.days_written,
        job.pieces_total or 0,
        sum(1 for task in tasks if task.step == "group"),  # the file's buckets (fanout.buckets_for)
        tasks,
        serial,
        dict(requests.units),
        objects.gets,
        objects.puts,
        staged,
        queue.batches,
        peak_mb(),
    )


# ----- the schedule -----------------------------------------------------------------------------------------------


def makespan(tasks: Sequence[Task], workers: int) -> float:
    """The wall time of `tasks` with at most `workers` running at once (see the module docstring): a step (the
    tasks one task queued) is done when its parts are, plus its join, run on the worker whose part ended last;
    then the tasks its joiner queued are ready, in queue order."""
    steps: dict[tuple[int, str], list[int]] = {}
    for index, task in enumerate(tasks):
        steps.setdefault((task.queued_by, task.step), []).append(index)
    step_of = {index: step for step, members in steps.items() for index in members}
    left = {step: len(members) for step, members in steps.items()}
    join = {step: sum(tasks[index].join for index in members) for step, members in steps.items()}
    children: dict[tuple[int, str], list[int]] = {step: [] for step in steps}
    for index, task in enumerate(tasks):
        if task.queued_by >= 0:
            children[step_of[task.queued_by]].append(index)
    ready = deque(index for index, task in enumerate(tasks) if task.queued_by < 0)
    running: list[tuple[float, int, int]] = []  # (ends at, order, task index or -1 - step number for a join)
    step_numbers = {step: number for number, step in enumerate(steps)}
    by_number = list(steps)
    now, order = 0.0, 0
    while ready or running:
        while ready and len(running) < workers:
            index = ready.popleft()
            heapq.heappush(running, (now + tasks[index].wall - tasks[index].join, order, index))
            order += 1
        now, _, item = heapq.heappop(running)
        if item < 0:
            ready.extend(children[by_number[-1 - item]])
            continue
        step = step_of[item]
        left[step] -= 1
        if left[step] == 0:
            heapq.heappush(running, (now + join[step], order, -1 - step_numbers[step]))
            order += 1
    return now


# ----- the report -----------------------------------------------------------------------------------------------


def child(kind: str, arguments: list[str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest_scale", "--child", kind, *arguments],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def writes(calls: Mapping[str, int]) -> int:
    return sum(calls.get(operation, 0) for operation in WRITE_OPERATIONS)


def reads(calls: Mapping[str, int]) -> int:
    return sum(calls.get(operation, 0) for operation in READ_OPERATIONS)


def by_operation(calls: Mapping[str, int], scale: float) -> str:
    return ", ".join(f"{operation} {count * scale:,.0f}" for operation, count in sorted(calls.items()))


def piece_size(args: argparse.Namespace, size: int) -> tuple[int, bool]:
    """The run's piece size, and whether quick mode shrank it (see the module docstring)."""
    if args.piece_bytes:
        return args.piece_bytes, False
    if args.piece_rows:
        return max(1, int(args.piece_rows * size / args.rows)), False
    if size < QUICK_PIECES * PIECE_BYTES:
        return max(1, size // QUICK_PIECES + 1), True
    return PIECE_BYTES, False


def report(args: argparse.Namespace) -> None:
    latency = args.latency_ms / 1000
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.csv"
        meters = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-meter-{m}")) for m in range(args.meters)]
        size = generate(path, args.rows, meters)
        piece_bytes, quick = piece_size(args, size)
        print(
            f"file: {args.rows:,} rows, {args.meters:,} meters, meter-major, {size / 1e6:,.0f} MB; DynamoDB "
            f"stand-in: {args.latency_ms:g} ms per request; {args.write_workers} merges in flight per invocation"
        )
        base = float(child("baseline", [])["peak_mb"])
        print(f"interpreter with everything imported: {base:.0f} MB peak RSS (subtracted below)\n")

        one = OneInvocation(**child("one", [str(path), str(args.write_workers), str(latency)]))
        scale = 1_000_000 / args.rows
        print("1. One invocation (the path of files up to IntervalFanOutBytes): the baseline")
        print(
            f"{one.status}, {one.rows:,} rows, {one.days:,} day merges; wall {one.wall:,.1f} s "
            f"({one.wall / LIMIT_SECONDS:.1%} of 15 min), CPU {one.cpu:,.1f} s; per 1M rows: writes "
            f"{writes(one.requests) * scale:,.0f}, reads {reads(one.requests) * scale:,.0f} "
            f"({by_operation(one.requests, scale)}); peak RSS {one.peak_mb - base:,.0f} MB"
        )

        arguments = [str(path), str(piece_bytes), str(args.buckets), str(args.write_workers)]
        run = fan_out_run(child("timed", [*arguments, str(latency)]))
        traced = fan_out_run(child("traced", [*arguments, "0"]))  # a heap does not wait: no latency
        for task, heap in zip(run.tasks, traced.tasks, strict=True):
            assert (task.step, task.part) == (heap.step, heap.part), "the two runs queue the same tasks in turn"
            task.heap_mb = heap.heap_mb
        run.peak_mb -= base
        fan_out_report(run, one, base, scale, workers, piece_bytes, quick)
        model(args, run, one, size, workers, PIECE_BYTES if quick else piece_bytes)


def fan_out_run(raw: dict[str, Any]) -> FanOutRun:
    return FanOutRun(**{**raw, "tasks": [Task(**task) for task in raw["tasks"]]})


def heaps(tasks: Sequence[Task]) -> float:
    """The largest peak heap among the traced tasks."""
    return max((task.heap_mb for task in tasks if task.heap_mb is not None), default=0.0)


def fan_out_report(
    run: FanOutRun,
    one: OneInvocation,
    base: float,
    scale: float,
    workers: list[int],
    piece_bytes: int,
    quick: bool,
) -> None:
    calls: Counter[str] = Counter()
    for task in run.tasks:
        calls.update(task.requests)
    print(
        f"\n2. The fan-out (FanOut.start, then FanOut.handle per task): {run.status}, {run.rows:,} rows, "
        f"{run.days:,} day merges; {run.pieces} pieces of {piece_bytes / 1e6:,.1f} MB"
        f"{' (quick mode)' if quick else ''}, {run.buckets} buckets; staged {run.staged_bytes / 1e6:,.0f} MB on disk"
    )
    print(
        f"{'step':<8} {'tasks':>6} {'slowest s':>10} {'mean s':>7} {'total s':>8} {'CPU s':>7} {'joins s':>8} "
        f"{'writes':>8} {'reads':>8} {'peak heap MB*':>13}"
    )
    for step in dict.fromkeys(task.step for task in run.tasks):
        own = [task for task in run.tasks if task.step == step]
        total = sum(task.wall for task in own)
        step_calls: Counter[str] = Counter()
        for task in own:
            step_calls.update(task.requests)
        print(
            f"{step:<8} {len(own):>6} {max(task.wall for task in own):>10.2f} {total / len(own):>7.2f} "
            f"{total:>8.1f} {sum(task.cpu for task in own):>7.1f} {sum(task.join for task in own):>8.2f} "
            f"{writes(step_calls):>8,} {reads(step_calls):>8,} {heaps(own):>13,.1f}"
        )
    slowest = max(run.tasks, key=lambda task: task.wall)
    print(
        f"slowest invocation: {slowest.step} {slowest.part}, {slowest.wall:.2f} s "
        f"({slowest.wall / LIMIT_SECONDS:.2%} of 15 min; the one invocation: {one.wall / slowest.wall:,.1f}x that)"
    )
    print(
        f"per 1M rows: writes {writes(calls) * scale:,.0f} ({writes(calls) / max(1, writes(one.requests)):.2f}x "
        f"the one invocation's), reads {reads(calls) * scale:,.0f} "
        f"({reads(calls) / max(1, reads(one.requests)):.2f}x); {by_operation(calls, scale)}; S3 "
        f"{run.s3_gets * scale:,.0f} GETs, {run.s3_puts * scale:,.0f} PUTs; SQS {run.sqs_batches * scale:,.0f} "
        f"send batches"
    )
    heaviest = max(run.tasks, key=lambda task: task.heap_mb or 0.0)
    print(
        f"* Python heap (tracemalloc) of the first and the last task of each step, in a second run (tracemalloc "
        f"slows Python ~10x); the largest: {heaviest.step} {heaviest.part}, {heaps(run.tasks):,.1f} MB. Peak RSS "
        f"of the process running every task in turn (an upper bound for one task's): {run.peak_mb:,.0f} MB, "
        f"{run.peak_mb / max(1.0, one.peak_mb - base):.2f}x the one invocation's"
    )
    serial = sum(task.wall for task in run.tasks)
    print(f"serial: {serial:,.1f} s of tasks, {run.serial:,.1f} s measured by the driver")
    print(f"{'W':>5} {'wall s':>9} {'speed-up':>9} {'vs one invocation':>18}")
    first = makespan(run.tasks, 1)
    for count in workers:
        wall = makespan(run.tasks, count)
        print(f"{count:>5} {wall:>9.1f} {first / wall:>8.1f}x {one.wall / wall:>17.2f}x")
    print(
        f"with a worker per task: {makespan(run.tasks, len(run.tasks)):,.1f} s, the critical path (a step waits "
        f"for its slowest part): no W goes below it"
    )


def scaled(run: FanOutRun, factor: float, size: int, model_piece_bytes: int) -> list[Task]:
    """The DAG of a file `factor` times as large (see the module docstring, 3): the measured check tasks become
    as many pieces of `model_piece_bytes` as the file needs, each as long as the measured checks per byte (the
    step's join, which queues the groups, stays in the last); the group and merge tasks become one per bucket of
    the larger file (`fanout.buckets_for`), each doing the measured bucket's work times its share of the file
    (the join, which reads one summary per piece, times `factor`, in the last); the start is kept."""
    per_byte = sum(task.wall - task.join for task in run.tasks if task.step == "check") / size
    check_join = sum(task.join for task in run.tasks if task.step == "check")
    pieces = math.ceil(size * factor / model_piece_bytes)
    buckets = buckets_for(math.ceil(size * factor), run.buckets)
    tasks: list[Task] = []
    now_at: dict[int, int] = {}  # a measured task's index -> the index of the task standing for it
    for index, task in enumerate(run.tasks):
        queued_by = now_at.get(task.queued_by, -1)
        if task.step == "check":
            if not tasks or tasks[-1].step != "check":
                for part in range(pieces):
                    join = check_join if part == pieces - 1 else 0.0
                    tasks.append(Task("check", part, queued_by, per_byte * model_piece_bytes + join, join, 0, None, {}))
            now_at[index] = len(tasks) - 1
            continue
        if task.step in BUCKET_STEPS:
            if not tasks or tasks[-1].step != task.step:
                measured = [other for other in run.tasks if other.step == task.step]
                step_join = sum(other.join for other in measured) * factor
                share = factor * run.buckets / buckets  # a modelled bucket's part of the file, in measured buckets
                for part in range(buckets):
                    source = measured[part % len(measured)]
                    join = step_join if part == buckets - 1 else 0.0
                    work = (source.wall - source.join) * share
                    tasks.append(Task(task.step, part, queued_by, work + join, join, 0, source.heap_mb, {}))
            now_at[index] = len(tasks) - 1
            continue
        tasks.append(Task(task.step, task.part, queued_by, task.wall, task.join, 0, task.heap_mb, {}))
        now_at[index] = len(tasks) - 1
    return tasks


def model(
    args: argparse.Namespace,
    run: FanOutRun,
    one: OneInvocation,
    size: int,
    workers: list[int],
    model_piece_bytes: int,
) -> None:
    factor = MODEL_ROWS / args.rows
    tasks = scaled(run, factor, size, model_piece_bytes)
    print(f"\n3. Modelled: {MODEL_ROWS:,} rows (x{factor:,.1f}), pieces of {model_piece_bytes / 1e6:,.1f} MB")
    one_wall = one.wall * factor
    print(
        f"one invocation: {one_wall / 60:,.0f} min of work: "
        f"{'fits' if one_wall < LIMIT_SECONDS else 'does NOT fit'} in Lambda's 15 minutes"
    )
    for step in dict.fromkeys(task.step for task in tasks):
        own = [task for task in tasks if task.step == step]
        measured = [task for task in run.tasks if task.step == step]
        heap_factor = factor * run.buckets / buckets_for(math.ceil(size * factor), run.buckets)
        heap_factor = heap_factor if step in BUCKET_STEPS else 1.0
        slowest, heap = max(task.wall for task in own), heaps(measured) * heap_factor
        print(
            f"{step:<8} {len(own):>6,} tasks, slowest {slowest:>7.1f} s ({slowest / LIMIT_SECONDS:.1%} of 15 min), "
            f"total {sum(task.wall for task in own) / 60:>7.1f} min, peak heap ~{heap:,.0f} MB"
            f"{' (over the function memory)' if heap > LAMBDA_GB * 1024 else ''}"
        )
    print(f"{'W':>5} {'wall min':>9}")
    for count in sorted({*workers, FILE_WORKERS, PIECES_CONCURRENCY}):
        label = {FILE_WORKERS: " IntervalFileWorkers", PIECES_CONCURRENCY: " IntervalPiecesConcurrency"}.get(count, "")
        print(f"{count:>5} {makespan(tasks, count) / 60:>9.1f}{label}")
    invocation_seconds = sum(task.wall for task in tasks)
    lambda_cost = invocation_seconds * LAMBDA_GB * LAMBDA_GB_SECOND + len(tasks) * LAMBDA_REQUEST
    write_units = sum(run.units.get(operation, 0) for operation in WRITE_OPERATIONS) * factor
    read_units = sum(run.units.get(operation, 0) for operation in READ_OPERATIONS) * factor
    dynamo_cost = write_units * WRITE_UNIT + read_units * READ_UNIT
    # Staging is a record per piece and bucket (a check's PUTs, a group's GETs): pieces times buckets, which grows
    # faster than the rows once the buckets grow; the rest of S3's requests scale with the rows.
    pieces = math.ceil(size * factor / model_piece_bytes)
    staged = pieces * buckets_for(math.ceil(size * factor), run.buckets)
    measured_staged = run.pieces * run.buckets
    s3_puts = staged + max(0, run.s3_puts - measured_staged) * factor
    s3_gets = staged + max(0, run.s3_gets - measured_staged) * factor
    s3_cost = s3_puts * S3_PUT + s3_gets * S3_GET
    sqs_cost = (run.sqs_batches + 2 * (len(run.tasks) - 1)) * factor * SQS_REQUEST  # send batches, receive, delete
    print(
        f"cost: Lambda {invocation_seconds / 3600:.2f} h at {LAMBDA_GB:.0f} GB = ${lambda_cost:.2f}; DynamoDB "
        f"{write_units:,.0f} WRU + {read_units:,.0f} RRU = ${dynamo_cost:.2f}; S3 staging {s3_puts:,.0f} PUTs "
        f"+ {s3_gets:,.0f} GETs = ${s3_cost:.2f}; "
        f"SQS ${sqs_cost:.3f}; total ${lambda_cost + dynamo_cost + s3_cost + sqs_cost:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--meters", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=4.0)
    parser.add_argument("--workers", default="1,4,20,64", help="fan-out workers (invocations at once) to schedule")
    parser.add_argument("--piece-rows", type=int, default=0, help="pieces of about this many rows")
    parser.add_argument("--piece-bytes", type=int, default=0, help="pieces of this many bytes (default: deployed)")
    parser.add_argument("--buckets", type=int, default=BUCKETS)
    parser.add_argument("--write-workers", type=int, default=DEFAULT_WRITE_CONCURRENCY)
    parser.add_argument("--child", nargs="+")
    args, _ = parser.parse_known_args()
    if args.child:
        kind, *rest = args.child
        if kind == "baseline":
            print(json.dumps({"peak_mb": peak_mb()}))
        elif kind == "one":
            print(json.dumps(asdict(run_one_invocation(Path(rest[0]), int(rest[1]), float(rest[2])))))
        else:
            path, piece_bytes, buckets, write_workers, latency = Path(rest[0]), *map(int, rest[1:4]), float(rest[4])
            fanned = run_fan_out(path, piece_bytes, buckets, write_workers, latency, traced=kind == "traced")
            print(json.dumps(asdict(fanned)))
        return
    report(args)


if __name__ == "__main__":
    main()
