"""Shared fixtures.

Unit tests use the InMemory fakes and never touch AWS or a socket (tests/unit/conftest.py applies `no_network`
to every one of them).
Integration tests use `aws`: moto, with the tables created from template.yaml, and call the real Lambda
handlers with API Gateway events through `invoke` / `invoke_programs`.

Fixtures (function-scoped):
    no_network() -> None                         any socket connect fails the test
    make_asset(reference="ref-0001", *, region="ISONE", meter_type="DEVICE",
               classification="RESIDENTIAL", **blocks) -> dict       a valid CreateMeter document
    aws(monkeypatch) -> DynamoDBClient           moto + env vars + template.yaml's resources (provisioned once per
                                                 process), caches reset, queues purged, no partners; a test
                                                 marked `pristine_aws` gets a freshly provisioned stack
    empty_moto() -> None                         moto's in-process backends emptied (a moto server in this process)
    partner(aws) -> IssuedKey                    a partner ("Acme Solar") and its first API key
    other_partner(aws) -> IssuedKey              a second partner ("Borealis Energy"), for isolation tests
    lambda_context() -> FakeLambdaContext        a minimal LambdaContext-like object
    emf(capsys) -> EmfCapture                    the EMF metrics printed to stdout (tests/emf.py); none pending before
    load_function(relative_path) -> ModuleType   e.g. load_function("functions/authorizer/app.py"), fresh module
    invoke(method, path, body=None, *, raw_body=None, query=None, partner_id=None, authorized=True)
        -> (status, parsed JSON body)            functions/meters_api/app.py (fresh module), as `partner`
    invoke_programs(method, path, ...) -> (status, parsed JSON body)   functions/programs_api/app.py
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
import pytest
from meterhub_dev.local.provisioning import provision
from meterhub_dev.local.stack import LocalTemplate, load_template
from moto import mock_aws
from moto.core.custom_responses_mock import reset_responses_mock
from moto.core.models import responses_mock
from moto.sqs.models import sqs_backends

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.emf import EmfCapture

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

# Physical names: the local template model names each resource after its logical id.
TABLE_ENV = {
    "PARTNERS_TABLE_NAME": "PartnersTable",
    "METERS_TABLE_NAME": "MetersTable",
    "IDEMPOTENCY_TABLE_NAME": "IdempotencyTable",
    "JOBS_TABLE_NAME": "JobsTable",
}


# ----- unit-test guard -------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if code under test tries to open a connection (unit tests must stay offline)."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("unit tests must not open network connections")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ----- request bodies --------------------------------------------------------------------------------------


class MakeAsset(Protocol):
    def __call__(
        self,
        reference: str = "ref-0001",
        *,
        region: str = "ISONE",
        meter_type: str = "DEVICE",
        classification: str = "RESIDENTIAL",
        **blocks: Any,
    ) -> dict[str, Any]: ...


_BASE_CUSTOMER: dict[str, Any] = {
    "street_1": "12 Harbor Street",
    "postal_code": "02108",
    "city": "Boston",
    "state_or_province_code": "MA",
    "country_code": "US",
}


def build_asset(
    reference: str = "ref-0001",
    *,
    region: str = "ISONE",
    meter_type: str = "DEVICE",
    classification: str = "RESIDENTIAL",
    **blocks: Any,
) -> dict[str, Any]:
    """A minimal valid asset; `customer=` is merged into the base address, other blocks are set as given."""
    customer = {**_BASE_CUSTOMER, **blocks.pop("customer", {})}
    return copy.deepcopy(
        {
            "partner_reference": reference,
            "transmission_region": region,
            "customer_classification": classification,
            "load_types": ["BATTERY_STORAGE"],
            "meter_type": meter_type,
            "customer": customer,
            **blocks,
        }
    )


@pytest.fixture
def make_asset() -> MakeAsset:
    return build_asset


# ----- AWS on moto -----------------------------------------------------------------------------------------


def _reset_caches() -> None:
    from meterhub import wiring
    from meterhub.platform.settings import forget_loaded_settings

    wiring.reset()
    forget_loaded_settings()


@cache
def local_template() -> LocalTemplate:
    """template.yaml read once per session (through meterhub_dev.local.stack, whose loader reads the short tags)."""
    return load_template(TEMPLATE)


def provision_template() -> list[str]:
    """Every table, bucket and queue of template.yaml on moto, as the stack would have them; the table names."""
    template = local_template()
    created = provision(
        template,
        boto3.client("dynamodb", region_name=REGION),
        boto3.client("s3", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
        boto3.client("kms", region_name=REGION),
    )
    return created.tables


def function_environment() -> dict[str, str]:
    """Every function's environment together (table, bucket and queue names resolved for moto): a test may call
    several handlers, and the functions agree on every variable they share."""
    merged: dict[str, str] = {}
    for function in local_template().functions.values():
        for name, value in function.environment.items():
            assert merged.setdefault(name, value) == value, f"functions disagree on {name}"
    return merged


# Every test that asks for `aws` shares one provisioned stack per process (per xdist worker): creating the
# template's resources and the boto3 clients again for each test was most of the integration suite's time.
# Isolation comes from the data instead: each test makes its own partner (every table but the partners one is
# keyed by partner), starts with an empty partner registry (account names are one namespace, and tests name
# their partners "Acme Solar"), with every queue purged and the module-level caches reset. A test that needs
# nothing but its own rows (it scans a whole table, or replays sample events with fixed ids) is marked
# `pristine_aws` and gets a freshly provisioned stack.


@cache
def _shared_loader(search_path: str | None) -> botocore.loaders.Loader:
    return botocore.loaders.create_loader(search_path)


@pytest.fixture(scope="session", autouse=True)
def _botocore_models_read_once() -> Iterator[None]:
    """Every boto3 session shares one botocore loader, so each service's JSON models are parsed once per
    process rather than once per client (platform.adapters.clients builds a new session for each client, and the
    tests reset those clients between cases). The models are read-only: sharing them changes no behaviour."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", _shared_loader)
        yield


