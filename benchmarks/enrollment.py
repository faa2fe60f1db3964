"""Enrollment at fleet scale, on moto: the scheduled transition run and the search by status.

For each fleet size (`--sizes`, default 10,000 and 100,000), a partner's fleet of ERCOT utility meters (every
field there) is stored on a fresh moto with its enrollment evaluated before the June-September enrollment
deadline: two thirds registered by the operator (ELIGIBLE), one third not (PENDING, an operator step
outstanding). Then:

1. **Enrollment search by status** (`POST /v2/meters/enrollments/search` with `global_enrollment_statuses`):
   requests and items read for a page, against the page size, and on the smaller fleets a baseline, a filter no
   index serves (a tag nobody has), which reads the partner's whole partition to answer one empty page.
2. **The scheduled transition run at the deadline** (`meters.use_cases.transitions.run_transitions`, what the
   scheduled function does): every meter is due; DynamoDB requests by operation and per meter, wall time, and
   the Python heap's peak during the run (tracemalloc), so memory that grows with the fleet would show.

moto runs as a server in a process of its own (`python -m moto.server`), so the heap measured is the run's only
(the table lives in the other process) and requests go over HTTP as they would to DynamoDB. The meters table's
stream is switched off there: moto would keep every write's images in the server for good, and the events are
the stream processor's work, not the run's. The fleet is set up 25 meters a BatchWriteItem, in the repository's
item layout; the run itself goes through the repository as the scheduled function's does. Requests are counted
with botocore hooks on the client every adapter uses; items read are Query's ScannedCount. Figures only, no
assertions. moto answers a request in milliseconds (its response serializer, not the network), so the run
does 25-50 meters a second on a free core (100,000 meters: half an hour to an hour) and far fewer on a busy
machine; progress goes to stderr. moto also answers a Query on an index by going through the whole table, so
on a fleet of 100,000 meters (200,000 items) a page of the review index takes tens of seconds and, on a busy
machine, can pass the product's 10 s read timeout, whose retry asks moto the same again: `--read-timeout` gives the
benchmark's clients a longer one (default 600 s, one attempt), and `--search-only` measures the search alone.

What the heap holds besides the run's page of review keys (`REVIEW_PAGE` a shard, full from ten times that many
meters): pydantic-core's JSON string cache, which every stored meter read adds two new strings to (its id and
reference) until it is full, about 1 MB after some 8,000 meters, and botocore's per-request garbage waiting for
the cyclic collector (bounded by CPython's collection thresholds). Both stop growing, so compare fleets of
10,000 meters and more: below that the peak grows with the fleet whatever `--review-page` says.

    .venv/bin/python -m benchmarks.enrollment [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BEFORE_DEADLINE = datetime(2026, 5, 1, tzinfo=UTC)
DEADLINE = datetime(2026, 5, 11, tzinfo=UTC)  # June 1 less ERS's 21 days
BATCH = 25  # items per BatchWriteItem


class Counts:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.scanned = 0

    def on_call(self, model: Any, **_: Any) -> None:
        self.requests[model.name] += 1

    def on_result(self, parsed: dict[str, Any], **_: Any) -> None:
        self.scanned += int(parsed.get("ScannedCount", 0))

    def reset(self) -> None:
        self.requests.clear()
        self.scanned = 0


def _environment() -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    from meterhub_dev.local.stack import load_template

    template = load_template(ROOT / "template.yaml")
    os.environ.update(template.functions["MetersApiFunction"].environment)


def _patient_clients(read_timeout: int) -> None:
    """Clients that wait `read_timeout` seconds for moto and do not retry: the product's timeout is DynamoDB's
    scale, and a retried Query would only queue a second pass through moto's whole table behind the first."""
    from botocore.config import Config
    from meterhub.platform.adapters import clients

    def client(service: str) -> Any:
        config = Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=read_timeout)
        return clients._session().client(service, config=config)

    clients._client = client
    clients.reset()


def _fleet(partner_id: str, count: int, table: str) -> None:
    """The meters, written as the repository writes them (its item layout, indexes included), 25 a request."""
    from meterhub.meters.adapters.dynamodb import _meter_item
    from meterhub.meters.records import MeterRecord, ProgramStep
    from meterhub.meters.rules.enrollment import evaluate
    from meterhub.platform.adapters import clients

    step = ProgramStep(
        program_identifier="ERCOT-ERS", action_type="HAS_MARKET_REGISTRATION", recorded_at=BEFORE_DEADLINE
    )
    batch: list[Any] = []
    for n in range(count):
        data = {
            "partner_reference": f"bench-{n:06d}",
            "transmission_region": "ERCOT",
            "customer_classification": "RESIDENTIAL",
            "load_types": ["BATTERY_STORAGE"],
            "meter_type": "UTILITY_METER",
            "customer": {"street_1": f"{n} Congress Ave", "postal_code": "78701", "city": "Austin"}
            | {"state_or_province_code": "TX", "country_code": "US"},
            "utility": {"utility_name": "ONCOR", "electric_service_account_number": f"{10443720000000000 + n}"},
        }
        meter = MeterRecord(
            meter_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-meter-{n}")),
            partner_id=partner_id,
            partner_reference=data["partner_reference"],
            data=data,
            created_at=BEFORE_DEADLINE,
            updated_at=BEFORE_DEADLINE,
            program_steps=[step] if n % 3 else [],
        )
        meter = meter.model_copy(update={"enrollment": evaluate(meter, BEFORE_DEADLINE)})
        batch.append({"PutRequest": {"Item": _meter_item(meter)}})
        if len(batch) == BATCH:
            clients.dynamodb().batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        clients.dynamodb().batch_write_item(RequestItems={table: batch})


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in its own process; its endpoint, set as AWS_ENDPOINT_URL while it runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        yield endpoint
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()  # a server holding a large table can be slow to stop; its figures are already taken
            server.wait()


