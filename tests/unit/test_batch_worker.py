"""meterhub.meter_jobs.use_cases.worker on the InMemory fakes: every asset and job status, resuming, and crash safety.

Jobs are submitted with the real `submit_job` (so the payload in the object store is exactly what the API
stores) and processed with `Worker.process`, as the SQS handler does.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from meterhub.catalog.enums import ProvisionalAssetStatus, StatusDetailName
from meterhub.meter_jobs.records import AssetOutcome, JobStatus, MeterJob
from meterhub.meter_jobs.use_cases import worker as worker_module
from meterhub.meter_jobs.use_cases.jobs import submit_job
from meterhub.meter_jobs.use_cases.payload import assets_key
from meterhub.meter_jobs.use_cases.worker import Progress, Worker, meter_id_for
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.meters.use_cases.create_meter import ConnectLink
from meterhub.platform.errors import Conflict

from tests.emf import EmfCapture, point
from tests.fakes.meter_jobs import InMemoryJobRepository
from tests.fakes.meters import InMemoryMeterRepository
from tests.fakes.objects import InMemoryObjectStore
from tests.fakes.queues import InMemoryWorkQueue

pytestmark = pytest.mark.usefixtures("no_network")

MakeAsset = Callable[..., dict[str, Any]]
ACME = "partner-acme"
BOREALIS = "partner-borealis"
NEVER = lambda: False  # noqa: E731 - time is never short

COMPLETED = ProvisionalAssetStatus.COMPLETED
FAILED = ProvisionalAssetStatus.FAILED
DUPLICATE = ProvisionalAssetStatus.DUPLICATE
MULTIPLE = ProvisionalAssetStatus.MULTIPLE_PARTNER_REFERENCE


def connect_for(partner_id: str) -> ConnectLink:
    def link(asset: CreateMeter) -> str:
        return f"/connect?account={partner_id}&refId={asset.partner_reference}"

    return link


def to_csv(assets: list[dict[str, Any]]) -> bytes:
    """Assets as an upload CSV: dot-path columns (arrays by index), booleans as true/false, absent = empty."""
    rows: list[dict[str, str]] = []

    def flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                flatten(f"{prefix}.{key}" if prefix else key, item, out)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                flatten(f"{prefix}.{index}", item, out)
        else:
            out[prefix] = str(value).lower() if isinstance(value, bool) else str(value)

    for asset in assets:
        flat: dict[str, str] = {}
        flatten("", asset, flat)
        rows.append(flat)
    columns = list(dict.fromkeys(column for flat in rows for column in flat))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[flat.get(column, "") for column in columns] for flat in rows])
    return out.getvalue().encode("utf-8")


@dataclass
class Batch:
    """The fakes, a submit helper and the worker."""

    jobs: InMemoryJobRepository = field(default_factory=InMemoryJobRepository)
    meters: InMemoryMeterRepository = field(default_factory=InMemoryMeterRepository)
    objects: InMemoryObjectStore = field(default_factory=InMemoryObjectStore)
    queue: InMemoryWorkQueue = field(default_factory=InMemoryWorkQueue)

    def worker(self, jobs: InMemoryJobRepository | None = None) -> Worker:
        return Worker(jobs=jobs or self.jobs, meters=self.meters, objects=self.objects, connect=connect_for)

    def submit(
        self,
        assets: list[dict[str, Any]] | bytes,
        *,
        fmt: str = "json",
        update_existing: bool = False,
        partner_id: str = ACME,
    ) -> str:
        if isinstance(assets, bytes):
            body = assets
        else:
            body = to_csv(assets) if fmt == "csv" else json.dumps({"assets": assets}).encode()
        content_type = "text/csv" if fmt == "csv" else "application/json"
        return submit_job(
            self.jobs,
            self.objects,
            self.queue,
            partner_id,
            body,
            content_type,
            update_existing=update_existing,
            file_name=None,
        )

    def run(self, job_id: str, partner_id: str = ACME) -> Progress:
        return self.worker().process(partner_id, job_id, NEVER)

    def job(self, job_id: str, partner_id: str = ACME) -> MeterJob:
        job = self.jobs.get(partner_id, job_id)
        assert job is not None
        return job

    def outcomes(self, job_id: str, partner_id: str = ACME) -> list[AssetOutcome]:
        return list(self.jobs.job_assets(partner_id, job_id))

    def counters(self, job_id: str, partner_id: str = ACME) -> tuple[int, int, int, int]:
        job = self.job(job_id, partner_id)
        return job.assets_count, job.assets_created_count, job.assets_updated_count, job.assets_failed_count

    def meter_data(self, partner_id: str) -> dict[str, dict[str, Any]]:
        return {m.partner_reference: m.data for (pid, _), m in self.meters.meters.items() if pid == partner_id}


@pytest.fixture
def batch() -> Batch:
    return Batch()


def statuses(outcomes: list[AssetOutcome]) -> list[tuple[str, ProvisionalAssetStatus, StatusDetailName | None]]:
    return [(o.partner_reference, o.status, o.status_detail.name) for o in outcomes]


# ----- job outcomes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("count", [1, 4])
def test_all_good_assets_complete_the_job(batch: Batch, make_asset: MakeAsset, fmt: str, count: int) -> None:
    # Given a job of valid, new assets
    assets = [make_asset(f"ref-{n}", device={"device_type": "BATTERY"}) for n in range(count)]
    job_id = batch.submit(assets, fmt=fmt)
    assert batch.job(job_id).status is JobStatus.PROCESSING
    # When the worker runs
    progress = batch.run(job_id)
    # Then the job is COMPLETED with every asset created under its deterministic id
    assert progress is Progress.DONE
    job = batch.job(job_id)
    assert job.status is JobStatus.COMPLETED
    assert batch.counters(job_id) == (count, count, 0, 0)
    assert job.next_index == count and job.failure_reason is None
    outcomes = batch.outcomes(job_id)
    assert statuses(outcomes) == [(f"ref-{n}", COMPLETED, StatusDetailName.METER_CREATED) for n in range(count)]
    assert [o.meter_id for o in outcomes] == [meter_id_for(job_id, n) for n in range(count)]
    assert all(o.status_detail.description == "A new meter was created." for o in outcomes)
    # And the meters exist with the submitted data
    for n, outcome in enumerate(outcomes):
        assert outcome.meter_id is not None
        meter = batch.meters.get(ACME, outcome.meter_id)
        assert meter is not None and meter.partner_reference == f"ref-{n}"
        assert meter.data["device"] == {"device_type": "BATTERY"}


BAD_ASSETS: list[Any] = [
    pytest.param({"customer": {"postal_code": "2110"}}, "customer.postal_code", id="postal-code"),
    pytest.param({"transmission_region": "MARS"}, "transmission_region", id="unknown-region"),
    pytest.param({"load_types": []}, "load_types", id="no-load-types"),
    pytest.param({"partner_reference": "a/b"}, "partner_reference", id="reference-pattern"),
    pytest.param(
        {"transmission_region": "ERCOT", "meter_type": "UTILITY_METER", "classification": "COMMERCIAL"},
        "utility.electric_service_account_number",
        id="catalog-ercot-esiid",
    ),
]


def bad_asset(make_asset: MakeAsset, reference: str, overrides: dict[str, Any]) -> dict[str, Any]:
    overrides = dict(overrides)
    region = overrides.pop("transmission_region", "ISONE")
    meter_type = overrides.pop("meter_type", "DEVICE")
    classification = overrides.pop("classification", "RESIDENTIAL")
    reference = overrides.pop("partner_reference", reference)
    asset = make_asset(reference, region=region, meter_type=meter_type, classification=classification, **overrides)
    if "load_types" in overrides:
        asset["load_types"] = overrides["load_types"]
    return asset


BAD_ASSET_CASES: list[Any] = [
    pytest.param(*case.values, fmt, id=f"{fmt}-{case.id}")
    for fmt in ("json", "csv")
    for case in BAD_ASSETS
    if not (fmt == "csv" and case.id == "no-load-types")  # an empty array has no CSV column
]


@pytest.mark.parametrize(("overrides", "failed_field", "fmt"), BAD_ASSET_CASES)
def test_one_bad_asset_among_good_ones_completes_with_errors(
    batch: Batch, make_asset: MakeAsset, overrides: dict[str, Any], failed_field: str, fmt: str
) -> None:
    # Given good assets around one bad one
    assets = [make_asset("ref-0"), bad_asset(make_asset, "ref-1", overrides), make_asset("ref-2")]
    job_id = batch.submit(assets, fmt=fmt)
    # When the worker runs
    batch.run(job_id)
    # Then the job is COMPLETED_WITH_ERRORS and the bad asset FAILED with the field that failed
    assert batch.job(job_id).status is JobStatus.COMPLETED_WITH_ERRORS
    assert batch.counters(job_id) == (3, 2, 0, 1)
    good_0, bad, good_2 = batch.outcomes(job_id)
    assert (good_0.status, good_2.status) == (COMPLETED, COMPLETED)
    assert bad.status is FAILED
    assert bad.status_detail.name is StatusDetailName.VALIDATION_ERROR
    assert bad.status_detail.failed_fields is not None
    assert failed_field in bad.status_detail.failed_fields, bad.status_detail.failed_fields
    assert all(message for message in bad.status_detail.failed_fields.values())
    assert bad.meter_id is None
    # And the submitted data is kept on the provisional asset, where it came from too
    if fmt == "json":
        assert bad.data == assets[1]
    else:
        assert bad.data["partner_reference"] == assets[1]["partner_reference"]
        assert bad.data["customer"]["city"] == "Boston"
    assert (bad.json_index, bad.csv_row) == ((1, None) if fmt == "json" else (None, 3))
    # And no meter was made for it
    assert set(batch.meter_data(ACME)) == {"ref-0", "ref-2"}


def test_a_job_of_only_bad_assets_fails(batch: Batch, make_asset: MakeAsset) -> None:
    # Given a job where no asset is valid
    assets = [
        bad_asset(make_asset, "ref-0", {"customer": {"postal_code": "x"}}),
        {"partner_reference": "ref-1"},
        bad_asset(make_asset, "ref-2", {"transmission_region": "CAISO", "meter_type": "UTILITY_METER"}),
    ]
    job_id = batch.submit(assets)
    # When the worker runs
    batch.run(job_id)
    # Then the job is FAILED (nothing could be created), every asset FAILED, and no meter exists
    job = batch.job(job_id)
    assert job.status is JobStatus.FAILED
    assert batch.counters(job_id) == (3, 0, 0, 3)
    assert [o.status for o in batch.outcomes(job_id)] == [FAILED, FAILED, FAILED]
    assert batch.meters.meters == {}


def test_an_asset_missing_required_blocks_names_each(batch: Batch) -> None:
    # Given an asset with only a reference
    job_id = batch.submit([{"partner_reference": "ref-0"}])
    batch.run(job_id)
    # Then every missing required field is in failed_fields
    (outcome,) = batch.outcomes(job_id)
    assert outcome.status_detail.failed_fields is not None
    assert {"transmission_region", "customer_classification", "load_types", "meter_type", "customer"} <= set(
        outcome.status_detail.failed_fields
    )


def test_duplicates_of_existing_meters_name_the_existing_meter(batch: Batch, make_asset: MakeAsset) -> None:
    # Given a meter created by an earlier job
    first = batch.submit([make_asset("ref-dup")])
    batch.run(first)
    existing_id = meter_id_for(first, 0)
    # When a job sends the same reference again (plus a new one) without update_existing
    job_id = batch.submit([make_asset("ref-dup", customer_group="changed"), make_asset("ref-new")])
    batch.run(job_id)
    # Then that asset is DUPLICATE / DUPLICATE_REF_ID naming the existing meter, the other is created
    duplicate, new = batch.outcomes(job_id)
    assert (duplicate.status, duplicate.status_detail.name) == (DUPLICATE, StatusDetailName.DUPLICATE_REF_ID)
    assert duplicate.status_detail.description is not None and existing_id in duplicate.status_detail.description
    assert duplicate.meter_id is None
    assert new.status is COMPLETED
    assert batch.job(job_id).status is JobStatus.COMPLETED_WITH_ERRORS
    assert batch.counters(job_id) == (2, 1, 0, 1)
    # And the existing meter is untouched
    meter = batch.meters.get(ACME, existing_id)
    assert meter is not None and "customer_group" not in meter.data and meter.version == 1


def test_a_job_of_only_duplicates_fails(batch: Batch, make_asset: MakeAsset) -> None:
    first = batch.submit([make_asset("ref-a"), make_asset("ref-b")])
    batch.run(first)
    job_id = batch.submit([make_asset("ref-a"), make_asset("ref-b")])
    batch.run(job_id)
    assert batch.job(job_id).status is JobStatus.FAILED
    assert [o.status for o in batch.outcomes(job_id)] == [DUPLICATE, DUPLICATE]
    assert batch.counters(job_id) == (2, 0, 0, 2)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_update_existing_overwrites_and_counts_updates(batch: Batch, make_asset: MakeAsset, fmt: str) -> None:
    # Given a meter created by an earlier job
    first = batch.submit([make_asset("ref-upd")])
    batch.run(first)
    existing_id = meter_id_for(first, 0)
    # When a job with update_existing sends new data for it, plus a new asset
    job_id = batch.submit(
        [make_asset("ref-upd", customer_group="vpp-a"), make_asset("ref-fresh")], fmt=fmt, update_existing=True
    )
    batch.run(job_id)
    # Then the existing meter is overwritten (same id) and counted as updated, the new one as created
    updated, created = batch.outcomes(job_id)
    assert (updated.status, updated.status_detail.name) == (COMPLETED, StatusDetailName.METER_UPDATED)
    assert updated.meter_id == existing_id
    assert (created.status_detail.name, created.meter_id) == (StatusDetailName.METER_CREATED, meter_id_for(job_id, 1))
    assert batch.job(job_id).status is JobStatus.COMPLETED
    assert batch.counters(job_id) == (2, 1, 1, 0)
    meter = batch.meters.get(ACME, existing_id)
    assert meter is not None and meter.data["customer_group"] == "vpp-a" and meter.version == 2


def test_customer_authorized_meter_type_fails_naming_connect(batch: Batch, make_asset: MakeAsset) -> None:
    # Given a CAISO utility meter (customer-authorized: created from Connect, never by the partner)
    job_id = batch.submit([make_asset("ref-ca", region="CAISO", meter_type="UTILITY_METER"), make_asset("ref-ok")])
    # When the worker runs
    batch.run(job_id)
    # Then it FAILED on meter_type with the partner's Connect link for that asset
    refused, accepted = batch.outcomes(job_id)
    assert (refused.status, refused.status_detail.name) == (FAILED, StatusDetailName.VALIDATION_ERROR)
    assert refused.status_detail.failed_fields is not None
    message = refused.status_detail.failed_fields["meter_type"]
    assert "Connect" in message and f"/connect?account={ACME}&refId=ref-ca" in message
    assert accepted.status is COMPLETED
    assert set(batch.meter_data(ACME)) == {"ref-ok"}


@pytest.mark.parametrize("update_existing", [False, True])
def test_repeated_references_are_not_applied(batch: Batch, make_asset: MakeAsset, update_existing: bool) -> None:
    # Given an existing meter "ref-old", and a job naming "ref-new" twice and "ref-old" twice
    first = batch.submit([make_asset("ref-old")])
    batch.run(first)
    assets = [
        make_asset("ref-new"),
        make_asset("ref-ok"),
        make_asset("ref-new", customer_group="b"),
        make_asset("ref-old", customer_group="x"),
        make_asset("ref-old", customer_group="y"),
    ]
    job_id = batch.submit(assets, update_existing=update_existing)
    # When the worker runs
    batch.run(job_id)
    # Then every occurrence is MULTIPLE_PARTNER_REFERENCE, none was applied, and the others proceed
    outcomes = batch.outcomes(job_id)
    assert [o.status for o in outcomes] == [MULTIPLE, COMPLETED, MULTIPLE, MULTIPLE, MULTIPLE]
    assert all(o.meter_id is None for o in outcomes if o.status is MULTIPLE)
    assert all(o.status_detail.description for o in outcomes if o.status is MULTIPLE)
    assert set(batch.meter_data(ACME)) == {"ref-old", "ref-ok"}
    assert "customer_group" not in batch.meter_data(ACME)["ref-old"]
    assert batch.job(job_id).status is JobStatus.COMPLETED_WITH_ERRORS
    assert batch.counters(job_id) == (5, 1, 0, 4)


def test_partners_do_not_collide_on_references(batch: Batch, make_asset: MakeAsset) -> None:
    # Given Acme's meter "ref-1"
    batch.run(batch.submit([make_asset("ref-1")]))
    # When Borealis submits the same reference
    job_id = batch.submit([make_asset("ref-1")], partner_id=BOREALIS)
    batch.run(job_id, BOREALIS)
    # Then it is a new meter for Borealis, not a duplicate
    assert batch.job(job_id, BOREALIS).status is JobStatus.COMPLETED
    assert set(batch.meter_data(BOREALIS)) == {"ref-1"}


# ----- CSV and JSON parity ---------------------------------------------------------------------------------


def parity_assets(make_asset: MakeAsset) -> list[dict[str, Any]]:
    return [
        make_asset(
            "par-1",
            customer={"end_customer_name": "Zoë Café", "street_2": "Unit 4, rear", "end_customer_email": "z@e.com"},
            device={"device_type": "BATTERY", "battery_power_capacity_kw": 5, "battery_energy_capacity_kwh": 13.5},
            site={"on_site_fossil_generator": False, "number_of_devices": 2, "site_devices": [{"device_type": "EV"}]},
            utility={"utility_name": "EVERSOURCE", "electric_service_account_number": "0042"},
        ),
        make_asset("par-2", classification="COMMERCIAL", customer={"end_customer_company_name": "Café, Inc."}),
        {**make_asset("par-3"), "load_types": ["HVAC", "EV_CHARGING", "BATTERY_STORAGE"]},
        make_asset("par-4", isone={"in_connected_solutions": True}, customer_group='vpp-"north"'),
        make_asset("par-5", customer={"postal_code": "ABCDE"}),
        make_asset("par-6", device={"battery_power_capacity_kw": "lots"}),
    ]


def test_csv_and_json_give_the_same_meters(batch: Batch, make_asset: MakeAsset) -> None:
    # Given the same assets as JSON (for one partner) and as CSV (for another)
    assets = parity_assets(make_asset)
    json_job = batch.submit(assets, partner_id="p-json")
    csv_job = batch.submit(assets, fmt="csv", partner_id="p-csv")
    # When both jobs run
    batch.run(json_job, "p-json")
    batch.run(csv_job, "p-csv")
    # Then the stored meters hold the same data
    json_meters, csv_meters = batch.meter_data("p-json"), batch.meter_data("p-csv")
    assert set(json_meters) == {"par-1", "par-2", "par-3", "par-4"}
    assert csv_meters == json_meters
    assert json_meters["par-1"]["customer"]["end_customer_name"] == "Zoë Café"
    assert json_meters["par-3"]["load_types"] == ["HVAC", "EV_CHARGING", "BATTERY_STORAGE"]
    # And the outcomes and counters agree, failed fields included
    assert batch.counters(json_job, "p-json") == batch.counters(csv_job, "p-csv") == (6, 4, 0, 2)

    def summary(job_id: str, partner_id: str) -> list[tuple[Any, ...]]:
        return [
            (o.partner_reference, o.status, o.status_detail.name, sorted(o.status_detail.failed_fields or {}))
            for o in batch.outcomes(job_id, partner_id)
        ]

    assert summary(json_job, "p-json") == summary(csv_job, "p-csv")


# ----- resuming and crash safety ---------------------------------------------------------------------------


@pytest.fixture
def chunk_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Set the worker's chunk size (indirect parameter; default: the real one)."""
    size: int = getattr(request, "param", worker_module.CHUNK_SIZE)
    monkeypatch.setattr(worker_module, "CHUNK_SIZE", size)
    return size


