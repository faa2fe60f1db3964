"""The `meterhub` console script (clients/python) against the local runner, as a partner runs it: the key in
MH_API_KEY, human output or --json, exit codes that say how it went.

The big-upload test streams an interval file larger than the API body limit through the presigned URL and waits
for COMPLETED. Its size is MH_E2E_UPLOAD_MB (default 5.5, just over the API body limit, so `make test` stays
quick); the 50 MB run is `make test-big-upload` (75 s of upload and ingestion on a quiet machine, 150 s on a
loaded one).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from meterhub_client import Client

pytestmark = pytest.mark.e2e

METERHUB = Path(sys.executable).with_name("meterhub")  # the console script the client's pyproject declares
UPLOAD_MB = float(os.environ.get("MH_E2E_UPLOAD_MB") or 5.5)
UPLOAD_TIMEOUT_SECONDS = 600
METERS_HEADER = (
    "partner_reference,transmission_region,customer_classification,load_types.0,meter_type,customer.street_1,"
    "customer.postal_code,customer.city,customer.state_or_province_code"
)
INTERVALS_HEADER = "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,final\n"


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str

    def new_partner(self, name: str) -> tuple[str, str]: ...


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """`meterhub` with a partner's key in the environment and no config file."""

    url: str
    api_key: str
    workdir: Path

    def env(self) -> dict[str, str]:
        base = {name: value for name, value in os.environ.items() if not name.startswith("MH_")}
        return base | {"MH_API_URL": self.url, "MH_API_KEY": self.api_key, "MH_CONFIG": str(self.workdir / "none")}

    def __call__(self, *args: str, timeout: float = 120) -> Run:
        done = subprocess.run(
            [str(METERHUB), *args],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert self.api_key not in done.stdout + done.stderr, "the CLI printed the API key"
        return Run(done.returncode, done.stdout, done.stderr)

    def client(self) -> Client:
        return Client(self.api_key, self.url, poll_interval=0.2)


@pytest.fixture(scope="module")
def api_key(local_stack: LocalStack) -> str:
    """One partner for this module (each partner costs an admin CLI run): references carry uuid suffixes."""
    return local_stack.new_partner(f"E2E CLI {uuid.uuid4().hex[:6]}")[1]


@pytest.fixture
def cli(local_stack: LocalStack, api_key: str, tmp_path: Path) -> Cli:
    return Cli(local_stack.url, api_key, tmp_path)


def _meters_csv(path: Path, references: list[str], bad: Sequence[str] = ()) -> Path:
    """ISONE battery meters (partner interval data is ISONE's M&V); `bad` ones have an invalid ZIP."""
    lines = [METERS_HEADER]
    for reference in references:
        zip_code = "not-a-zip" if reference in bad else "02110"
        lines.append(f'{reference},ISONE,RESIDENTIAL,BATTERY_STORAGE,DEVICE,"1 Main St, Unit 2",{zip_code},Boston,MA')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _created_meters(cli: Cli, count: int) -> list[str]:
    references = [f"cli-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    run = cli("--json", "meters", "create", str(_meters_csv(cli.workdir / "meters.csv", references)))
    assert run.code == 0, run.err
    return [asset["meter_id"] for asset in run.json()["assets"]]


def _interval_file(path: Path, meter_ids: list[str], size_bytes: int) -> Path:
    """Valid 15-minute rows for `meter_ids`, slot after slot from 2025-01-01, until the file has `size_bytes`."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(INTERVALS_HEADER)
        slot = 0
        while out.tell() < size_bytes:
            begin = start + timedelta(minutes=15 * slot)
            first, second = f"{begin:%Y-%m-%dT%H:%M:%SZ}", f"{begin + timedelta(minutes=15):%Y-%m-%dT%H:%M:%SZ}"
            out.write("".join(f"{m},{first},{second},{(slot % 97) / 8:.3f},true\n" for m in meter_ids))
            slot += 1
    return path


def test_meters_create_from_csv_waits_for_the_job_and_exits_4_when_some_failed(cli: Cli) -> None:
    references = [f"cli-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    meters = _meters_csv(cli.workdir / "meters.csv", references, bad=[references[2]])

    run = cli("meters", "create", str(meters))

    assert run.code == 4, run.err  # COMPLETED_WITH_ERRORS
    assert "COMPLETED_WITH_ERRORS  2 created, 0 updated, 1 failed of 3" in run.out
    rows = {line.split()[0]: line for line in run.out.splitlines() if line.startswith("cli-")}
    assert "VALIDATION_ERROR" in rows[references[2]] and "customer.postal_code" in rows[references[2]]
    assert "METER_CREATED" in rows[references[0]]
    job_id = run.err.split()[1]  # "job <id> submitted"

    shown = cli("--json", "jobs", "show", job_id)
    assert shown.code == 0
    assert {asset["partner_reference"]: asset["status"] for asset in shown.json()["assets"]} == {
        references[0]: "COMPLETED",
        references[1]: "COMPLETED",
        references[2]: "FAILED",
    }

    found = cli("--json", "meters", "search", "--reference", references[0], "--reference", references[1])
    assert sorted(meter["partner_reference"] for meter in found.json()) == sorted(references[:2])
    meter_id = found.json()[0]["meter_id"]
    got = cli("meters", "get", meter_id)
    assert got.code == 0 and meter_id in got.out and "ISONE" in got.out


def test_jobs_submit_prints_the_job_id_and_jobs_wait_waits_for_it(cli: Cli) -> None:
    asset = {
        "partner_reference": f"cli-{uuid.uuid4().hex[:8]}",
        "transmission_region": "ISONE",
        "customer_classification": "RESIDENTIAL",
        "load_types": ["HVAC"],
        "meter_type": "DEVICE",
        "customer": {
            "street_1": "2 Main St",
            "postal_code": "02110",
            "city": "Boston",
            "state_or_province_code": "MA",
            "country_code": "US",
        },
    }
    (cli.workdir / "assets.json").write_text(json.dumps([asset]), encoding="utf-8")

    submitted = cli("jobs", "submit", "assets.json")
    assert submitted.code == 0, submitted.err
    job_id = submitted.out.strip()
    uuid.UUID(job_id)

    waited = cli("--json", "jobs", "wait", job_id)
    assert waited.code == 0, waited.err
    assert waited.json()["status"] == "COMPLETED"
    assert waited.json()["assets"][0]["partner_reference"] == asset["partner_reference"]


def test_an_unknown_meter_exits_1_with_the_apis_error_and_never_shows_the_key(cli: Cli) -> None:
    run = cli("--verbose", "--json", "meters", "get", str(uuid.uuid4()))
    assert run.code == 1
    assert run.json()["error"]["status"] == 404
    assert "HTTP Request: GET" in run.err  # --verbose logs requests, and Cli() checked the key is not there


def test_a_file_larger_than_the_api_body_goes_through_the_presigned_url_to_completed(cli: Cli) -> None:
    meter_ids = _created_meters(cli, 20)
    big = _interval_file(cli.workdir / "big.csv", meter_ids, int(UPLOAD_MB * 1024 * 1024))
    assert big.stat().st_size > 5 * 1024 * 1024  # over POST /v1.1/interval-data's limit

    started = time.monotonic()
    run = cli("intervals", "upload", str(big), timeout=UPLOAD_TIMEOUT_SECONDS)
    elapsed = time.monotonic() - started

    assert run.code == 0, run.out + run.err
    assert "uploading big.csv [" in run.err and "100%" in run.err  # the progress bar
    status = dict(line.split(maxsplit=1) for line in run.out.splitlines() if line.strip())
    rows = sum(1 for _ in big.open(encoding="utf-8")) - 1
    assert (status["status"], status["rows_valid"], status["errors_total"]) == ("COMPLETED", str(rows), "0")
    assert status["uploaded_file_path"] == "/interval-data/big.csv"
    print(f"{big.stat().st_size / 1e6:.1f} MB, {rows:,} rows: COMPLETED in {elapsed:.1f} s")

    job = cli("--json", "intervals", "status", status["job_id"]).json()
    assert (job["status"], job["rows_total"]) == ("COMPLETED", rows)
    gaps = cli("--json", "intervals", "gaps", "--meter-id", meter_ids[0])
    assert gaps.code == 0 and isinstance(gaps.json(), list)
    stored = cli.client().get_meter_intervals(meter_ids[0], "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z")
    assert len(stored["intervals"]) == 4


def test_a_failed_upload_exits_3_and_intervals_errors_reads_every_error_not_only_the_first_100(cli: Cli) -> None:
    bad = cli.workdir / "bad.csv"
    bad.write_text(
        "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh\n"
        + "not-a-meter,2025-01-01T00:07:00Z,2025-01-01T00:15:00Z,x\n" * 150,
        encoding="utf-8",
    )
    run = cli("intervals", "upload", str(bad))
    assert run.code == 3, run.out + run.err
    job_id = dict(line.split(maxsplit=1) for line in run.out.splitlines()[:9] if line.strip())["job_id"]
    assert f"meterhub intervals errors {job_id}" in run.out

    errors = cli("--json", "intervals", "errors", job_id).json()
    assert len(errors) == 450  # three per row; the job itself lists the first 100
    assert {error["code"] for error in errors} == {"MTR_0002", "STM_0003", "NET_0002"}
    assert errors[-1]["line"] == "151"

    saved = cli("intervals", "errors", job_id, "--output", "errors.csv")
    assert saved.code == 0
    with (cli.workdir / "errors.csv").open(encoding="utf-8") as report:
        assert len(list(csv.DictReader(report))) == 450


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def listening(cli: Cli) -> Iterator[tuple[str, Path]]:
    """`meterhub webhooks listen` subscribed for meter.created; yields the webhook id and the listener's output."""
    port = _free_port()
    with cli.client() as client:
        created = client.create_webhook(f"http://127.0.0.1:{port}/hooks", ["meter.created"])
    output = cli.workdir / "listen.out"
    env = cli.env() | {"MH_WEBHOOK_SECRET": created["signing_secret"], "PYTHONUNBUFFERED": "1"}
    with output.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [str(METERHUB), "webhooks", "listen", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _printed(output, "Receiving webhooks on")
        yield created["webhook_id"], output
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert output.read_text(encoding="utf-8").splitlines()[-1] == "Stopped"


def _printed(output: Path, *needles: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for line in output.read_text(encoding="utf-8").splitlines():
            if all(needle in line for needle in needles):
                return line
        time.sleep(0.1)
    raise AssertionError(f"{needles} not printed:\n{output.read_text(encoding='utf-8')}")


def test_webhooks_listen_verifies_deliveries_and_the_log_can_be_listed_and_redelivered(
    cli: Cli, listening: tuple[str, Path]
) -> None:
    webhook_id, output = listening
    with cli.client() as client:
        assert client.test_webhook(webhook_id)["is_successful"] is True
    assert "signature OK" in _printed(output, "meter.created", '"test":true') and " TEST " in _printed(output, "TEST")

    listed = cli("--json", "webhooks", "list")
    assert webhook_id in [hook["webhook_id"] for hook in listed.json()]

    meter_id = _created_meters(cli, 1)[0]
    assert "signature OK" in _printed(output, "meter.created", meter_id, "EVENT")
    deadline = time.monotonic() + 30
    while True:
        deliveries = cli("--json", "webhooks", "deliveries", webhook_id).json()
        if deliveries and deliveries[0]["status"] == "DELIVERED":
            break
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.5)
    assert "DELIVERED" in cli("webhooks", "deliveries", webhook_id).out

    redelivered = cli("--json", "webhooks", "redeliver", webhook_id, deliveries[0]["webhook_event_id"])
    assert redelivered.code == 0, redelivered.err
    assert redelivered.json()["status"] == "PENDING"


def test_connect_link_prints_the_link_for_the_customer(cli: Cli) -> None:
    run = cli("--json", "connect", "link", "customer-site-7", "--region", "CAISO")
    assert run.code == 0, run.err
    assert run.json()["ref_id"] == "customer-site-7" and "refId=customer-site-7" in run.json()["url"]
    human = cli("connect", "link", "customer-site-7", "--region", "CAISO")
    assert human.out.startswith("url ")
