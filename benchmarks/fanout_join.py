"""The fan-out's settle step on a failed file: its peak heap at two file sizes. Figures only, no assertions.

A file whose every row is bad (its meter is not the partner's: one `MTR` error per row) is cut into `--pieces`
pieces of `--piece-kb` KiB each and fanned out (`intervals.use_cases.fanout`) on the InMemory fakes: every
piece checked, every bucket grouped. Only the last group task, the one that settles the file (reads every
piece's summary, assembles the report, writes the errors CSV and uploads it), runs under `tracemalloc`; its
peak is the Python heap that invocation needs beyond what it started with. The fake bucket keeps the staged
summaries from before the window (not counted) and writes the uploaded CSV to a temporary file on disk as S3
would receive it (not counted), so the peak is the settling invocation's own: flat (a ratio near 1x between the
sizes) when it holds one piece's summary at a time, growing with the pieces when it holds them all.

The CSV is spooled in memory up to `SPOOL_BYTES` (4 MB) before it moves to disk: choose sizes whose CSV is
larger than that at both ends (the defaults are) or the smaller file's peak is lower by its unspilled CSV.

    .venv/bin/python -m benchmarks.fanout_join [--pieces 10,100] [--piece-kb 1024] [--buckets 16]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from meterhub.intervals.records import UploadStatus
from meterhub.intervals.use_cases.fanout import with_fan_out
from meterhub.intervals.use_cases.pipeline import Ingestion
from meterhub.platform.object_store import CHUNK_BYTES

from tests.fakes.intervals import InMemoryIntervalStore, InMemoryUploadRepository
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.queues import InMemoryWorkQueue

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PARTNER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
METER = "11111111-1111-4111-8111-111111111111"
HEADER = (
    "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,energy_consumed_kwh,"
    "energy_generated_kwh,final,region\n"
)


class StreamedToDisk(InMemoryObjectStore):
    """The fake bucket, except that a streamed put lands in a file on disk (as S3 would take it), not in memory."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder
        self.streamed_bytes: dict[str, int] = {}

    def put_file(self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        with tempfile.NamedTemporaryFile(dir=self.folder, delete=False) as target:
            shutil.copyfileobj(body, target, CHUNK_BYTES)
            self.streamed_bytes[key] = target.tell()
        self.streamed.append(key)


def every_row_bad(size: int) -> bytes:
    """About `size` bytes of rows, every one of a meter the partner does not have (its only error: the slots
    repeat within 2025, before NOW, and an unknown meter's rows are not checked for duplicates)."""
    lines = [HEADER]
    written, slot = len(HEADER), 0
    start = datetime(2025, 1, 1, tzinfo=UTC)
    while written < size:
        begin = start + timedelta(minutes=15 * (slot % (96 * 365)))
        end = begin + timedelta(minutes=15)
        line = f"{METER},{begin:%Y-%m-%dT%H:%M:%SZ},{end:%Y-%m-%dT%H:%M:%SZ},0.750,1.000,0.250,false,MA\n"
        lines.append(line)
        written += len(line)
        slot += 1
    return "".join(lines).encode()


@dataclass
class Settle:
    pieces: int
    file_mb: float
    errors: int
    csv_mb: float
    peak_mb: float
    seconds: float


def run(pieces: int, piece_bytes: int, buckets: int, folder: str) -> Settle:
    objects = StreamedToDisk(folder)
    uploads, queue = InMemoryUploadRepository(), InMemoryWorkQueue()
    ingestion = Ingestion(uploads, InMemoryIntervalStore(), objects, InMemoryMeterRepository(), now=lambda: NOW)
    fan_out = with_fan_out(ingestion, queue, fan_out_bytes=1, piece_bytes=piece_bytes, buckets=buckets)
    body = every_row_bad(pieces * piece_bytes - piece_bytes // 2)
    key = f"partners/{PARTNER}/interval-data/all-bad.csv"
    objects.put(key, body, "text/csv")
    job = fan_out.ingestion.ingest(key)
    assert job is not None

    def take() -> list[dict[str, Any]]:
        messages, queue.messages = list(queue.messages), []
        queue.delays.clear()
        return messages

    for message in take():  # the checks
        fan_out.handle(message)
    groups = take()
    for message in groups[:-1]:
        fan_out.handle(message)
    tracemalloc.start()
    started = time.perf_counter()
    fan_out.handle(groups[-1])  # the last bucket done: it settles the file
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    done = uploads.get(PARTNER, job.job_id)
    assert done is not None and done.status is UploadStatus.FAILED, done
    return Settle(
        pieces=done.pieces_total or 0,
        file_mb=len(body) / 1e6,
        errors=done.errors_total,
        csv_mb=sum(objects.streamed_bytes.values()) / 1e6,
        peak_mb=peak / 1e6,
        seconds=seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pieces", default="10,100", help="two piece counts, smaller first")
    parser.add_argument("--piece-kb", type=int, default=1024)
    parser.add_argument("--buckets", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(value) for value in args.pieces.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        results = [run(pieces, args.piece_kb * 1024, args.buckets, folder) for pieces in sizes]
    print(f"{'pieces':>7} {'file MB':>8} {'errors':>10} {'CSV MB':>8} {'settle peak heap MB':>20} {'seconds':>8}")
    for result in results:
        print(
            f"{result.pieces:>7} {result.file_mb:>8.1f} {result.errors:>10,} {result.csv_mb:>8.1f}"
            f" {result.peak_mb:>20.1f} {result.seconds:>8.1f}"
        )
    first, last = results[0], results[-1]
    print(
        f"peak heap {last.peak_mb / first.peak_mb:.2f}x for {last.pieces / first.pieces:.0f}x the pieces"
        f" ({last.errors / first.errors:.0f}x the errors)"
    )


if __name__ == "__main__":
    main()