def short_after(k: int) -> Callable[[], bool]:
    """A time_is_short that turns True at its (k+1)th reading: the worker reads it before each chunk."""
    calls = itertools.count()
    return lambda: next(calls) >= k


@pytest.mark.parametrize("chunk_size", [1], indirect=True)
@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_time_running_out_stops_at_the_cursor_and_resumes(
    batch: Batch, make_asset: MakeAsset, chunk_size: int, k: int
) -> None:
    # Given a 6-asset job with one bad asset, processed one asset per chunk
    assets = [make_asset(f"ref-{n}") for n in range(6)]
    assets[4]["customer"]["postal_code"] = "bad"
    job_id = batch.submit(assets)
    # When time runs short after k assets
    progress = batch.worker().process(ACME, job_id, short_after(k))
    # Then the worker asks for more, with exactly the first k assets recorded and the cursor at k
    assert progress is Progress.MORE
    job = batch.job(job_id)
    assert job.status is JobStatus.PROCESSING
    assert job.next_index == k
    assert [o.index for o in batch.outcomes(job_id)] == list(range(k))
    assert job.processed == k
    assert len(batch.meters.meters) == k - (k > 4)
    # When a second call runs with time to spare
    assert batch.run(job_id) is Progress.DONE
    # Then every asset was processed exactly once and the job finished
    assert [o.index for o in batch.outcomes(job_id)] == list(range(6))
    assert batch.counters(job_id) == (6, 5, 0, 1)
    assert len(batch.meters.meters) == 5
    assert batch.job(job_id).status is JobStatus.COMPLETED_WITH_ERRORS


