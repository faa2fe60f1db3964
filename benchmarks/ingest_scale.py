"""Interval ingestion at scale: one invocation with 1 and N writers, the steps of a file cut into pieces, and what
100,000,000 rows would take. Figures only, no assertions.

DynamoDB is replaced by stores that sleep a fixed `--latency-ms` per request (a GetItem and a conditional PutItem
per day merge, a GetItem per meter lookup, a PutItem per job save) and count the requests; they keep no data, so a
worker's memory is the worker's. The file (`benchmarks/ingest_writes.generate`: `--meters` meters, meter-major,
15-minute intervals from 2025-01-01) is on disk and streamed in 256 KiB chunks as S3 would stream it. Each
configuration runs in its own interpreter, so its peak RSS (`ru_maxrss`) is that worker's.

1. **One invocation** (`intervals.use_cases.pipeline.Ingestion.ingest`, the path of files up to
   `IntervalFanOutBytes`, 50 MB by default): pass 1
   validates, pass 2 merges the day records `--workers` at a time (`use_cases.bounded_merges`).
2. **Pieces** (`intervals.rules.piece_checks`, the fan-out's steps, each timed as its own invocation would run
   it): check each piece of `--piece-rows` rows, its results staged to disk per meter bucket (as S3 objects
   would be); group each bucket across pieces; merge each bucket's day records with `--write-workers` writers.
   The slowest step is the slowest invocation; the wall time with W workers is modelled as each step's
   slowest invocation times ceil(invocations / W), step after step. The deployed fan-out runs these steps as SQS
   tasks (`intervals.use_cases.fanout`); the model leaves out the queue's own delay between steps.
3. **100,000,000 rows**, modelled from 1 and 2 (per-row and per-merge costs scale linearly; the piece and bucket
   sizes stay fixed, so no invocation's work grows with the file), and its cost at on-demand us-east-1 prices.

    .venv/bin/python -m benchmarks.ingest_scale [--rows 1000000] [--meters 1000] [--latency-ms 4]
        [--workers 1,16,64] [--piece-rows 100000] [--buckets 10] [--write-workers 16]
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from meterhub.intervals.records import UploadJob
from meterhub.intervals.rules.model import MeterStatus, MeterVerdict
from meterhub.intervals.rules.piece_checks import Masks, PieceCheck, check_piece, group_bucket
from meterhub.intervals.rules.pieces import header_of, plan
from meterhub.intervals.rules.slots import DayKey, DaySlots, merge_day
from meterhub.intervals.use_cases.bounded_merges import merge_batches
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.meters.records import MeterRecord
from meterhub.platform.object_store import CHUNK_BYTES, ObjectInfo

from benchmarks.ingest_writes import START, generate
from tests.fakes.intervals import InMemoryUploadRepository
from tests.fakes.objects import InMemoryObjectStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
LAMBDA_GB_SECOND = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
WRITE_UNIT = 0.625 / 1e6
READ_UNIT = 0.125 / 1e6
S3_PUT, S3_GET = 0.005 / 1000, 0.0004 / 1000
SQS_REQUEST = 0.40 / 1e6
LAMBDA_GB = 1.0  # IntervalIngestFunction's MemorySize (template.yaml)
STAGED_GET_SECONDS = 0.02
STAGED_GETS_AT_ONCE = 16
MAX_BUCKETS = 100
MERGE_DAYS = 10_000


# ----- DynamoDB stand-ins: a fixed latency per request, counted ----------------------------------------------


class Requests:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.lock = threading.Lock()
        self.reads = 0
        self.writes = 0
        self.write_units = 0
        self.read_units = 0

    def read(self, size: int = 1) -> None:
        time.sleep(self.latency)
        with self.lock:
            self.reads += 1
            self.read_units += max(1, math.ceil(size / 4096))  # a consistent read: 4 KB units

    def write(self, size: int = 1) -> None:
        time.sleep(self.latency)
        with self.lock:
            self.writes += 1
            self.write_units += max(1, math.ceil(size / 1024))


class CountingIntervalStore:
    """A merge is a GetItem and a conditional PutItem of the day item (sized as DynamoDB bills it, roughly); the
    items are not kept (nothing reads them back here)."""

    def __init__(self, requests: Requests) -> None:
        self.requests = requests

    def merge(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        size = len(json.dumps(merge_day(None, incoming).to_record(), separators=(",", ":"))) + 120
        self.requests.read(size)
        self.requests.write(size)

    def merge_length(self, partner_id: str, meter_id: str, day: date, incoming: DaySlots) -> None:
        self.merge(partner_id, meter_id, day, incoming)

    def days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        return iter(())  # nothing is kept: ingestion never reads back

    def length_days(self, partner_id: str, meter_id: str, first: date, last: date) -> Iterator[tuple[date, DaySlots]]:
        return iter(())


class CountingUploads(InMemoryUploadRepository):
    def __init__(self, requests: Requests) -> None:
        super().__init__()
        self.requests = requests

    def save(self, job: UploadJob) -> None:
        self.requests.write()
        super().save(job)

    def get(self, partner_id: str, job_id: str) -> UploadJob | None:
        self.requests.read()
        return super().get(partner_id, job_id)

    def claim_object(self, partner_id: str, object_key: str, version: str, job_id: str) -> str:
        self.requests.write()
        return super().claim_object(partner_id, object_key, version, job_id)


class CountingMeters:
    def __init__(self, requests: Requests, partner_id: str) -> None:
        self.requests = requests
        self.partner_id = partner_id

    def get(self, partner_id: str, meter_id: str) -> MeterRecord | None:
        self.requests.read()
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


class DiskObjects(InMemoryObjectStore):
    """The dropped file read from disk in S3's chunks (not held in memory); reports are kept in memory."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        super().__init__()
        self.files = dict(files)

    def info(self, key: str, version: str | None = None) -> ObjectInfo:
        if key in self.files:
            return ObjectInfo(key, version, etag="disk", size=self.files[key].stat().st_size)
        return super().info(key, version)

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        if key not in self.files:
            yield from super().chunks(key, version)
            return
        with self.files[key].open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    def move(self, source: str, target: str, version: str | None = None) -> None:
        if source in self.files:
            self.files[target] = self.files.pop(source)
            return
        super().move(source, target, version)


