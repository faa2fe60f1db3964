"""Batch meter jobs: throughput, DynamoDB requests per asset and worker memory, against moto.

moto backs up every table a transaction touches with a deep copy (O(table size) per call; real DynamoDB has
no such cost), which would make both the worker and the baseline quadratic and swamp what we measure. The
benchmark therefore swaps that backup for a no-op (`_no_table_backups`); nothing fails here, so no rollback
is needed. Throughput runs on in-process moto (`mock_aws`); memory runs the worker in a fresh process
against a moto server process, so moto's tables do not count against the worker.

Measured in one run, on the same generated assets:
- the worker on a JSON job and on the same assets as a CSV job (assets/s, DynamoDB requests per asset);
- the baseline: the single-create use case called in a loop on the same assets (what the worker must not
  lose much against: the batching adds the per-asset outcome record and the resumable cursor);
- the worker's peak RSS for a small and a large job, each in a fresh process (the moto server runs in its
  own process, so its in-memory tables do not count against the worker).

    .venv/bin/python benchmarks/batch_jobs.py [--assets 10000] [--small 1000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [
    "partner_reference",
    "transmission_region",
    "customer_classification",
    "load_types.0",
    "meter_type",
    "customer.street_1",
    "customer.postal_code",
    "customer.city",
    "customer.state_or_province_code",
    "device.device_type",
    "device.battery_power_capacity_kw",
    "device.battery_energy_capacity_kwh",
]


def assets(count: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "partner_reference": f"{prefix}-{n:06d}",
            "transmission_region": "ISONE",
            "customer_classification": "RESIDENTIAL",
            "load_types": ["BATTERY_STORAGE"],
            "meter_type": "DEVICE",
            "customer": {
                "street_1": f"{n} Main St",
                "postal_code": "02110",
                "city": "Boston",
                "state_or_province_code": "MA",
            },
            "device": {"device_type": "BATTERY", "battery_power_capacity_kw": 5.0, "battery_energy_capacity_kwh": 13.5},
        }
        for n in range(count)
    ]


def as_csv(documents: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for document in documents:
        row = []
        for column in COLUMNS:
            value: Any = document
            for part in column.split("."):
                value = value[int(part)] if part.isdigit() else value[part]
            row.append(value)
        writer.writerow(row)
    return out.getvalue().encode()


class _SameObject:
    """Stands in for the `copy` module inside moto's DynamoDB backend: `deepcopy` returns its argument."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value


def _no_table_backups() -> None:
    import moto.dynamodb.models as dynamodb_models

    dynamodb_models.copy = _SameObject  # type: ignore[assignment,attr-defined]


SERVER = (
    "import sys; sys.path.insert(0, {root!r}); from benchmarks.batch_jobs import _no_table_backups; "
    "_no_table_backups(); from moto.server import main; main(['-H', '127.0.0.1', '-p', '{port}'])"
)


@contextmanager
def moto_server() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT), port=port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait()


def configure(endpoint: str) -> None:
    """Point boto3 at `endpoint` (empty: in-process moto) and load the worker's environment."""
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    else:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    from meterhub import wiring
    from meterhub.platform.settings import forget_loaded_settings

    wiring.reset()
    forget_loaded_settings()
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="bench",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    from meterhub_dev.local.intrinsics import LocalContext
    from meterhub_dev.local.stack import load_template

    template = load_template(ROOT / "template.yaml", LocalContext(aws_endpoint_url=endpoint or None))
    os.environ.update(template.functions["MeterJobWorkerFunction"].environment)