@pytest.mark.parametrize(("chunk_size", "chunks", "cursor"), [(2, 1, 2), (2, 2, 4), (4, 1, 4)], indirect=["chunk_size"])
def test_time_is_checked_per_chunk(
    batch: Batch, make_asset: MakeAsset, chunk_size: int, chunks: int, cursor: int
) -> None:
    # Given a 7-asset job and time that runs short after `chunks` chunks
    job_id = batch.submit([make_asset(f"ref-{n}") for n in range(7)])
    # Then the cursor stops on a chunk boundary, with the whole chunks recorded
    assert batch.worker().process(ACME, job_id, short_after(chunks)) is Progress.MORE
    assert batch.job(job_id).next_index == cursor == chunks * chunk_size
    assert batch.counters(job_id) == (7, cursor, 0, 0)


@pytest.mark.parametrize("chunk_size", [1, 3], indirect=True)
def test_time_running_out_after_the_last_chunk_still_finishes(
    batch: Batch, make_asset: MakeAsset, chunk_size: int
) -> None:
    # Given a 3-asset job whose time runs short only once every chunk was started
    job_id = batch.submit([make_asset(f"ref-{n}") for n in range(3)])
    # Then the worker finishes instead of queueing an empty continuation
    assert batch.worker().process(ACME, job_id, short_after(3 // chunk_size)) is Progress.DONE
    assert batch.job(job_id).status is JobStatus.COMPLETED


@pytest.mark.parametrize("chunk_size", [1, 2], indirect=True)
def test_several_short_invocations_finish_the_job(batch: Batch, make_asset: MakeAsset, chunk_size: int) -> None:
    # Given a 7-asset job processed one chunk per invocation
    job_id = batch.submit([make_asset(f"ref-{n}") for n in range(7)])
    rounds = 1
    while batch.worker().process(ACME, job_id, short_after(1)) is Progress.MORE:
        rounds += 1
        assert rounds < 10
    # Then it took one invocation per chunk and nothing was doubled
    assert rounds == -(-7 // chunk_size)
    assert batch.counters(job_id) == (7, 7, 0, 0)
    assert len(batch.meters.meters) == 7
    assert [o.index for o in batch.outcomes(job_id)] == list(range(7))


class SpyJobs(InMemoryJobRepository):
    """Shares the real repository's state; remembers each recorded chunk as (start, size)."""

    def __init__(self, real: InMemoryJobRepository) -> None:
        super().__init__()
        self.jobs_by_id = real.jobs_by_id
        self.outcomes = real.outcomes
        self.chunks: list[tuple[int, int]] = []

    def record_chunk(self, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
        self.chunks.append((start, len(outcomes)))
        assert [o.index for o in outcomes] == list(range(start, start + len(outcomes)))
        super().record_chunk(job, start, outcomes)


def test_assets_are_recorded_in_chunks_of_chunk_size(batch: Batch, make_asset: MakeAsset, chunk_size: int) -> None:
    # Given a job of two and a half chunks
    count = 2 * chunk_size + chunk_size // 2
    job_id = batch.submit([make_asset(f"ref-{n:04d}") for n in range(count)])
    spy = SpyJobs(batch.jobs)
    # When it runs
    assert batch.worker(spy).process(ACME, job_id, NEVER) is Progress.DONE
    # Then it was recorded in consecutive full chunks and one partial chunk
    assert spy.chunks == [(0, chunk_size), (chunk_size, chunk_size), (2 * chunk_size, chunk_size // 2)]
    assert batch.counters(job_id) == (count, count, 0, 0)


class Killed(Exception):
    """The worker died (timeout, throttling) after creating a chunk's meters, before its cursor moved."""


class DiesAtRecord(InMemoryJobRepository):
    """Shares the real repository's state; `record_chunk` for the chunk holding asset `index` dies once:
    before storing anything, or (`after_puts`) after storing the outcomes but before the cursor update."""

    def __init__(
        self, real: InMemoryJobRepository, meters: InMemoryMeterRepository, index: int, *, after_puts: bool
    ) -> None:
        super().__init__()
        self.jobs_by_id = real.jobs_by_id
        self.outcomes = real.outcomes
        self.meters = meters
        self.index = index
        self.after_puts = after_puts
        self.died = False

    def record_chunk(self, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
        if not self.died and any(o.index == self.index for o in outcomes):
            self.died = True
            # the creates happened: this chunk's meters are stored
            for outcome in outcomes:
                assert outcome.meter_id is not None and self.meters.get(job.partner_id, outcome.meter_id)
            if self.after_puts:
                for outcome in outcomes:
                    self.outcomes[(job.partner_id, job.job_id, outcome.index)] = outcome
            raise Killed
        super().record_chunk(job, start, outcomes)


@pytest.mark.parametrize("after_puts", [False, True], ids=["before-puts", "after-puts"])
@pytest.mark.parametrize("update_existing", [False, True], ids=["create", "update-existing"])
@pytest.mark.parametrize(("chunk_size", "k"), [(1, 0), (1, 3), (2, 2), (2, 4), (100, 3)], indirect=["chunk_size"])
def test_a_worker_killed_between_create_and_record_resumes_without_duplicates(
    batch: Batch, make_asset: MakeAsset, chunk_size: int, k: int, update_existing: bool, after_puts: bool
) -> None:
    # Given a 5-asset job and a worker that dies after creating the meters of asset k's chunk
    job_id = batch.submit([make_asset(f"ref-{n}") for n in range(5)], update_existing=update_existing)
    dying = DiesAtRecord(batch.jobs, batch.meters, k, after_puts=after_puts)
    with pytest.raises(Killed):
        batch.worker(dying).process(ACME, job_id, NEVER)
    chunk_start = k // chunk_size * chunk_size
    assert batch.job(job_id).next_index == chunk_start
    assert batch.counters(job_id) == (5, chunk_start, 0, 0)
    assert len(batch.meters.meters) == min(chunk_start + chunk_size, 5)
    # When the message is redelivered and a fresh worker runs
    assert batch.run(job_id) is Progress.DONE
    # Then asset k is COMPLETED / METER_CREATED with its deterministic id (not DUPLICATE, not an update)
    outcomes = batch.outcomes(job_id)
    assert statuses(outcomes) == [(f"ref-{n}", COMPLETED, StatusDetailName.METER_CREATED) for n in range(5)]
    assert outcomes[k].meter_id == meter_id_for(job_id, k)
    # And there is one meter per asset, and the counters are exact
    assert sorted(m.meter_id for m in batch.meters.meters.values()) == sorted(meter_id_for(job_id, n) for n in range(5))
    assert batch.counters(job_id) == (5, 5, 0, 0)
    assert batch.job(job_id).status is JobStatus.COMPLETED


@pytest.mark.parametrize("chunk_size", [1, 100], indirect=True)
def test_a_killed_update_is_still_an_update_on_retry(batch: Batch, make_asset: MakeAsset, chunk_size: int) -> None:
    # Given an existing meter and an update job that dies after overwriting it
    first = batch.submit([make_asset("ref-upd")])
    batch.run(first)
    job_id = batch.submit([make_asset("ref-upd", customer_group="vpp-z"), make_asset("ref-new")], update_existing=True)
    with pytest.raises(Killed):
        batch.worker(DiesAtRecord(batch.jobs, batch.meters, 0, after_puts=False)).process(ACME, job_id, NEVER)
    # When it is redelivered
    batch.run(job_id)
    # Then the asset is METER_UPDATED, counted once, on the same meter
    updated, created = batch.outcomes(job_id)
    assert (updated.status_detail.name, updated.meter_id) == (StatusDetailName.METER_UPDATED, meter_id_for(first, 0))
    assert created.status_detail.name is StatusDetailName.METER_CREATED
    assert batch.counters(job_id) == (2, 1, 1, 0)
    assert len(batch.meters.meters) == 2
    meter = batch.meters.get(ACME, meter_id_for(first, 0))
    assert meter is not None and meter.data["customer_group"] == "vpp-z"


class RacedBy(InMemoryJobRepository):
    """Shares the real repository's state; before its first chunk is counted, another delivery of the same
    message runs the whole job (two deliveries of one message processed concurrently)."""

    def __init__(self, real: InMemoryJobRepository, rival: Callable[[], Progress]) -> None:
        super().__init__()
        self.jobs_by_id = real.jobs_by_id
        self.outcomes = real.outcomes
        self.rival = rival
        self.raced = False

    def record_chunk(self, job: MeterJob, start: int, outcomes: list[AssetOutcome]) -> None:
        if not self.raced:
            self.raced = True
            assert self.rival() is Progress.DONE
        super().record_chunk(job, start, outcomes)


@pytest.mark.parametrize("chunk_size", [2, 100], indirect=True)
def test_a_concurrent_duplicate_delivery_loses_and_changes_nothing(
    batch: Batch, make_asset: MakeAsset, chunk_size: int
) -> None:
    # Given a 5-asset job (one bad asset) and two deliveries processing it at the same time
    assets = [make_asset(f"ref-{n}") for n in range(5)]
    assets[1]["meter_type"] = "SPACESHIP"
    job_id = batch.submit(assets)
    raced = RacedBy(batch.jobs, lambda: batch.run(job_id))
    # When the slower one tries to count its first chunk after the faster one finished the job
    with pytest.raises(Conflict):
        batch.worker(raced).process(ACME, job_id, NEVER)
    # Then the job is counted once, with one meter per good asset and one outcome per asset
    assert batch.job(job_id).status is JobStatus.COMPLETED_WITH_ERRORS
    assert batch.counters(job_id) == (5, 4, 0, 1)
    assert len(batch.meters.meters) == 4
    outcomes = batch.outcomes(job_id)
    assert [o.status for o in outcomes] == [COMPLETED, FAILED, COMPLETED, COMPLETED, COMPLETED]
    assert [o.meter_id for o in outcomes] == [meter_id_for(job_id, n) if n != 1 else None for n in range(5)]


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED])
def test_process_on_a_finished_job_does_nothing(batch: Batch, make_asset: MakeAsset, status: JobStatus) -> None:
    # Given a job that ended (here forced to `status` before any asset ran)
    job_id = batch.submit([make_asset("ref-0"), make_asset("ref-1")])
    assert batch.jobs.finish(batch.job(job_id), status, "ended elsewhere")
    before = batch.job(job_id)
    # When a late delivery processes it
    progress = batch.run(job_id)
    # Then nothing happens
    assert progress is Progress.DONE
    assert batch.job(job_id) == before
    assert batch.outcomes(job_id) == [] and batch.meters.meters == {}


def test_a_second_run_of_a_completed_job_changes_nothing(batch: Batch, make_asset: MakeAsset) -> None:
    job_id = batch.submit([make_asset("ref-0"), make_asset("ref-1")])
    batch.run(job_id)
    done = batch.job(job_id)
    assert batch.run(job_id) is Progress.DONE
    assert batch.job(job_id) == done
    assert len(batch.outcomes(job_id)) == 2 and len(batch.meters.meters) == 2


@pytest.mark.parametrize("partner_id", [ACME, BOREALIS])
def test_unknown_job_or_another_partners_job_is_ignored(batch: Batch, make_asset: MakeAsset, partner_id: str) -> None:
    # Given Acme's job
    job_id = batch.submit([make_asset("ref-0")])
    # When a message names Borealis with it, or an unknown job for Acme
    named = "00000000-0000-4000-8000-000000000000" if partner_id == ACME else job_id
    # Then there is nothing to do, and Acme's job is untouched
    assert batch.worker().process(partner_id, named, NEVER) is Progress.DONE
    assert batch.job(job_id).status is JobStatus.PROCESSING and batch.meters.meters == {}


def test_a_payload_shorter_than_the_job_ends_it_failed(batch: Batch, make_asset: MakeAsset) -> None:
    # Given a stored payload that lost its last line
    job_id = batch.submit([make_asset("ref-0"), make_asset("ref-1")])
    key = assets_key(ACME, job_id)
    batch.objects.objects[key] = batch.objects.objects[key].splitlines(keepends=True)[0]
    # When the worker runs
    batch.run(job_id)
    # Then the job ends FAILED with the reason, after recording what it had
    job = batch.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is not None and "fewer assets" in job.failure_reason
    assert batch.counters(job_id) == (2, 1, 0, 0)


def test_a_missing_payload_raises_for_the_queue_to_retry(batch: Batch, make_asset: MakeAsset) -> None:
    # Given a job whose payload object is gone
    job_id = batch.submit([make_asset("ref-0")])
    del batch.objects.objects[assets_key(ACME, job_id)]
    # Then process raises S3's NoSuchKey (the handler decides between retrying and ending the job)
    with pytest.raises(ClientError, match="NoSuchKey"):
        batch.run(job_id)
    assert batch.job(job_id).status is JobStatus.PROCESSING


# ----- metrics ----------------------------------------------------------------------------------------------


def test_assets_count_by_recorded_status_and_jobs_by_final_status(
    batch: Batch, make_asset: MakeAsset, emf: EmfCapture
) -> None:
    # Given a job that creates a meter, then one with a duplicate, a new meter, a bad asset and a repeated reference
    first = batch.submit([make_asset("ref-a")])
    batch.run(first)
    bad = bad_asset(make_asset, "ref-c", {"customer": {"postal_code": "x"}})
    second = batch.submit([make_asset("ref-a"), make_asset("ref-b"), bad, make_asset("ref-d"), make_asset("ref-d")])
    batch.run(second)
    # When a redelivered message finds the job finished
    batch.run(second)

    # Then every asset counts once by its status, and each job once by how it ended
    totals = emf.totals()
    assert {key: value for key, value in totals.items() if key[0] in {"MeterJobAssets", "MeterJobs"}} == {
        point("MeterJobAssets", Outcome="COMPLETED"): 2,
        point("MeterJobAssets", Outcome="DUPLICATE"): 1,
        point("MeterJobAssets", Outcome="FAILED"): 1,
        point("MeterJobAssets", Outcome="MULTIPLE_PARTNER_REFERENCE"): 2,
        point("MeterJobs", Status="COMPLETED"): 1,
        point("MeterJobs", Status="COMPLETED_WITH_ERRORS"): 1,
    }
    # And the meters they created or found count in Meters as single creates do
    assert totals[point("Meters", Outcome="created")] == 2
    assert totals[point("Meters", Outcome="duplicate")] == 1