def _without_streams(template: Any) -> Any:
    """The template with its tables' streams left out (moto cannot switch one off once on)."""
    from dataclasses import replace

    tables = {
        logical_id: replace(
            table, create_kwargs={k: v for k, v in table.create_kwargs.items() if k != "StreamSpecification"}
        )
        for logical_id, table in template.tables.items()
    }
    return replace(template, tables=tables)


def _progress(meters: int) -> Callable[[], bool]:
    """The run's `keep_going`: never stops it, and says on stderr how far it is every tenth of the fleet, with
    the heap's peak so far (so a long run shows the trend before it ends)."""
    step = max(meters // 10, 1)
    seen = 0
    started = time.perf_counter()

    def keep_going() -> bool:
        nonlocal seen
        seen += 1
        if seen % step == 0:
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            print(
                f"  ... {seen:,} of {meters:,} meters, {elapsed:.0f} s, heap peak so far {peak:.2f} MB",
                file=sys.stderr,
                flush=True,
            )
        return True

    return keep_going


def fleet_run(meters: int, baseline: bool, transitions: bool = True) -> dict[str, Any]:
    """A fresh moto with `meters` meters: the search by status on it (printed at once), then unless told not to
    the scheduled run at the deadline."""
    import boto3
    from meterhub import wiring
    from meterhub.meters.use_cases.transitions import run_transitions
    from meterhub.platform.adapters import clients
    from meterhub.platform.settings import MetersTableSettings
    from meterhub_dev.local.provisioning import provision
    from meterhub_dev.local.stack import load_template

    template = _without_streams(load_template(ROOT / "template.yaml"))
    with moto_server():
        wiring.reset()
        clients.reset()
        provision(
            template,
            boto3.client("dynamodb", region_name="us-east-1"),
            boto3.client("s3", region_name="us-east-1"),
            boto3.client("sqs", region_name="us-east-1"),
        )
        settings = MetersTableSettings.load()
        partner_id = str(uuid.uuid4())
        _, setup = timed(lambda: _fleet(partner_id, meters, settings.meters_table_name))
        print(f"  {meters:,} meters set up in {setup:.0f} s", file=sys.stderr, flush=True)
        # Before the run the statuses are those it leaves (ELIGIBLE stays ELIGIBLE at the deadline, PENDING stays
        # PENDING), so the search is measured on the same populations either way.
        search = search_pages(partner_id, settings, baseline)
        print(f"\n{meters:,} meters: enrollment search by status (first page; page 2 where named)")
        print(SEARCH_HEADER)
        _print_search({"meters": meters, "search": search})
        if not transitions:
            return {"meters": meters, "setup_s": setup, "report": None, "search": search}
        counts = Counts()
        events = clients.dynamodb().meta.events
        events.register("before-call.dynamodb.*", counts.on_call)
        repo = wiring.meter_repository(settings, clock=lambda: DEADLINE)
        tracemalloc.start()
        report, wall = timed(lambda: run_transitions(repo, DEADLINE, keep_going=_progress(meters)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        events.unregister("before-call.dynamodb.*", counts.on_call)
    return {
        "meters": meters,
        "setup_s": setup,
        "report": report.as_dict(),
        "wall_s": wall,
        "peak_mb": peak / 1e6,
        "requests": dict(counts.requests),
        "search": search,
    }


def search_pages(partner_id: str, settings: Any, baseline: bool) -> dict[str, Any]:
    """Pages of the enrollment search by status (ELIGIBLE and PENDING are the two populated statuses), and when
    asked the whole-partition baseline."""
    from meterhub import wiring
    from meterhub.meters.api_models.responses import MeterFilterRequest
    from meterhub.meters.use_cases.read_meters import search_enrollments
    from meterhub.platform.adapters import clients

    repo = wiring.meter_repository(settings)
    counts = Counts()
    events = clients.dynamodb().meta.events
    events.register("before-call.dynamodb.*", counts.on_call)
    events.register("after-call.dynamodb.Query", counts.on_result)
    results: dict[str, Any] = {}
    for label, filters in (
        ("PENDING, 500 a page", {"global_enrollment_statuses": ["PENDING"], "page_size": 500}),
        ("ELIGIBLE, 100 a page", {"global_enrollment_statuses": ["ELIGIBLE"], "page_size": 100}),
        ("ELIGIBLE+PENDING, 500 a page", {"global_enrollment_statuses": ["ELIGIBLE", "PENDING"], "page_size": 500}),
        ("baseline: tag nobody has (no index)", {"tags": ["nobody"], "page_size": 500}),
    ):
        if label.startswith("baseline") and not baseline:
            continue
        request = MeterFilterRequest.model_validate(filters)
        counts.reset()
        answer, wall = timed(partial(search_enrollments, repo, partner_id, request, DEADLINE))
        results[label] = {
            "page_size": request.page_size,
            "returned": len(answer.meters),
            "requests": sum(counts.requests.values()),
            "items_read": counts.scanned,
            "wall_s": wall,
        }
        if label.startswith("ELIGIBLE, 100"):  # the next page too: a cursor continues the same index partition
            counts.reset()
            following = request.model_copy(update={"page_token": answer.next_page_token})
            second, wall = timed(partial(search_enrollments, repo, partner_id, following, DEADLINE))
            results[label + ", page 2"] = {
                "page_size": request.page_size,
                "returned": len(second.meters),
                "requests": sum(counts.requests.values()),
                "items_read": counts.scanned,
                "wall_s": wall,
            }
    events.unregister("before-call.dynamodb.*", counts.on_call)
    events.unregister("after-call.dynamodb.Query", counts.on_result)
    return results


SEARCH_HEADER = (
    f"{'meters':>9} {'query':<40} {'page':>5} {'returned':>9} {'requests':>9} {'items read':>11} {'wall s':>7}"
)


def _print_run(run: dict[str, Any]) -> None:
    if run["report"] is None:
        return  # --search-only
    n = run["meters"]
    per_meter = ", ".join(f"{op} {count:,} ({count / n:.3f})" for op, count in sorted(run["requests"].items()))
    print(
        f"{n:>9,} {run['report']['changed']:>8,} {run['wall_s']:>8.1f} {n / run['wall_s']:>9,.0f} "
        f"{run['peak_mb']:>13.2f}  {per_meter}",
        flush=True,
    )


def _print_search(run: dict[str, Any]) -> None:
    for label, row in run["search"].items():
        print(
            f"{run['meters']:>9,} {label:<40} {row['page_size']:>5} {row['returned']:>9,} {row['requests']:>9,} "
            f"{row['items_read']:>11,} {row['wall_s']:>7.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="fleet sizes, comma-separated, each on a fresh moto (default 10000,100000); each size's figures are "
        "printed as it ends",
    )
    parser.add_argument(
        "--baseline-up-to",
        type=int,
        default=10_000,
        help="measure the no-index baseline only on fleets up to this size (default 10000): it reads the whole "
        "partition, which on moto costs minutes a 100,000 meters and shows nothing a smaller fleet does not",
    )
    parser.add_argument(
        "--search-only", action="store_true", help="set up each fleet and measure the search only, no scheduled run"
    )
    parser.add_argument(
        "--review-page",
        type=int,
        help="keys the run reads from the review index a request (default: the adapter's REVIEW_PAGE, 1,000); "
        "the heap grows with the fleet until every shard's page is full, then stays flat",
    )
    parser.add_argument(
        "--read-timeout",
        type=int,
        default=600,
        help="seconds the benchmark's clients wait for moto's answer (default 600; moto's index Query goes "
        "through the whole table)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    _environment()
    _patient_clients(args.read_timeout)
    if args.review_page:
        from meterhub.meters.adapters import dynamodb

        dynamodb.REVIEW_PAGE = args.review_page
    print(f"fleet: ERCOT meters, 2/3 registered (ELIGIBLE), 1/3 not (PENDING); run at the deadline {DEADLINE:%Y-%m-%d}")
    runs: list[dict[str, Any]] = []
    for size in sizes:
        run = fleet_run(size, baseline=size <= args.baseline_up_to, transitions=not args.search_only)
        runs.append(run)
        if args.search_only:
            continue
        print(f"{size:,} meters: scheduled transition run (every meter due)")
        print(f"{'meters':>9} {'changed':>8} {'wall s':>8} {'meters/s':>9} {'heap peak MB':>13}  requests (per meter)")
        _print_run(run)
    if not args.search_only:
        print("\nSummary: scheduled transition run")
        print(f"{'meters':>9} {'changed':>8} {'wall s':>8} {'meters/s':>9} {'heap peak MB':>13}  requests (per meter)")
        for run in runs:
            _print_run(run)
        first = runs[0]
        for run in runs[1:]:
            ratio = run["peak_mb"] / first["peak_mb"] if first["peak_mb"] else float("nan")
            print(f"heap peak ratio, {run['meters']:,} vs {first['meters']:,} meters: {ratio:.2f}x (flat = 1x)")
    print("\nSummary: enrollment search by status")
    print(SEARCH_HEADER)
    for run in runs:
        _print_search(run)


if __name__ == "__main__":
    main()
