"""The fan-out's settle step on a failed file: its peak heap at two file sizes, and the temporary files it makes.
Figures only, no assertions.

A file whose every row is bad (its meter is not the partner's: one `MTR` error per row) is cut into `--pieces`
pieces of `--piece-kb` KiB each and fanned out (`intervals.use_cases.fanout`) on the InMemory fakes: every
piece checked, every bucket grouped. Only the last group task, the one that settles the file (assembles the
report from every piece's summary, then generates the errors CSV from them again as the upload reads it), runs
under `tracemalloc`; its peak is the Python heap that invocation needs beyond what it started with. The fake
bucket keeps the staged summaries from before the window (not counted) and takes the streamed CSV as S3 would,
a chunk at a time, keeping only its size (the S3 adapter's multipart parts in flight, at most 40 MiB whatever
the CSV's size, are not in the figure). Flat (a ratio near 1x between the sizes) when the settle holds one
piece's summary at a time and never the CSV; growing with the pieces when it holds them.

While the settle runs, an audit hook counts the files created under `tempfile.gettempdir()` (a spooled file's
rollover included: Linux makes it with O_TMPFILE, which leaves no name to list). The settle makes none: the CSV
never touches the function's /tmp (before issue 16's streaming it was spooled there past 4 MB, one file per
settle, as large as the CSV).

Measured (the defaults: 10 and 100 pieces of 1 MiB, 16 buckets; a 10 MB and a 104 MB file, 94,000 and 984,000
errors, an 8.7 MB and a 92.4 MB CSV):

                          settle peak heap   temp files                                seconds at 100 pieces
    spooled CSV (before)  9.4 MB, 9.4 MB     1, 1 (4 MB in memory, the rest on /tmp)   95 (a busy machine)
    streamed CSV (now)    6.6 MB, 6.6 MB     0, 0                                      125

Both flat (1.00x for 10x the pieces); the stream drops the 4 MB spool and the disk. The settle now parses
every summary twice (the report, then the CSV), hence the longer time.

    .venv/bin/python -m benchmarks.fanout_join [--pieces 10,100] [--piece-kb 1024] [--buckets 16]
"""

from __future__ import annotations

import argparse
import os
import sys
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


class StreamedAway(InMemoryObjectStore):
    """The fake bucket, except that a streamed put is read a chunk at a time and only its size kept (as S3
    would take it: not in this process's memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.streamed_bytes: dict[str, int] = {}

    def put_file(self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        size = 0
        while chunk := body.read(CHUNK_BYTES):
            size += len(chunk)
        self.streamed_bytes[key] = size
        self.streamed.append(key)


class TempFiles:
    """Counts the files created under the temporary folder while `counting` (an audit hook: it sees a
    spooled file's O_TMPFILE rollover, which has no name in the folder to list)."""

    def __init__(self) -> None:
        self.counting = False
        self.created = 0
        self._folder = os.path.realpath(tempfile.gettempdir())
        self._creating = os.O_CREAT | getattr(os, "O_TMPFILE", 0)
        self._opened_by_io: str | None = None
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.counting:
            return
        if event == "tempfile.mkstemp":
            self.created += 1
        elif event == "open" and isinstance(args[0], str) and isinstance(args[2], int) and args[2] & self._creating:
            if args[1] is None and self._opened_by_io == args[0]:
                self._opened_by_io = None  # io.open through an opener: its os.open, the same file counted once
                return
            self._opened_by_io = args[0] if args[1] is not None else None
            self.created += os.path.realpath(args[0]).startswith(self._folder)


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
    temp_files: int
    seconds: float


def run(pieces: int, piece_bytes: int, buckets: int, temp_files: TempFiles) -> Settle:
    objects = StreamedAway()
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
    created_before = temp_files.created
    tracemalloc.start()
    temp_files.counting = True
    started = time.perf_counter()
    fan_out.handle(groups[-1])  # the last bucket done: it settles the file
    seconds = time.perf_counter() - started
    temp_files.counting = False
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
        temp_files=temp_files.created - created_before,
        seconds=seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pieces", default="10,100", help="two piece counts, smaller first")
    parser.add_argument("--piece-kb", type=int, default=1024)
    parser.add_argument("--buckets", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(value) for value in args.pieces.split(",")]
    temp_files = TempFiles()
    results = [run(pieces, args.piece_kb * 1024, args.buckets, temp_files) for pieces in sizes]
    header = f"{'pieces':>7} {'file MB':>8} {'errors':>10} {'CSV MB':>8} {'settle peak heap MB':>20}"
    print(f"{header} {'temp files':>10} {'seconds':>8}")
    for result in results:
        print(
            f"{result.pieces:>7} {result.file_mb:>8.1f} {result.errors:>10,} {result.csv_mb:>8.1f}"
            f" {result.peak_mb:>20.1f} {result.temp_files:>10} {result.seconds:>8.1f}"
        )
    first, last = results[0], results[-1]
    print(
        f"peak heap {last.peak_mb / first.peak_mb:.2f}x for {last.pieces / first.pieces:.0f}x the pieces"
        f" ({last.errors / first.errors:.0f}x the errors)"
    )


if __name__ == "__main__":
    main()