class MotoStack:
    """template.yaml's tables, buckets, queues and KMS aliases on moto's in-process backends, provisioned once
    and kept between tests (moto's patching is only active inside `active()`, so tests without `aws` run
    against no moto at all, as before)."""

    def __init__(self) -> None:
        self._mock = mock_aws()
        self._provisioned_at: Any = None  # the partners table's creation time: gone or changed = not ours

    @contextmanager
    def active(self, *, pristine: bool = False) -> Iterator[None]:
        # start(reset=False) registers moto's URL patterns with `responses` again; drop the previous ones.
        reset_responses_mock(responses_mock)
        self._mock.start(reset=False)
        try:
            if pristine or not self._intact():
                self._mock.stop()  # empties every backend
                self._mock.start()
                self._provision()  # as deployed: the data bucket's S3 test event is on its queue
            else:
                self._start_clean()
            yield
        finally:
            self._mock.stop(remove_data=False)

    def _describe_partners_table(self) -> Any:
        return boto3.client("dynamodb", region_name=REGION).describe_table(TableName=TABLE_ENV["PARTNERS_TABLE_NAME"])

    def _intact(self) -> bool:
        """False after anything emptied moto's backends or re-created the stack (a local runner's moto in this
        process shares them: see `empty_moto`)."""
        if self._provisioned_at is None:
            return False
        try:
            created = self._describe_partners_table()["Table"]["CreationDateTime"]
        except botocore.exceptions.ClientError:
            return False
        return bool(created == self._provisioned_at)

    def _provision(self) -> None:
        tables = provision_template()
        assert set(TABLE_ENV.values()) <= set(tables), f"template tables changed: {tables}"
        self._provisioned_at = self._describe_partners_table()["Table"]["CreationDateTime"]

    def _start_clean(self) -> None:
        """Purge every queue (messages in flight and delayed included) and empty the partners table."""
        # Through moto's backend, not the API: a dozen PurgeQueue calls before every test cost seconds a run.
        queues = sqs_backends[ACCOUNT_ID][REGION]
        with pytest.MonkeyPatch.context() as patch:
            # AWS allows one purge a minute per queue; tests follow each other faster than that.
            patch.setenv("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
            for name in list(queues.queues):
                queues.purge_queue(name)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = TABLE_ENV["PARTNERS_TABLE_NAME"]
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk")
            for item in page["Items"]
        ]
        for start in range(0, len(keys), 25):
            dynamodb.batch_write_item(
                RequestItems={table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]}
            )


@pytest.fixture(scope="session")
def moto_stack() -> MotoStack:
    return MotoStack()


