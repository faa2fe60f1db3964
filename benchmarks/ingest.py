"""Interval ingestion: validation + day grouping against a bare csv.reader loop, and peak memory by file size.

A load file of valid rows (1,000 meters x ~N/1,000 intervals, 15-minute slots from 2025-01-01) is generated
in a temp dir. Throughput: the floor is a bare `csv.reader` loop over the same bytes (what pure-Python CSV
parsing costs at least); the pipeline is `IntervalFileValidator` + `day_batches` (flush per 50,000 rows)
into an in-memory sink that builds each day item's record and counts it, standing in for DynamoDB. Runs are
interleaved and the best CPU time (`process_time`) of `--repeat` is reported, so machine noise hits both
alike. Target: ratio <= 3.

Memory (`--memory`): each size runs in a fresh interpreter that reports its peak RSS (`ru_maxrss`); a bare
interpreter that only imports the modules is shown for reference. Targets: 5x rows <= 1.25x peak, <= 200 MB.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--repeat 3] [--order meter|time] [--decimals 3]
    .venv/bin/python benchmarks/ingest.py --memory [--rows 1000000] [--factor 5]

Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from meterhub.intervals.rules.model import MeterStatus, MeterVerdict
from meterhub.intervals.rules.slots import DayKey, DaySlots
from meterhub.intervals.rules.validator import IntervalFileValidator

METERS = 1_000
BATCH_ROWS = 50_000
START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = (
    "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,energy_consumed_kwh,"
    "energy_generated_kwh,final,region\r\n"
)
VERDICT = MeterVerdict(MeterStatus.OK, regions=frozenset({"MA", "ISONE"}))


def generate(path: Path, rows: int, order: str, decimals: int = 3) -> int:
    """Write `rows` valid rows (1,000 meters, consecutive intervals each); returns the file size.

    `order` is meter-major (each meter's intervals together) or time-major (each interval for all meters);
    energies have `decimals` decimals (3: a few thousand distinct cells; 6: nearly all distinct).
    """
    scale = 10**decimals
    per_meter = -(-rows // METERS)
    meters = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"meter-{m}")) for m in range(METERS)]
    stamps = [(START + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(per_meter + 1)]
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        pairs = (
            ((m, i) for m in range(METERS) for i in range(per_meter))
            if order == "meter"
            else ((m, i) for i in range(per_meter) for m in range(METERS))
        )
        lines: list[str] = []
        for m, i in pairs:
            if written == rows:
                break
            consumed = (m * 7919 + i * 104729) % (2 * scale)
            generated = (m * 31 + i * 17 * (scale // 1000 or 1) + i) % scale
            final = "true" if (i // 96) % 2 else "false"
            lines.append(
                f"{meters[m]},{stamps[i]},{stamps[i + 1]},{(consumed - generated) / scale:.{decimals}f},"
                f"{consumed / scale:.{decimals}f},{generated / scale:.{decimals}f},{final},MA\r\n"
            )
            written += 1
            if len(lines) == 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return path.stat().st_size


def floor(path: Path) -> int:
    """The bare loop: csv.reader over the decoded bytes, nothing else."""
    count = 0
    with path.open("rb") as raw:
        for _row in csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline="")):
            count += 1
    return count - 1


@dataclass
class CountingSink:
    """In-memory stand-in for the day-item writer: builds each item's record, keeps counts only."""

    items: int = 0
    slots: int = 0
    batches: int = 0

    def write(self, batch: dict[DayKey, DaySlots]) -> None:
        self.batches += 1
        for day in batch.values():
            record = day.to_record()
            self.items += 1
            self.slots += record["present"].bit_count()


def pipeline(path: Path) -> tuple[int, CountingSink, bool]:
    """Validation + day grouping (flush per 50,000 rows) into the counting sink; (rows, sink, file ok)."""
    verdicts: dict[str, MeterVerdict] = {}

    def lookup(meter_id: str) -> MeterVerdict:
        return verdicts.setdefault(meter_id, VERDICT)

    validator = IntervalFileValidator(lookup, now=NOW)
    sink = CountingSink()
    with path.open("rb") as raw:
        for batch in validator.day_batches(raw, BATCH_ROWS):
            sink.write(batch)
    return validator.report.rows_valid, sink, validator.report.ok


def timed(function: Callable[[Path], object], path: Path) -> float:
    """CPU seconds of this process: less disturbed than wall time by other work on a shared machine."""
    started = time.process_time()
    function(path)
    return time.process_time() - started


def throughput(rows: int, repeat: int, order: str, decimals: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.csv"
        size = generate(path, rows, order, decimals)
        print(f"load file: {rows:,} rows, {METERS:,} meters, order={order}, {decimals} decimals, {size / 1e6:.1f} MB")
        counted, sink, ok = pipeline(path)  # warm-up, and the counts
        print(
            f"pipeline check: {counted:,} valid rows, file ok={ok}, {sink.items:,} day items in {sink.batches} batches"
        )
        floors, pipes = [], []
        for _ in range(repeat):
            floors.append(timed(floor, path))
            pipes.append(timed(pipeline, path))
        best_floor, best_pipe = min(floors), min(pipes)
        print(
            f"bare csv.reader loop : {best_floor:6.2f} s CPU  {rows / best_floor:>12,.0f} rows/s   (best of {repeat})"
        )
        print(f"validate + group     : {best_pipe:6.2f} s CPU  {rows / best_pipe:>12,.0f} rows/s   (best of {repeat})")
        print(f"ratio pipeline/floor : {best_pipe / best_floor:6.2f} x   (target <= 3)")
        print(f"day items per 1M rows: {sink.items * 1_000_000 / rows:,.0f}")


CHILD_BASELINE = "baseline"
CHILD_PIPELINE = "pipeline"


def child(kind: str, path: Path) -> None:
    if kind == CHILD_PIPELINE:
        pipeline(path)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def peak_mb(kind: str, path: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[-1]) / 1024


def memory(rows: int, factor: int, order: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        for size in (rows, rows * factor):
            path = Path(tmp) / f"load-{size}.csv"
            generate(path, size, order)
            results.append((size, peak_mb(CHILD_PIPELINE, path), path.stat().st_size / 1e6))
            path.unlink()
        print(f"interpreter + imports only : {peak_mb(CHILD_BASELINE, Path(tmp)):7.1f} MB peak RSS")
        for size, peak, megabytes in results:
            print(f"pipeline, {size:>10,} rows : {peak:7.1f} MB peak RSS  (file {megabytes:,.0f} MB)")
        small, large = results[0][1], results[1][1]
        print(f"ratio {factor}x rows          : {large / small:7.2f} x   (target <= 1.25; absolute <= 200 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--order", choices=("meter", "time"), default="meter")
    parser.add_argument("--decimals", type=int, choices=range(3, 10), default=3)
    parser.add_argument("--memory", action="store_true", help="peak memory for --rows and --factor x --rows")
    parser.add_argument("--factor", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
    elif args.memory:
        memory(args.rows, args.factor, args.order)
    else:
        throughput(args.rows, args.repeat, args.order, args.decimals)


if __name__ == "__main__":
    main()