def read_from(path: Path) -> Any:
    def chunks(offset: int) -> Iterator[bytes]:
        with path.open("rb") as handle:
            handle.seek(offset)
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    return chunks


def lookup(meter_id: str) -> MeterVerdict:
    return MeterVerdict(MeterStatus.OK, regions=frozenset({"MA", "ISONE"}))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----- the runs (each in its own interpreter) ---------------------------------------------------------------


@dataclass
class OneInvocation:
    workers: int
    status: str
    rows: int
    days: int
    wall: float
    cpu: float
    reads: int
    writes: int
    read_units: int
    write_units: int
    peak_mb: float


def run_one_invocation(path: Path, workers: int, latency: float) -> OneInvocation:
    partner = str(uuid.uuid4())
    key = f"partners/{partner}/interval-data/load.csv"
    requests = Requests(latency)
    ingestion = Ingestion(
        uploads=CountingUploads(requests),
        intervals=CountingIntervalStore(requests),
        objects=DiskObjects({key: path}),
        meters=CountingMeters(requests, partner),
        now=lambda: NOW,
        write_concurrency=workers,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    job = ingestion.ingest(key)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert job is not None
    return OneInvocation(
        workers,
        job.status.value,
        job.rows_valid,
        job.days_written,
        wall,
        cpu,
        requests.reads,
        requests.writes,
        requests.read_units,
        requests.write_units,
        peak_mb(),
    )


@dataclass
class Pieces:
    pieces: int
    buckets: int
    check_max: float
    check_total: float
    group_max: float
    group_total: float
    merge_max: float
    merge_total: float
    staged_bytes: int
    ok: bool
    days: int
    writes: int
    reads: int
    write_units: int
    read_units: int
    peak_mb: float


def run_pieces(path: Path, piece_bytes: int, buckets: int, write_workers: int, latency: float) -> Pieces:
    source = read_from(path)
    header = header_of(source)
    cuts = plan(path.stat().st_size, header, piece_bytes)
    requests = Requests(latency)
    with tempfile.TemporaryDirectory() as staging:
        stage = Path(staging)
        check_times: list[float] = []
        checks: list[PieceCheck] = []
        for piece in cuts:
            started = time.perf_counter()
            check = check_piece(source, piece, header, lookup, now=NOW, buckets=buckets)
            lookups = len({meter for masks in check.seen.values() for meter in masks})
            for _ in range(lookups):  # the piece's meter lookups (one GetItem per meter)
                requests.read()
            for bucket in range(buckets):  # staged as the fan-out would stage it in S3
                body = pickle.dumps((check.seen.get(bucket, {}), check.days.get(bucket, {})))
                (stage / f"{piece.index}-{bucket}").write_bytes(body)
            check_times.append(time.perf_counter() - started)
            check.days, check.seen = {}, {}  # the worker ends: only the counts and errors go on to the join
            checks.append(check)
        staged = sum(item.stat().st_size for item in stage.iterdir())
        group_times: list[float] = []
        merge_times: list[float] = []
        store = CountingIntervalStore(requests)
        days = 0
        for bucket in range(buckets):
            started = time.perf_counter()
            loaded: list[tuple[Masks, dict[DayKey, DaySlots]]] = [
                pickle.loads((stage / f"{piece.index}-{bucket}").read_bytes())  # noqa: S301 (written just above)
                for piece in cuts
            ]
            group = group_bucket(loaded)
            del loaded
            (stage / f"days-{bucket}").write_bytes(pickle.dumps(group.days))
            group_times.append(time.perf_counter() - started)
            ok = not group.seeds
            del group
            started = time.perf_counter()
            bucket_days: dict[DayKey, DaySlots] = pickle.loads((stage / f"days-{bucket}").read_bytes())  # noqa: S301
            days += merge_batches([bucket_days], lambda m, d, s: store.merge("p", m, d, s), write_workers)
            merge_times.append(time.perf_counter() - started)
    return Pieces(
        len(cuts),
        buckets,
        max(check_times),
        sum(check_times),
        max(group_times),
        sum(group_times),
        max(merge_times),
        sum(merge_times),
        staged,
        ok and not any(check.errors for check in checks),
        days,
        requests.writes,
        requests.reads,
        requests.write_units,
        requests.read_units,
        peak_mb(),
    )


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


def baseline_mb() -> float:
    """An interpreter that imported everything and did nothing."""
    return float(child("baseline", [])["peak_mb"])


# ----- the report -----------------------------------------------------------------------------------------------


def report(args: argparse.Namespace) -> None:
    latency = args.latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.csv"
        meters = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-meter-{m}")) for m in range(args.meters)]
        size = generate(path, args.rows, meters)
        bytes_per_row = size / args.rows
        print(
            f"file: {args.rows:,} rows, {args.meters:,} meters, meter-major, {size / 1e6:.0f} MB; "
            f"DynamoDB stand-in: {args.latency_ms} ms per request"
        )
        base = baseline_mb()
        print(f"interpreter with everything imported: {base:.0f} MB peak RSS (subtracted below)\n")

        print("1. One invocation (today's path), pass 2 with W writers")
        print(
            f"{'W':>4} {'status':>10} {'wall s':>8} {'CPU s':>7} {'speed-up':>8} {'writes/1M rows':>15} "
            f"{'reads/1M rows':>14} {'peak MB':>8}"
        )
        runs = [
            OneInvocation(**child("one", [str(path), str(workers), str(latency)]))
            for workers in (int(w) for w in args.workers.split(","))
        ]
        scale = 1_000_000 / args.rows
        for run in runs:
            print(
                f"{run.workers:>4} {run.status:>10} {run.wall:>8.1f} {run.cpu:>7.1f} {runs[0].wall / run.wall:>7.1f}x "
                f"{run.writes * scale:>15,.0f} {run.reads * scale:>14,.0f} {run.peak_mb - base:>8.0f}"
            )

        piece_bytes = max(1, int(args.piece_rows * bytes_per_row))
        result = Pieces(
            **child("pieces", [str(path), str(piece_bytes), str(args.buckets), str(args.write_workers), str(latency)])
        )
        print(
            f"\n2. Pieces: {result.pieces} pieces of ~{args.piece_rows:,} rows, {result.buckets} meter buckets, "
            f"{args.write_workers} writers per bucket; {'clean' if result.ok else 'NOT clean'}, "
            f"{result.days:,} day merges, staged {result.staged_bytes / 1e6:.0f} MB"
        )
        print(f"{'step':<8} {'invocations':>11} {'slowest s':>10} {'total s':>8}")
        steps = [
            ("check", result.pieces, result.check_max, result.check_total),
            ("group", result.buckets, result.group_max, result.group_total),
            ("merge", result.buckets, result.merge_max, result.merge_total),
        ]
        for name, count, slowest, total in steps:
            print(f"{name:<8} {count:>11} {slowest:>10.2f} {total:>8.1f}")
        print(
            f"writes per 1M rows {result.writes * scale:,.0f}, reads per 1M rows {result.reads * scale:,.0f}; "
            f"peak RSS of the worker running every step in turn: {result.peak_mb - base:.0f} MB"
        )
        print(f"{'W workers':>10} {'modelled wall s':>16} {'speed-up':>9}")
        serial = sum(total for _, _, _, total in steps)
        for workers in sorted({1, 2, 5, result.pieces}):
            wall = sum(math.ceil(count / workers) * slowest for _, count, slowest, _ in steps)
            if workers == 1:
                wall = serial
            print(f"{workers:>10} {wall:>16.1f} {serial / wall:>8.1f}x")

        model(args, runs, result, scale)


def model(args: argparse.Namespace, runs: list[OneInvocation], pieces: Pieces, scale: float) -> None:
    """100M rows from the measured figures. Pieces keep their size (more of them); buckets keep their size up to
    MAX_BUCKETS, then grow (a group's work is its rows plus one ranged GET per piece); merges are cut into
    invocations of MERGE_DAYS meter-days, so no check or merge invocation grows with the file."""
    rows = 100_000_000
    factor = rows / args.rows
    print(f"\n3. Modelled: {rows:,} rows (x{factor:,.0f})")
    best = min(runs, key=lambda run: run.wall)
    one_wall = best.wall * factor
    print(
        f"one invocation, W={best.workers}: {one_wall / 60:,.0f} min of work: "
        f"{'fits' if one_wall < 900 else 'does NOT fit'} in Lambda's 15 minutes"
    )
    piece_count = math.ceil(pieces.pieces * factor)
    bucket_count = min(math.ceil(pieces.buckets * factor), MAX_BUCKETS)
    group_rows_share = pieces.group_total * factor / bucket_count
    group_slowest = group_rows_share + piece_count * STAGED_GET_SECONDS / STAGED_GETS_AT_ONCE
    merge_days = pieces.days * factor
    merge_count = math.ceil(merge_days / MERGE_DAYS)
    merge_slowest = pieces.merge_total / pieces.days * MERGE_DAYS
    steps = [
        ("check", piece_count, pieces.check_max, pieces.check_total * factor),
        ("group", bucket_count, group_slowest, group_slowest * bucket_count),
        ("merge", merge_count, merge_slowest, pieces.merge_total * factor),
    ]
    for name, count, slowest, total in steps:
        print(f"{name:<8} {count:>11,} invocations, slowest {slowest:>6.1f} s, total {total / 60:>7.1f} min")
    print(f"{'workers':>8} {'wall min':>9}")
    for workers in (10, 50, 100, 200):
        wall = sum(math.ceil(count / workers) * slowest for _, count, slowest, _ in steps)
        print(f"{workers:>8} {wall / 60:>9.1f}")
    invocations = sum(count for _, count, _, _ in steps)
    invocation_seconds = sum(total for _, _, _, total in steps)
    lambda_cost = invocation_seconds * LAMBDA_GB * LAMBDA_GB_SECOND + invocations * LAMBDA_REQUEST
    write_units, read_units = pieces.write_units * scale * 100, pieces.read_units * scale * 100
    dynamo_cost = write_units * WRITE_UNIT + read_units * READ_UNIT
    # one staged object per piece (read by ranges, one GET per bucket) and one per merge invocation
    s3_cost = (piece_count + merge_count) * S3_PUT + (piece_count * bucket_count + merge_count) * S3_GET
    sqs_cost = invocations * 3 * SQS_REQUEST  # send, receive, delete
    print(
        f"cost: Lambda {invocation_seconds / 3600:.1f} h at {LAMBDA_GB:.0f} GB = ${lambda_cost:.2f}; DynamoDB "
        f"{write_units:,.0f} WRU + {read_units:,.0f} RRU = ${dynamo_cost:.2f}; S3 staging ${s3_cost:.2f}; "
        f"SQS ${sqs_cost:.3f}; total ${lambda_cost + dynamo_cost + s3_cost + sqs_cost:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--meters", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=4.0)
    parser.add_argument("--workers", default="1,16,64")
    parser.add_argument("--piece-rows", type=int, default=100_000)
    parser.add_argument("--buckets", type=int, default=10)
    parser.add_argument("--write-workers", type=int, default=16)
    parser.add_argument("--child", nargs="+")
    args, _ = parser.parse_known_args()
    if args.child:
        kind, *rest = args.child
        if kind == "baseline":
            print(json.dumps({"peak_mb": peak_mb()}))
        elif kind == "one":
            print(json.dumps(asdict(run_one_invocation(Path(rest[0]), int(rest[1]), float(rest[2])))))
        else:
            piece = run_pieces(Path(rest[0]), int(rest[1]), int(rest[2]), int(rest[3]), float(rest[4]))
            print(json.dumps(asdict(piece)))
        return
    report(args)


if __name__ == "__main__":
    main()
