"""Interval ingestion: DynamoDB write requests and write capacity units per 1M rows, on in-process moto.

The real pipeline (`intervals.use_cases.pipeline.Ingestion` with the DynamoDB upload, interval and meter stores and
the S3 object store) ingests a generated load file from the data bucket of template.yaml, provisioned on
`mock_aws`. The file has `--rows` valid rows (default 1,000,000): 1,000 meters (ISONE DEVICE, created on moto
beforehand) x ~`rows / 1,000` consecutive 15-minute intervals from 2025-01-01 (~10 days), meter-major (or
`--order time`: every meter's interval i, then i + 1, ...).

DynamoDB requests are counted with botocore event hooks on `platform.adapters.clients.dynamodb()` (the client every
adapter uses), registered after the meters were created so only the ingestion counts:

* `before-call.dynamodb.<Operation>`: one write request per PutItem / UpdateItem / DeleteItem, one per item of
  BatchWriteItem / TransactWriteItems; the item sizes are taken from the serialized request.
* `before-parameter-build.dynamodb.<write>` asks for `ReturnConsumedCapacity=TOTAL`, and
  `after-call.dynamodb.<write>` adds up what came back. moto answers a constant 1.0 per PutItem whatever the
  item size (moto.dynamodb.responses.include_consumed_capacity), so WCU are also *estimated* the way DynamoDB
  bills them: ceil(item size / 1 KB) per item written (attribute names + values; numbers as
  ceil(digits / 2) + 1 bytes). A conditional put over an existing item is billed on the larger of the old and
  new item; the estimate uses the new one (a day item only grows).

Target (issue 3): <= 15,000 write requests per 1M rows (one item per row would be 1,000,000). Figures only, no
assertions.

    .venv/bin/python benchmarks/ingest_writes.py [--rows 1000000] [--meters 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 1, 1, tzinfo=UTC)
HEADER = (
    "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,energy_consumed_kwh,"
    "energy_generated_kwh,final,region\r\n"
)
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
READS = ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems")


# ----- the load file ----------------------------------------------------------------------------------------


def generate(path: Path, rows: int, meters: list[str], order: str = "meter") -> int:
    """`rows` valid rows, meter-major (each meter's consecutive intervals together) or time-major (every
    meter's interval i, then i + 1, ...). Returns the file size."""
    per_meter = -(-rows // len(meters))
    stamps = [(START + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(per_meter + 1)]
    written = 0
    cells = (
        ((m, meter, i) for m, meter in enumerate(meters) for i in range(per_meter))
        if order == "meter"
        else ((m, meter, i) for i in range(per_meter) for m, meter in enumerate(meters))
    )
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        lines: list[str] = []
        for m, meter, i in cells:
            if written == rows:
                break
            consumed = (m * 7919 + i * 104729) % 2000
            generated = (m * 31 + i * 18) % 1000
            final = "true" if (i // 96) % 2 else "false"
            lines.append(
                f"{meter},{stamps[i]},{stamps[i + 1]},{(consumed - generated) / 1000:.3f},"
                f"{consumed / 1000:.3f},{generated / 1000:.3f},{final},MA\r\n"
            )
            written += 1
            if len(lines) == 10_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return path.stat().st_size


# ----- counting -----------------------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    digits = sum(ch.isdigit() for ch in text.lstrip("-0.")) or 1
    return math.ceil(digits / 2) + 1


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v).encode()) for v in inner)
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    return len(json.dumps(inner))


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """DynamoDB's item size: attribute names plus values (close to what it bills on)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


@dataclass
class Counts:
    """Requests by (operation, table), items written and their estimated WCU, moto's reported capacity."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    items_written: Counter[str] = field(default_factory=Counter)
    estimated_wcu: Counter[str] = field(default_factory=Counter)
    item_bytes: Counter[str] = field(default_factory=Counter)
    reported_wcu: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def written(self, table: str, item: dict[str, Any]) -> None:
        size = item_size(item)
        self.items_written[table] += 1
        self.item_bytes[table] += size
        self.estimated_wcu[table] += max(1, math.ceil(size / 1024))

    def on_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        operation = model.name
        body = json.loads(params.get("body") or b"{}")
        if operation in ("PutItem", "UpdateItem", "DeleteItem", "GetItem", "Query", "Scan"):
            table = body.get("TableName", "?")
            self.requests[(operation, table)] += 1
            if operation == "PutItem":
                self.written(table, body["Item"])
            elif operation in ("UpdateItem", "DeleteItem"):
                self.written(table, body["Key"])
        elif operation == "BatchWriteItem":
            for table, entries in body.get("RequestItems", {}).items():
                self.requests[(operation, table)] += 1
                for entry in entries:
                    self.written(table, (entry.get("PutRequest") or {}).get("Item") or entry["DeleteRequest"]["Key"])
        elif operation == "TransactWriteItems":
            for entry in body.get("TransactItems", []):
                (_kind, request), *_ = entry.items()
                self.requests[(operation, request["TableName"])] += 1
                self.written(request["TableName"], request.get("Item") or request.get("Key") or {})
        else:
            self.requests[(operation, "?")] += 1

    def on_params(self, params: dict[str, Any], **_: Any) -> None:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def on_result(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.reported_wcu[entry.get("TableName", "?")] += float(entry.get("CapacityUnits", 0))

    def writes(self, table: str | None = None) -> int:
        return sum(n for (op, t), n in self.requests.items() if op in WRITES and (table is None or t == table))

    def reads(self, table: str | None = None) -> int:
        return sum(n for (op, t), n in self.requests.items() if op in READS and (table is None or t == table))


def hook(client: Any, counts: Counts) -> None:
    events = client.meta.events
    for operation in WRITES + READS:
        events.register(f"before-call.dynamodb.{operation}", counts.on_call)
    for operation in WRITES:
        events.register(f"before-parameter-build.dynamodb.{operation}", counts.on_params)
        events.register(f"after-call.dynamodb.{operation}", counts.on_result)


# ----- the run --------------------------------------------------------------------------------------------------


def _environment() -> dict[str, str]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    from meterhub_dev.local.stack import load_template

    template = load_template(ROOT / "template.yaml")
    environment = dict(template.functions["IntervalIngestFunction"].environment)
    os.environ.update(environment)
    return environment


class _SameObject:
    """Stands in for the `copy` module inside moto's DynamoDB backend while the meters are created."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value


def _create_meters(partner_id: str, meter_ids: list[str]) -> None:
    """The meters, through the repository (one transaction each). moto backs up every table a transaction
    touches with a deep copy (quadratic over 1,000 creates, ~60 s); nothing fails here, so that backup is
    skipped for the setup (benchmarks/batch_jobs.py does the same) and restored before the ingestion."""
    import moto.dynamodb.models as dynamodb_models
    from meterhub import wiring
    from meterhub.platform.settings import MetersTableSettings

    repository = wiring.meter_repository(MetersTableSettings.load())
    models: Any = dynamodb_models
    saved = models.copy
    models.copy = _SameObject
    try:
        _create_each(repository, partner_id, meter_ids)
    finally:
        models.copy = saved


def _create_each(repository: Any, partner_id: str, meter_ids: list[str]) -> None:
    from meterhub.meters.records import MeterRecord

    created = START - timedelta(days=30)
    for n, meter_id in enumerate(meter_ids):
        data = {
            "partner_reference": f"bench-{n:05d}",
            "transmission_region": "ISONE",
            "customer_classification": "RESIDENTIAL",
            "load_types": ["BATTERY_STORAGE"],
            "meter_type": "DEVICE",
            "customer": {"street_1": f"{n} Main St", "postal_code": "02110", "city": "Boston"}
            | {"state_or_province_code": "MA", "country_code": "US"},
        }
        repository.create(
            MeterRecord(
                meter_id=meter_id,
                partner_id=partner_id,
                partner_reference=data["partner_reference"],
                data=data,
                created_at=created,
                updated_at=created,
            )
        )


def timed(step: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run(rows: int, meter_count: int, order: str = "meter") -> None:
    environment = _environment()
    import boto3
    from meterhub import wiring
    from meterhub.intervals.use_cases.pipeline import Ingestion
    from meterhub.platform.adapters import clients
    from meterhub.platform.settings import (
        DataBucketSettings,
        IntervalsTableSettings,
        JobsTableSettings,
        MetersTableSettings,
    )
    from meterhub_dev.local.provisioning import provision
    from meterhub_dev.local.stack import load_template
    from moto import mock_aws

    partner_id = str(uuid.uuid4())
    meters = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-meter-{m}")) for m in range(meter_count)]
    intervals_table = environment["INTERVALS_TABLE_NAME"]
    with tempfile.TemporaryDirectory() as tmp, mock_aws():
        wiring.reset()
        template = load_template(ROOT / "template.yaml")
        region = "us-east-1"
        provision(
            template,
            boto3.client("dynamodb", region_name=region),
            boto3.client("s3", region_name=region),
            boto3.client("sqs", region_name=region),
        )
        path = Path(tmp) / "load.csv"
        size = generate(path, rows, meters, order)
        _, meters_s, _ = timed(lambda: _create_meters(partner_id, meters))
        key = f"partners/{partner_id}/interval-data/load.csv"
        clients.s3().upload_file(str(path), environment["DATA_BUCKET_NAME"], key)
        per_meter = -(-rows // meter_count)
        print(
            f"load file : {rows:,} rows, {meter_count:,} meters x {per_meter:,} intervals "
            f"(~{per_meter / 96:.1f} days each), {order}-major, {size / 1e6:.1f} MB; meters created in {meters_s:.1f} s"
        )

        counts = Counts()
        hook(clients.dynamodb(), counts)
        ingestion = Ingestion(
            uploads=wiring.upload_repository(JobsTableSettings.load()),
            intervals=wiring.interval_store(IntervalsTableSettings.load()),
            objects=wiring.data_objects(DataBucketSettings.load()),
            meters=wiring.meter_repository(MetersTableSettings.load()),
        )
        job, wall, cpu = timed(lambda: ingestion.ingest(key))

    assert job is not None
    scale = 1_000_000 / rows
    interval_writes = counts.writes(intervals_table)
    print(
        f"job       : {job.status}, rows_valid {job.rows_valid:,}, days_written {job.days_written:,}, "
        f"errors {job.errors_total}"
    )
    print(f"time      : {wall:.1f} s wall, {cpu:.1f} s CPU -> {rows / wall:,.0f} rows/s (2 passes + moto)")
    print("DynamoDB requests during the ingestion (operation, table: count):")
    for (operation, table), n in sorted(counts.requests.items()):
        print(f"    {operation:<18} {table:<16} {n:>10,}")
    items = counts.items_written[intervals_table]
    average = counts.item_bytes[intervals_table] / items if items else 0.0
    print(
        f"intervals table: {interval_writes:,} write requests = {interval_writes * scale:,.0f} per 1M rows "
        f"(target <= 15,000; one item per row would be 1,000,000); avg day item {average:,.0f} B"
    )
    print(
        f"    WCU estimated from item sizes (ceil(size/1KB)): {counts.estimated_wcu[intervals_table]:,} "
        f"= {counts.estimated_wcu[intervals_table] * scale:,.0f} per 1M rows"
    )
    print(
        f"    WCU reported by moto (ConsumedCapacity, a constant 1.0 per write): "
        f"{counts.reported_wcu[intervals_table]:,.0f}"
    )
    print(f"    read requests (merge reads the day first): {counts.reads(intervals_table):,}")
    total = counts.writes()
    print(
        f"all tables: {total:,} write requests = {total * scale:,.0f} per 1M rows; "
        f"estimated WCU {sum(counts.estimated_wcu.values()):,} = {sum(counts.estimated_wcu.values()) * scale:,.0f}"
        " per 1M rows"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--meters", type=int, default=1_000)
    parser.add_argument("--order", choices=["meter", "time"], default="meter")
    args = parser.parse_args()
    run(args.rows, args.meters, args.order)


if __name__ == "__main__":
    main()