@pytest.fixture
def empty_moto() -> Iterator[None]:
    """moto's in-process backends emptied before the test (for a test that runs a moto server in this process,
    as the local runner does: it serves the same backends `aws` provisions). The next `aws` test notices and
    provisions again."""
    mock_aws().reset()
    yield
    mock_aws().reset()


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, moto_stack: MotoStack, request: pytest.FixtureRequest
) -> Iterator[DynamoDBClient]:
    """moto for the whole test, with fake credentials, the functions' env vars and the template's resources;
    caches reset, queues purged, no partners yet (a `pristine_aws` test: nothing at all but the resources)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "POWERTOOLS_IDEMPOTENCY_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name, value in function_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "meterhub")
    _reset_caches()
    try:
        with moto_stack.active(pristine=request.node.get_closest_marker("pristine_aws") is not None):
            yield boto3.client("dynamodb", region_name=REGION)
    finally:
        _reset_caches()


@pytest.fixture
def partner(aws: DynamoDBClient) -> IssuedKey:
    from meterhub.partners import use_cases as partners
    from meterhub.partners.adapters.dynamodb import dynamo_partner_repository

    repo = dynamo_partner_repository(TABLE_ENV["PARTNERS_TABLE_NAME"])
    created = partners.create_partner(repo, "Acme Solar")
    return partners.issue_api_key(repo, created.partner_id)


@pytest.fixture
def other_partner(aws: DynamoDBClient) -> IssuedKey:
    from meterhub.partners import use_cases as partners
    from meterhub.partners.adapters.dynamodb import dynamo_partner_repository

    repo = dynamo_partner_repository(TABLE_ENV["PARTNERS_TABLE_NAME"])
    created = partners.create_partner(repo, "Borealis Energy")
    return partners.issue_api_key(repo, created.partner_id)


# ----- Lambda invocation -----------------------------------------------------------------------------------


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from a LambdaContext."""

    function_name: str = "meterhub-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:meterhub-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/meterhub-test"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def emf(capsys: pytest.CaptureFixture[str]) -> Iterator[EmfCapture]:
    from meterhub.platform.observability import clear_metrics

    from tests.emf import EmfCapture

    clear_metrics()
    yield EmfCapture(capsys)
    clear_metrics()


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext(aws_request_id=str(uuid.uuid4()))


def load_function_module(relative_path: str) -> ModuleType:
    """A fresh copy of a function's module, loaded from its file as the Lambda runtime would."""
    path = ROOT / relative_path
    name = f"_handler_{path.parent.name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_function() -> Callable[[str], ModuleType]:
    """Loads a function's module from its path relative to the repository root (a fresh copy per call)."""
    return load_function_module


def _route_templates(function_id: str) -> list[tuple[str, str]]:
    return [(route.method, route.path) for route in local_template().routes if route.function_id == function_id]


def resource_for(routes: list[tuple[str, str]], method: str, path: str) -> tuple[str, dict[str, str] | None]:
    """The template route matching a concrete path (literal segments win) and its path parameters."""
    candidates: list[tuple[int, str, dict[str, str]]] = []
    for route_method, template in routes:
        if route_method not in (method.upper(), "ANY"):
            continue
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        match = re.match(pattern, path)
        if match:
            candidates.append((len(match.groupdict()), template, match.groupdict()))
    if not candidates:
        raise AssertionError(f"template.yaml declares no route for {method} {path}: {routes}")
    _, template, params = min(candidates)
    return template, params or None


def api_event(
    method: str,
    resource: str,
    path: str,
    *,
    path_parameters: Mapping[str, str] | None = None,
    body: str | None = None,
    query: Mapping[str, str | list[str]] | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the gateway sends it after the authorizer ran."""
    multi_query = {k: (v if isinstance(v, list) else [v]) for k, v in (query or {}).items()} or None
    single_query = {k: vs[-1] for k, vs in multi_query.items()} if multi_query else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "abcdef1234",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "path": f"/local{path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "198.51.100.7"},
            "authorizer": dict(authorizer) if authorizer is not None else None,
        },
    }


class Invoke(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        partner_id: str | None = None,
        authorized: bool = True,
    ) -> tuple[int, Any]: ...


def _invoker(
    relative_path: str, function_id: str, default_partner: Callable[[], str | None], context: FakeLambdaContext
) -> Invoke:
    module = load_function_module(relative_path)
    routes = _route_templates(function_id)

    def invoke(
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        partner_id: str | None = None,
        authorized: bool = True,
    ) -> tuple[int, Any]:
        resource, params = resource_for(routes, method, path)
        caller = partner_id or default_partner()
        event = api_event(
            method,
            resource,
            path,
            path_parameters=params,
            body=raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
            query=query,
            authorizer={"partner_id": caller} if authorized and caller else None,
        )
        response: dict[str, Any] = module.lambda_handler(event, context)
        return int(response["statusCode"]), json.loads(response["body"])

    return invoke


@pytest.fixture
def invoke(partner: IssuedKey, lambda_context: FakeLambdaContext) -> Invoke:
    """Calls functions/meters_api/app.py as `partner` (override with partner_id=...)."""
    return _invoker("functions/meters_api/app.py", "MetersApiFunction", lambda: partner.partner_id, lambda_context)


@pytest.fixture
def invoke_programs(aws: DynamoDBClient, lambda_context: FakeLambdaContext) -> Invoke:
    """Calls functions/programs_api/app.py (the catalog needs no partner, but the gateway still authorizes)."""
    return _invoker("functions/programs_api/app.py", "ProgramsApiFunction", lambda: "partner-x", lambda_context)


# ----- batch meter jobs: the jobs API with raw bodies and headers, and the SQS worker ----------------------


@dataclass(frozen=True)
class HttpResult:
    """A Lambda proxy response: status, headers (lower-case names) and the body as text."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class InvokeJobs(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | None = None,
        content_type: str | None = "application/json",
        accept: str | None = "application/json",
        query: Mapping[str, str | list[str]] | None = None,
        partner_id: str | None = None,
    ) -> HttpResult: ...