def provision() -> None:
    import boto3
    from meterhub_dev.local.intrinsics import LocalContext
    from meterhub_dev.local.provisioning import provision as create_resources
    from meterhub_dev.local.stack import load_template

    template = load_template(ROOT / "template.yaml", LocalContext(aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL")))
    create_resources(template, boto3.client("dynamodb"), boto3.client("s3"), boto3.client("sqs"))


class RequestCounter:
    def __init__(self) -> None:
        from meterhub.platform.adapters import clients

        self.count = 0
        clients.dynamodb().meta.events.register("before-call.dynamodb", self._count)

    def _count(self, **_: Any) -> None:
        self.count += 1


def partner(name: str) -> str:
    from meterhub import wiring
    from meterhub.partners.use_cases import create_partner
    from meterhub.platform.settings import PartnersTableSettings

    return create_partner(wiring.partner_repository(PartnersTableSettings.load()), name).partner_id


def worker() -> Any:
    from meterhub import wiring
    from meterhub.meter_jobs.use_cases.worker import Worker
    from meterhub.meters.use_cases.create_meter import connect_link
    from meterhub.platform.settings import (
        DataBucketSettings,
        JobsTableSettings,
        MetersTableSettings,
        PartnersTableSettings,
    )

    partners = wiring.partner_repository(PartnersTableSettings.load())
    return Worker(
        jobs=wiring.job_repository(JobsTableSettings.load()),
        meters=wiring.meter_repository(MetersTableSettings.load()),
        objects=wiring.data_objects(DataBucketSettings.load()),
        connect=lambda partner_id: connect_link(partners, partner_id),
    )


def submit(partner_id: str, body: bytes, content_type: str) -> str:
    from meterhub import wiring
    from meterhub.meter_jobs.use_cases.jobs import submit_job
    from meterhub.platform.settings import DataBucketSettings, JobsTableSettings

    from tests.fakes.queues import InMemoryWorkQueue

    return submit_job(
        wiring.job_repository(JobsTableSettings.load()),
        wiring.data_objects(DataBucketSettings.load()),
        InMemoryWorkQueue(),
        partner_id,
        body,
        content_type,
        update_existing=False,
        file_name=None,
    )


def run_job(body: bytes, content_type: str, count: int) -> tuple[float, float]:
    """(assets/s, DynamoDB requests per asset) of the worker alone (submission excluded)."""
    partner_id = partner(f"bench {content_type} {uuid.uuid4().hex[:6]}")
    job_id = submit(partner_id, body, content_type)
    counter = RequestCounter()
    start = time.perf_counter()
    worker().process(partner_id, job_id, lambda: False)
    elapsed = time.perf_counter() - start
    from meterhub import wiring
    from meterhub.platform.settings import JobsTableSettings

    job = wiring.job_repository(JobsTableSettings.load()).get(partner_id, job_id)
    assert job is not None and job.assets_created_count == count, job
    return count / elapsed, counter.count / count


def run_single_creates(documents: list[dict[str, Any]]) -> tuple[float, float]:
    from meterhub import wiring
    from meterhub.meters.api_models.meter import CreateMeter
    from meterhub.meters.use_cases.create_meter import connect_link, create_meter
    from meterhub.platform.settings import MetersTableSettings, PartnersTableSettings

    partner_id = partner(f"bench single {uuid.uuid4().hex[:6]}")
    meters = wiring.meter_repository(MetersTableSettings.load())
    connect = connect_link(wiring.partner_repository(PartnersTableSettings.load()), partner_id)
    counter = RequestCounter()
    start = time.perf_counter()
    for document in documents:
        create_meter(meters, partner_id, CreateMeter.model_validate(document), update_existing=False, connect=connect)
    elapsed = time.perf_counter() - start
    return len(documents) / elapsed, counter.count / len(documents)


def worker_peak_rss(endpoint: str, count: int) -> float:
    """Peak RSS (MB) of a fresh process that only runs the worker on a `count`-asset job submitted here."""
    partner_id = partner(f"bench rss {uuid.uuid4().hex[:6]}")
    job_id = submit(partner_id, json.dumps({"assets": assets(count, f"rss{count}")}).encode(), "application/json")
    out = subprocess.run(
        [sys.executable, __file__, "--worker-only", f"{partner_id}/{job_id}", "--endpoint", endpoint],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["peak_rss_mb"])


def worker_only(endpoint: str, partner_and_job: str) -> None:
    configure(endpoint)
    partner_id, job_id = partner_and_job.split("/")
    before = _high_water_mark_mb()
    worker().process(partner_id, job_id, lambda: False)
    print(json.dumps({"peak_rss_mb": _high_water_mark_mb(), "before_worker_mb": before}))


def _high_water_mark_mb() -> float:
    """VmHWM of this process. Not ru_maxrss: Linux carries that across fork/exec from the parent, which here
    holds the in-process moto tables of the throughput runs."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--worker-only", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_only:
        worker_only(args.endpoint, args.worker_only)
        return
    from moto import mock_aws

    _no_table_backups()
    with mock_aws():
        configure("")
        provision()
        single_rate, single_requests = run_single_creates(assets(args.assets, "single"))
        documents = assets(args.assets, "json")
        json_rate, json_requests = run_job(json.dumps({"assets": documents}).encode(), "application/json", args.assets)
        csv_rate, csv_requests = run_job(as_csv(assets(args.assets, "csv")), "text/csv", args.assets)
    with moto_server() as endpoint:
        configure(endpoint)
        provision()
        small_rss = worker_peak_rss(endpoint, args.small)
        large_rss = worker_peak_rss(endpoint, args.assets)
    print(f"{args.assets} assets per job; throughput on in-process moto, memory against a moto server process")
    print(f"{'run':<34} {'assets/s':>9} {'DDB req/asset':>14} {'vs single loop':>15}")
    for name, rate, requests in (
        ("single-create use case, loop", single_rate, single_requests),
        ("worker, JSON job", json_rate, json_requests),
        ("worker, CSV job", csv_rate, csv_requests),
    ):
        print(f"{name:<34} {rate:>9.0f} {requests:>14.2f} {single_rate / rate:>14.2f}x")
    print(
        f"\nworker peak RSS: {args.small} assets {small_rss:.1f} MB, {args.assets} assets {large_rss:.1f} MB "
        f"(ratio {large_rss / small_rss:.2f}; target <= 1.25)"
    )
    print("targets: <= 3 DynamoDB requests per asset; worker time within 2x of the single-create loop")


if __name__ == "__main__":
    main()
