"""Webhook dispatch: deliveries/s to a loopback receiver answering in 1 ms, against a plain `requests` loop; memory.

The issue's target: the dispatcher is never the bottleneck against a receiver answering in 1 ms, i.e. its
deliveries/s stay within 2x of a plain `requests` loop posting to the same receiver in the same run.

The receiver runs in its own process (stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive when the client keeps the
connection, sleeps 1 ms, answers 204), so it shares a GIL with neither side. Measured in one run, all to it:
- baseline: a `requests.Session` posting events x subscriptions bodies of a real signed delivery's size (and
  headers), one after another; a `requests.post` loop opening a new connection each time is shown too, because
  the dispatcher opens one per delivery (it connects to the address its SSRF check approved);
- the dispatcher's logic on the in-memory fakes: `Dispatcher.handle` with the budget the handler grants (the
  fan-out posts attempt 1 itself: per delivery the SSRF re-check, signing, one http.client POST, concurrently
  for an event's subscriptions, and the delivery-log writes) with the InMemory repository, log and queue: our
  code plus the HTTP calls, no AWS SDK, no moto;
- the dispatcher as Lambda runs it: functions/webhook_dispatcher/app.py's `lambda_handler` on in-process moto
  (`mock_aws`, tables and queues provisioned from template.yaml, STAGE=local so plain http to loopback is
  allowed), one partner with `--subscriptions` webhooks all pointing at the receiver. Event messages go to the
  handler in SQS events of 10; the delivery tasks the fan-out queues are read back from the moto queue and
  handed over in batches of 10, as the event-source mapping would, before the next 10 events (so the queue
  stays short: moto recounts a queue's messages on every send). Only handler time counts toward its rate
  (polling and deleting messages are Lambda's work, not ours); the whole loop's time is shown too. Logging
  stays at the template's INFO level, written to /dev/null.
- the handler's peak memory (VmHWM) for two event counts, each in a fresh process that runs only the handler
  loop, against a moto server process (so moto's tables and queues do not count against the dispatcher).

Two moto patches (in-process and in the moto server), both against costs that grow with the table and that
DynamoDB does not have: `_partition_queries` (moto answers a base-table Query by sorting the whole table, and the
fan-out queries WebhooksTable, which fills up with delivery-log entries, once per event) and
benchmarks/batch_jobs.py's `_no_table_backups` (moto deep-copies every table before each TransactWriteItems, to
roll back; the fan-out starts and records an event's entries in one transaction each). Unpatched, the run turns
quadratic in moto. moto's DynamoDB and SQS work dominates the handler's time: `--profile` splits it into moto's
backend, botocore's client side, the POST and the rest.

Runtime on the 2-core machine (~3.3 ms of handler time per delivery in process, ~3.6 ms in the memory runs
against the moto server): `--events 1000` (10,000 deliveries, memory runs of 100 and 1,000 events) takes ~3
minutes; the default `--events 10000` (100,000 deliveries, memory runs of 1,000 and 10,000 events) ~23 minutes,
6 of them the large memory run (`--no-memory` or `--memory-large` shorten it).

    .venv/bin/python benchmarks/webhooks.py [--events 10000] [--subscriptions 10] [--memory-small N]
                                            [--memory-large N] [--no-memory]
    .venv/bin/python benchmarks/webhooks.py --events 1000           # the quick run
    .venv/bin/python benchmarks/webhooks.py --profile 200           # where a moto-backed delivery's time goes

Figures only, no assertions beyond checking that every delivery reached the receiver.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import os
import pstats
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:WebhookEventsQueue"
RECEIVER_DELAY_SECONDS = 0.001
BATCH_SIZE = 10  # the dispatcher's SQS trigger (template.yaml: BatchSize 10)
BUDGET_SECONDS = 115.0  # what the handler grants an event: its 120 s timeout less its reserve


# ----- the loopback receiver (its own process) ------------------------------------------------------------
class _ReceiverHandler(BaseHTTPRequestHandler):
    """Reads the body, sleeps 1 ms, answers 204; keeps the connection when the client does (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(RECEIVER_DELAY_SECONDS)
        with _ReceiverHandler.lock:
            _ReceiverHandler.count += 1
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        """`GET /count`: how many POSTs arrived, so the benchmark can check every delivery reached us."""
        body = str(_ReceiverHandler.count).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: one access-log line per delivery would cost more than the 1 ms being simulated."""


def serve_receiver() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ReceiverHandler)
    server.daemon_threads = True
    server.request_queue_size = 128
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.05)


@contextmanager
def receiver_process() -> Iterator[str]:
    """The receiver in a child process; yields its base URL and stops it (by its own pid) on exit."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--receiver"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


def received(base_url: str) -> int:
    import requests

    return int(requests.get(f"{base_url}/count", timeout=5).text)


# ----- events and a real delivery's body --------------------------------------------------------------------
def payload() -> dict[str, Any]:
    """A meter.created payload like the MetersTable stream publishes (our sample, with a fresh meter id)."""
    from meterhub.webhooks.use_cases.samples import sample_payload

    return {**sample_payload(), "meter_id": str(uuid.uuid4())}


def event_messages(count: int, partner_id: str) -> Iterator[dict[str, Any]]:
    """The publisher's queue messages, built lazily so the memory runs hold one batch at a time."""
    from meterhub.platform.event_publisher import event_message

    for _ in range(count):
        yield event_message(partner_id, payload())


def signed_request() -> tuple[bytes, dict[str, str]]:
    """The body and headers of a real delivery (built by the dispatcher's own code), for the baseline."""
    from datetime import UTC, datetime

    from meterhub.platform.events import envelope
    from meterhub.webhooks.records import Subscription
    from meterhub.webhooks.rules.signing import new_secret
    from meterhub.webhooks.use_cases.deliver import build_headers, encode_event

    now = datetime.now(UTC)
    subscription = Subscription(
        webhook_id=str(uuid.uuid4()),
        partner_id=str(uuid.uuid4()),
        event_types=["meter.created"],
        receiver_url="http://127.0.0.1/hooks",
        signing_secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    event = envelope(payload())
    body = encode_event(event)
    return body, build_headers(subscription, event, body, int(time.time()))


class Timing(NamedTuple):
    """Wall seconds (what deliveries/s is about) and this process's CPU seconds over the same span: the CPU figure
    is less disturbed by other work on a shared machine, and shows what the receiver's 1 ms is not."""

    wall: float
    cpu: float


@contextmanager
def clock() -> Iterator[list[float]]:
    """Yields a list that holds [wall, cpu] seconds once the block is done."""
    spent: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time()
    yield spent
    spent.extend((time.perf_counter() - wall, time.process_time() - cpu))


def requests_loop(base_url: str, count: int, *, keep_alive: bool) -> Timing:
    """`count` sequential POSTs of a real delivery's body and headers."""
    import requests

    body, headers = signed_request()
    url = f"{base_url}/baseline"
    with clock() as spent:
        if keep_alive:
            with requests.Session() as session:
                for _ in range(count):
                    response = session.post(url, data=body, headers=headers, timeout=10, allow_redirects=False)
                    assert response.status_code == 204, response.status_code
        else:
            for _ in range(count):
                response = requests.post(url, data=body, headers=headers, timeout=10, allow_redirects=False)
                assert response.status_code == 204, response.status_code
    return Timing(*spent)


# ----- moto: a Query reads one partition ---------------------------------------------------------------------
_QUERY = threading.local()
_QUERIES_PATCHED = False


def _partition_queries() -> None:
    """Make moto answer a base-table Query from the queried partition only.

    moto answers one by sorting every item of the table (`Table.all_items`) and filtering on the hash key: O(table)
    per Query, where DynamoDB reads one partition. The fan-out queries the partner's subscriptions once per event
    in WebhooksTable, which also holds every delivery-log entry, so unpatched each event costs time in proportion
    to the deliveries made so far and the run turns quadratic (moto's cost, not the dispatcher's). The wrapper
    marks the queried partition (per thread) and `all_items` then returns just that partition, sorted as before.
    """
    from moto.dynamodb.models.table import Table

    global _QUERIES_PATCHED
    if _QUERIES_PATCHED:
        return
    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        _QUERY.partition = list(self.items.get(hash_key, {}).values())
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _QUERY.partition = None

    def all_items(self: Any) -> Any:
        partition = getattr(_QUERY, "partition", None)
        if partition is None:
            return original_all_items(self)
        return sorted(partition, key=lambda item: (item.hash_key, item.range_key))

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    _QUERIES_PATCHED = True


def _moto_patches() -> None:
    """`_partition_queries` and benchmarks/batch_jobs.py's `_no_table_backups` (see the module docstring)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.batch_jobs import _no_table_backups

    _partition_queries()
    _no_table_backups()


# ----- the dispatcher's logic on the in-memory fakes ---------------------------------------------------------
def in_memory_dispatcher(base_url: str, events: int, subscriptions: int) -> Timing:
    """`Dispatcher.handle` over every event and task (same order as the Lambda runs them)."""
    from meterhub.webhooks.adapters.http_delivery import http_client_post
    from meterhub.webhooks.use_cases.dispatch import Dispatcher, Outcome

    from tests.fakes.queues import InMemoryWorkQueue
    from tests.fakes.webhooks import InMemoryDeliveryLog, InMemoryWebhookRepository

    partner_id = str(uuid.uuid4())
    repo = InMemoryWebhookRepository()
    create_subscriptions(repo, partner_id, base_url, subscriptions)
    queue = InMemoryWorkQueue()
    dispatcher = Dispatcher(repo, InMemoryDeliveryLog(), queue, stage="local", http_post=http_client_post)
    messages = event_messages(events, partner_id)
    with clock() as spent:
        for batch in batches(messages):
            for message in batch:
                dispatcher.handle(message, budget_seconds=BUDGET_SECONDS)
            while queue.messages:
                task = queue.messages.pop(0)
                queue.delays.pop(0)
                outcome = dispatcher.handle(task)
                assert outcome is Outcome.DELIVERED, outcome
    return Timing(*spent)


def create_subscriptions(repo: Any, partner_id: str, base_url: str, count: int) -> None:
    """`count` webhooks of one partner wanting meter.created, through the API's use case (URL check included)."""
    from meterhub.webhooks.api_models import WebhookRequest
    from meterhub.webhooks.use_cases.subscriptions import create_webhook

    for n in range(count):
        request = WebhookRequest.model_validate(
            {"event_types": ["meter.created"], "receiver_url": f"{base_url}/hooks/{n}"}
        )
        create_webhook(repo, partner_id, request, stage="local")


def batches(messages: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for message in messages:
        batch.append(message)
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


# ----- the Lambda handler on moto ----------------------------------------------------------------------------
def configure(endpoint: str) -> None:
    """The dispatcher function's environment from template.yaml (STAGE=local), pointed at `endpoint` (empty:
    in-process moto), with fake credentials."""
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    else:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    from meterhub import wiring
    from meterhub.platform.settings import forget_loaded_settings
    from meterhub_dev.local.intrinsics import LocalContext
    from meterhub_dev.local.stack import load_template

    template = load_template(ROOT / "template.yaml", LocalContext(aws_endpoint_url=endpoint or None))
    os.environ.update(template.functions["WebhookDispatcherFunction"].environment)
    wiring.reset()
    forget_loaded_settings()


def provision() -> None:
    import boto3
    from meterhub_dev.local.intrinsics import LocalContext
    from meterhub_dev.local.provisioning import provision as create_resources
    from meterhub_dev.local.stack import load_template

    template = load_template(ROOT / "template.yaml", LocalContext(aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL")))
    create_resources(template, boto3.client("dynamodb"), boto3.client("s3"), boto3.client("sqs"))


def moto_subscriptions(base_url: str, count: int) -> str:
    """A fresh partner with `count` webhooks in WebhooksTable; returns its id."""
    from meterhub import wiring
    from meterhub.platform.settings import WebhooksTableSettings

    partner_id = str(uuid.uuid4())
    create_subscriptions(wiring.webhook_repository(WebhooksTableSettings.load()), partner_id, base_url, count)
    return partner_id


def load_handler() -> ModuleType:
    """functions/webhook_dispatcher/app.py loaded from its file, as the Lambda runtime does."""
    path = ROOT / "functions" / "webhook_dispatcher" / "app.py"
    spec = importlib.util.spec_from_file_location("webhook_dispatcher_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quiet_logs() -> None:
    """Keep the dispatcher's log lines (INFO, as deployed: formatting them is part of its cost) but write them to
    /dev/null: one JSON line per delivery would drown the figures, and the memory child's stdout is its report."""
    import logging

    from meterhub.platform.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(Path(os.devnull).open("w"))  # noqa: SIM115 - lives as long as the process


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a LambdaContext."""

    function_name: str = "WebhookDispatcherFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:WebhookDispatcherFunction"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/WebhookDispatcherFunction"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def sqs_event(bodies: list[tuple[str, str]]) -> dict[str, Any]:
    """An SQS event of (message id, body) pairs, shaped as the event-source mapping sends it."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": message_id,
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": REGION,
            }
            for message_id, body in bodies
        ]
    }


@dataclass
class HandlerRun:
    handler_seconds: float = 0.0
    handler_cpu_seconds: float = 0.0
    total_seconds: float = 0.0
    invocations: int = 0
    dynamodb_requests: int = 0
    sqs_sends: int = 0


class Counter:
    """Counts the calls a boto3 client makes (before-call events of one service, optionally one operation)."""

    def __init__(self, client: Any, event: str) -> None:
        self.count = 0
        client.meta.events.register(event, self._count)

    def _count(self, **_: Any) -> None:
        self.count += 1


def run_handler(
    module: ModuleType, partner_id: str, events: int, profiler: cProfile.Profile | None = None
) -> HandlerRun:
    """Feed `events` event messages to the handler in SQS events of 10, and after each such event the tasks
    it queued, read back from the moto queue 10 at a time (then deleted, as the event-source mapping does)."""
    import boto3
    from meterhub.platform.adapters import clients
    from meterhub.platform.settings import WebhookEventsQueueSettings

    queue_url = WebhookEventsQueueSettings.load().webhook_events_queue_url
    sqs = boto3.client("sqs", region_name=REGION)  # the poller's own client: its calls are not counted
    dynamodb_requests = Counter(clients.dynamodb(), "before-call.dynamodb")
    sqs_sends = Counter(clients.sqs(), "before-call.sqs.SendMessage")
    run = HandlerRun()

    def invoke(bodies: list[tuple[str, str]]) -> None:
        event, context = sqs_event(bodies), LambdaContext()
        if profiler is not None:
            profiler.enable()
        with clock() as spent:
            result = module.lambda_handler(event, context)
        run.handler_seconds += spent[0]
        run.handler_cpu_seconds += spent[1]
        if profiler is not None:
            profiler.disable()
        run.invocations += 1
        assert result == {"batchItemFailures": []}, result

    started = time.perf_counter()
    for batch in batches(event_messages(events, partner_id)):
        invoke([(str(uuid.uuid4()), json.dumps(message)) for message in batch])
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=BATCH_SIZE).get("Messages", [])
            if not messages:
                break
            invoke([(m["MessageId"], m["Body"]) for m in messages])
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
    run.total_seconds = time.perf_counter() - started
    run.dynamodb_requests = dynamodb_requests.count
    run.sqs_sends = sqs_sends.count
    return run


def moto_dispatcher(base_url: str, events: int, subscriptions: int) -> HandlerRun:
    from moto import mock_aws

    _moto_patches()
    with mock_aws():
        configure("")
        provision()
        partner_id = moto_subscriptions(base_url, subscriptions)
        return run_handler(load_handler(), partner_id, events)


# ----- where the time goes -----------------------------------------------------------------------------------
def cumulative(raw: dict[Any, Any], path_end: str, function: str) -> float:
    """Cumulative seconds of one function in a cProfile's raw stats (0 when it never ran)."""
    return sum(
        float(entry[3])
        for (filename, _line, name), entry in raw.items()
        if filename.endswith(path_end) and name == function
    )


def profile(base_url: str, events: int, subscriptions: int) -> None:
    """cProfile of the handler invocations only (not the poller): where a moto-backed delivery's time goes."""
    from moto import mock_aws

    _moto_patches()
    profiler = cProfile.Profile()
    with mock_aws():
        configure("")
        provision()
        partner_id = moto_subscriptions(base_url, subscriptions)
        run = run_handler(load_handler(), partner_id, events, profiler)
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    moto = cumulative(raw, "moto/core/botocore_stubber.py", "__call__")
    sdk = cumulative(raw, "botocore/client.py", "_make_api_call") - moto
    # The fan-out posts in worker threads, which cProfile does not see: count the main thread's wait for them.
    post = cumulative(raw, "concurrent/futures/_base.py", "result") + cumulative(
        raw, "meterhub/webhooks/delivery.py", "http_client_post"
    )
    deliveries = events * subscriptions
    print(f"profile: {events} events x {subscriptions} subscriptions, handler invocations under cProfile")
    print(f"  handler {run.handler_seconds:.2f} s with the profiler's overhead, {total:.2f} s profiled")
    for label, seconds in (
        ("moto's backend (not paid on AWS)", moto),
        ("botocore client side (paid on AWS too, plus the network)", sdk),
        ("the POSTs (waited for; receiver's 1 ms included)", post),
        ("the rest: meterhub, Powertools, pydantic, logging, json", total - moto - sdk - post),
    ):
        share, per_delivery = 100 * seconds / total, 1000 * seconds / deliveries
        print(f"  {label:<58} {seconds:7.2f} s {share:5.1f} % {per_delivery:6.2f} ms/delivery")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(out.getvalue())


# ----- memory: the handler alone, in a fresh process, against a moto server process ----------------------------
def handler_peak_rss(endpoint: str, base_url: str, events: int, subscriptions: int) -> tuple[float, float, float]:
    """(peak MB, MB before the handler ran, seconds) of a fresh process running only the handler loop."""
    partner_id = moto_subscriptions(base_url, subscriptions)
    out = subprocess.run(
        [sys.executable, __file__, "--handler-only", partner_id, "--endpoint", endpoint, "--events", str(events)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return float(result["peak_rss_mb"]), float(result["before_mb"]), float(result["seconds"])


def handler_only(endpoint: str, partner_id: str, events: int) -> None:
    configure(endpoint)
    quiet_logs()
    module = load_handler()
    before = high_water_mark_mb()
    run = run_handler(module, partner_id, events)
    print(json.dumps({"peak_rss_mb": high_water_mark_mb(), "before_mb": before, "seconds": run.total_seconds}))


def high_water_mark_mb() -> float:
    """VmHWM of this process (not ru_maxrss, which Linux carries over fork/exec from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SERVER = (
    "import sys; sys.path.insert(0, {root!r}); from benchmarks.webhooks import _moto_patches; "
    "_moto_patches(); from moto.server import main; main(['-H', '127.0.0.1', '-p', '{port}'])"
)


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in its own process (as benchmarks/batch_jobs.py runs one, with this file's Query patch), so
    its tables are not counted against the handler; stopped by its own pid."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT), port=port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


# ----- the report --------------------------------------------------------------------------------------------
def rate_line(name: str, count: int, timing: Timing, baseline: Timing) -> str:
    per_delivery = 1000 * timing.cpu / count
    return (
        f"{name:<50} {timing.wall:8.1f} s {count / timing.wall:7.0f} /s {timing.wall / baseline.wall:6.2f}x "
        f"{per_delivery:7.2f} ms"
    )


def timed(label: str, work: Callable[[], Timing]) -> Timing:
    """Run `work` and say so on stderr (the long runs would otherwise look stuck)."""
    print(f"... {label}", file=sys.stderr, flush=True)
    return work()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--memory-small", type=int, help="events of the small memory run (default: --events / 10)")
    parser.add_argument("--memory-large", type=int, help="events of the large memory run (default: --events)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--profile", type=int, metavar="EVENTS", help="profile the moto-backed handler only")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--handler-only", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver()
        return
    if args.handler_only:
        handler_only(args.endpoint, args.handler_only, args.events)
        return
    quiet_logs()
    deliveries = args.events * args.subscriptions
    with receiver_process() as base_url:
        if args.profile:
            profile(base_url, args.profile, args.subscriptions)
            return
        keep_alive = timed("requests.Session loop", lambda: requests_loop(base_url, deliveries, keep_alive=True))
        fresh = timed("requests.post loop", lambda: requests_loop(base_url, deliveries, keep_alive=False))
        memory = timed(
            "dispatcher on in-memory fakes", lambda: in_memory_dispatcher(base_url, args.events, args.subscriptions)
        )
        print("... dispatcher handler on moto", file=sys.stderr, flush=True)
        before = received(base_url)
        lambda_run = moto_dispatcher(base_url, args.events, args.subscriptions)
        arrived = received(base_url) - before
        assert arrived == deliveries, f"{arrived} of {deliveries} deliveries reached the receiver"
        peaks: list[tuple[int, float, float, float]] = []
        if not args.no_memory:
            with moto_server() as endpoint:
                configure(endpoint)
                provision()
                for events in (args.memory_small or max(1, args.events // 10), args.memory_large or args.events):
                    print(f"... memory, {events} events", file=sys.stderr, flush=True)
                    peaks.append((events, *handler_peak_rss(endpoint, base_url, events, args.subscriptions)))
    print(
        f"{args.events:,} events x {args.subscriptions} subscriptions = {deliveries:,} deliveries to a loopback "
        f"receiver answering 204 after {RECEIVER_DELAY_SECONDS * 1000:g} ms (own process)"
    )
    print(f"{'run':<50} {'wall':>10} {'deliveries':>10} {'ratio':>7} {'CPU/deliv.':>10}")
    handler = Timing(lambda_run.handler_seconds, lambda_run.handler_cpu_seconds)
    for name, timing in (
        ("baseline: requests.Session loop (keep-alive)", keep_alive),
        ("requests.post loop (new connection each)", fresh),
        ("dispatcher logic, in-memory fakes (no AWS)", memory),
        ("dispatcher Lambda handler on moto", handler),
    ):
        print(rate_line(name, deliveries, timing, keep_alive))
    whole = lambda_run.total_seconds
    print(f"{'  same, whole loop incl. SQS polling/deleting':<50} {whole:8.1f} s {deliveries / whole:7.0f} /s")
    print(
        f"handler: {lambda_run.invocations:,} invocations, {lambda_run.dynamodb_requests / deliveries:.2f} DynamoDB "
        f"requests and {lambda_run.sqs_sends / deliveries:.2f} SQS sends per delivery"
    )
    print("ratio: wall time / the baseline's; target <= 2 (the dispatcher is never the bottleneck)")
    print("CPU/deliv.: CPU of the process running that loop (the moto row includes moto's own work)")
    if peaks:
        print("\nhandler peak RSS (VmHWM), fresh process, moto in its own server process:")
        for events, peak, start, seconds in peaks:
            print(
                f"  {events:>7,} events ({events * args.subscriptions:>9,} deliveries): {peak:6.1f} MB peak, "
                f"{start:6.1f} MB before the first event, {seconds:7.1f} s"
            )
        (small, small_peak, *_), (large, large_peak, *_) = peaks
        print(f"  ratio {large / small:g}x events: {large_peak / small_peak:.2f}x peak RSS")


if __name__ == "__main__":
    main()