@pytest.fixture
def invoke_jobs(partner: IssuedKey, lambda_context: FakeLambdaContext) -> InvokeJobs:
    """Calls functions/meter_jobs_api/app.py as `partner` with a raw body, Content-Type and Accept of choice;
    `query` values that are lists become multi-value parameters (`filter=a:b&filter=c:d`)."""
    module = load_function_module("functions/meter_jobs_api/app.py")
    routes = _route_templates("MeterJobsApiFunction")

    def invoke_jobs(
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | None = None,
        content_type: str | None = "application/json",
        accept: str | None = "application/json",
        query: Mapping[str, str | list[str]] | None = None,
        partner_id: str | None = None,
    ) -> HttpResult:
        resource, params = resource_for(routes, method, path)
        event = api_event(
            method,
            resource,
            path,
            path_parameters=params,
            body=raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
            query=query,
            authorizer={"partner_id": partner_id or partner.partner_id},
        )
        headers = {
            name: value for name, value in (("Content-Type", content_type), ("Accept", accept)) if value is not None
        }
        event["headers"] = headers
        event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
        response: dict[str, Any] = module.lambda_handler(event, lambda_context)
        response_headers = {k.lower(): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            response_headers.setdefault(name.lower(), ",".join(str(v) for v in values))
        return HttpResult(int(response["statusCode"]), response_headers, str(response.get("body") or ""))

    return invoke_jobs


@dataclass
class WorkerLambdaContext(FakeLambdaContext):
    """A context whose remaining time is settable: the worker stops when it nears its safety margin."""

    remaining_ms: int = 110_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class JobWorker:
    """functions/meter_job_worker/app.py fed from the moto queue as Lambda's SQS event-source mapping would."""

    def __init__(self) -> None:
        self.module = load_function_module("functions/meter_job_worker/app.py")
        self.queue_url = function_environment()["METER_JOBS_QUEUE_URL"]
        self.sqs = boto3.client("sqs", region_name=REGION)

    def receive(self) -> list[dict[str, Any]]:
        """Every message now visible on the jobs queue (they stay in flight until deleted)."""
        return receive_all(self.sqs, self.queue_url)

    def event(self, messages: list[dict[str, Any]], receive_count: int | None = None) -> dict[str, Any]:
        """An SQS event; `receive_count` overrides each record's ApproximateReceiveCount."""
        return sqs_event(messages, "MeterJobsQueue", receive_count)

    def handle(self, event: dict[str, Any], remaining_ms: int = 110_000) -> dict[str, Any]:
        context = WorkerLambdaContext(aws_request_id=str(uuid.uuid4()), remaining_ms=remaining_ms)
        result: dict[str, Any] = self.module.lambda_handler(event, context)
        return result

    def delete(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def run_queue(self, max_rounds: int = 20) -> int:
        """Deliver every queued message (one per invocation, as BatchSize: 1), delete the ones that succeeded,
        and repeat until the queue is empty (continuations included). Returns how many invocations ran."""
        invocations = 0
        for _ in range(max_rounds):
            messages = self.receive()
            if not messages:
                return invocations
            for message in messages:
                result = self.handle(self.event([message]))
                invocations += 1
                assert not result.get("batchItemFailures"), result
                self.delete([message])
        raise AssertionError(f"the jobs queue was not empty after {max_rounds} rounds")


@pytest.fixture
def job_worker(aws: DynamoDBClient) -> JobWorker:
    return JobWorker()


# ----- interval uploads: the uploads API with raw bodies (text or base64) and any Content-Type -------------


class InvokeUploads(Protocol):
    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | bytes | None = None,
        content_type: str | None = "application/json",
        query: Mapping[str, str | list[str]] | None = None,
        partner_id: str | None = None,
    ) -> HttpResult: ...


@pytest.fixture
def invoke_uploads(partner: IssuedKey, lambda_context: FakeLambdaContext) -> InvokeUploads:
    """Calls functions/interval_uploads_api/app.py as `partner`. A `bytes` raw_body travels base64-encoded
    (as API Gateway sends a binary body), a `str` one as text."""
    module = load_function_module("functions/interval_uploads_api/app.py")
    routes = _route_templates("IntervalUploadsApiFunction")

    def invoke_uploads(
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | bytes | None = None,
        content_type: str | None = "application/json",
        query: Mapping[str, str | list[str]] | None = None,
        partner_id: str | None = None,
    ) -> HttpResult:
        resource, params = resource_for(routes, method, path)
        if isinstance(raw_body, bytes):
            text: str | None = base64.b64encode(raw_body).decode("ascii")
        else:
            text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        event = api_event(
            method,
            resource,
            path,
            path_parameters=params,
            body=text,
            query=query,
            authorizer={"partner_id": partner_id or partner.partner_id},
        )
        event["isBase64Encoded"] = isinstance(raw_body, bytes)
        headers = {"Accept": "application/json", **({"Content-Type": content_type} if content_type else {})}
        event["headers"] = headers
        event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
        response: dict[str, Any] = module.lambda_handler(event, lambda_context)
        response_headers = {k.lower(): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            response_headers.setdefault(name.lower(), ",".join(str(v) for v in values))
        return HttpResult(int(response["statusCode"]), response_headers, str(response.get("body") or ""))

    return invoke_uploads


# ----- interval file drops: data bucket -> IntervalFilesQueue -> functions/interval_ingest/app.py ----------


@dataclass(frozen=True)
class Delivery:
    """One SQS message handed to the ingest function: the S3 key it was about (decoded; None for the S3 test
    event), the receive count it carried, and whether the function reported it as a batch item failure."""

    key: str | None
    receive_count: int
    failed: bool


class IntervalDrops:
    """Partner files put into the real data bucket at `partners/<pid>/interval-data/<name>`. The bucket's
    notification (provisioned from template.yaml) enqueues each S3 event on IntervalFilesQueue; `receive` /
    `event` / `handle` / `run_queue` feed them to functions/interval_ingest/app.py as Lambda's SQS event source
    (BatchSize 1) would, with the ApproximateReceiveCount the queue reports.
    """

    def __init__(self) -> None:
        env = function_environment()
        self.module = load_function_module("functions/interval_ingest/app.py")
        self.bucket = env["DATA_BUCKET_NAME"]
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue_url = self.sqs.get_queue_url(QueueName="IntervalFilesQueue")["QueueUrl"]
        self.dead_letter_url = self.sqs.get_queue_url(QueueName="IntervalFilesDeadLetterQueue")["QueueUrl"]
        self.jobs_table = env["JOBS_TABLE_NAME"]
        self.intervals_table = env["INTERVALS_TABLE_NAME"]
        self.meters_table = env["METERS_TABLE_NAME"]

    # ----- meters and files --------------------------------------------------------------------------------
    def meter(self, partner_id: str, *, region: str = "ISONE", meter_type: str = "DEVICE") -> str:
        """A stored meter of `partner_id` (written straight to the meters table: utility meters of CAISO and
        NYISO cannot be created through the API). Returns its id."""
        from datetime import UTC, datetime, timedelta

        from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
        from meterhub.meters.records import MeterRecord

        meter_id = str(uuid.uuid4())
        created = datetime.now(UTC) - timedelta(days=730)
        state = {"ISONE": "MA", "NYISO": "NY", "CAISO": "CA", "ERCOT": "TX"}.get(region, "MA")
        data = build_asset(
            f"ref-{meter_id[:8]}", region=region, meter_type=meter_type, customer={"state_or_province_code": state}
        )
        record = MeterRecord(
            meter_id=meter_id,
            partner_id=partner_id,
            partner_reference=data["partner_reference"],
            data=data,
            created_at=created,
            updated_at=created,
        )
        dynamo_meter_repository(self.meters_table).create(record)
        return meter_id

    def key(self, partner_id: str, name: str) -> str:
        return f"partners/{partner_id}/interval-data/{name}"

    def put(self, partner_id: str, name: str, body: bytes, metadata: Mapping[str, str] | None = None) -> str:
        """Drop a file into the partner's folder; returns the object's version id."""
        response = self.s3.put_object(
            Bucket=self.bucket, Key=self.key(partner_id, name), Body=body, Metadata=dict(metadata or {})
        )
        return str(response["VersionId"])

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def keys(self, partner_id: str) -> list[str]:
        """The partner's current objects (not versions, not delete markers), sorted."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"partners/{partner_id}/")
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    # ----- the queue and the function ----------------------------------------------------------------------
    def receive(self) -> list[dict[str, Any]]:
        """Every message now visible on IntervalFilesQueue (they stay in flight until deleted or released)."""
        return receive_all(self.sqs, self.queue_url)

    def event(self, messages: list[dict[str, Any]], receive_count: int | None = None) -> dict[str, Any]:
        """An SQS event; `receive_count` overrides each record's ApproximateReceiveCount."""
        return sqs_event(messages, "IntervalFilesQueue", receive_count)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.module.lambda_handler(event, FakeLambdaContext(aws_request_id=str(uuid.uuid4())))
        return result

    def delete(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def release(self, messages: list[dict[str, Any]]) -> None:
        """Make in-flight messages visible again now (what the visibility timeout does, later)."""
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    @staticmethod
    def message_key(message: Mapping[str, Any]) -> str | None:
        from urllib.parse import unquote_plus

        records = json.loads(message["Body"]).get("Records") or [{}]
        encoded = records[0].get("s3", {}).get("object", {}).get("key")
        return unquote_plus(encoded) if encoded is not None else None

    def run_queue(self, *, redeliver: bool = False, max_rounds: int = 20) -> list[Delivery]:
        """Deliver every queued message, one per invocation; delete those that succeeded. A failed one stays in
        flight, or with `redeliver` comes back at once with its receive count up (Lambda's retry), until the
        queue's redrive policy moves it to the dead-letter queue. Repeats until the queue is empty."""
        deliveries: list[Delivery] = []
        for _ in range(max_rounds):
            messages = self.receive()
            if not messages:
                return deliveries
            for message in messages:
                result = self.handle(self.event([message]))
                failed = bool(result.get("batchItemFailures"))
                count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                deliveries.append(Delivery(self.message_key(message), count, failed))
                if not failed:
                    self.delete([message])
                elif redeliver:
                    self.release([message])
        raise AssertionError(f"IntervalFilesQueue was not empty after {max_rounds} rounds")

    def dead_letters(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def interval_drops(aws: DynamoDBClient, monkeypatch: pytest.MonkeyPatch) -> IntervalDrops:
    """The data bucket, IntervalFilesQueue and the ingest function on moto (see `IntervalDrops`), with the S3
    event records the local runner's moto sends (meterhub_dev.local.moto_fidelity)."""
    from meterhub_dev.local.moto_fidelity import s3_event_record
    from moto.s3 import notifications

    monkeypatch.setattr(notifications, "_get_s3_event", s3_event_record)
    return IntervalDrops()


# ----- SQS deliveries as Lambda sees them ---------------------------------------------------------------------
def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message now visible on a queue (they stay in flight until deleted or released)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
        if not batch.get("Messages"):
            return messages
        messages.extend(dict(message) for message in batch["Messages"])


def sqs_event(messages: list[dict[str, Any]], queue_name: str, receive_count: int | None = None) -> dict[str, Any]:
    """An SQS event for a function; `receive_count` overrides each record's ApproximateReceiveCount."""
    records = []
    for message in messages:
        attributes = {str(k): str(v) for k, v in message.get("Attributes", {}).items()}
        if receive_count is not None or "ApproximateReceiveCount" not in attributes:
            attributes["ApproximateReceiveCount"] = str(receive_count or 1)
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue_name}",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


# ----- a webhook receiver on loopback ---------------------------------------------------------------------------
@dataclass
class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 (`url` ends in /hooks): it answers every POST with `status` (set it to
    change the answer) and keeps the (lower-cased headers, body) of each in `received`."""

    url: str = ""
    status: int = 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    state = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            """Silent: the test output is not the place for an access log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
