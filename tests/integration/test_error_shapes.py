"""Each error shape the API functions answer in, provoked from the handlers on moto and checked against the schema
openapi.json declares for that operation and status (README "Errors" lists the shapes; the contract test checks
that every error response declares one and that API Gateway's own bodies are valid against them)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from tests.conftest import ROOT, FakeLambdaContext, MakeAsset, api_event, load_function_module, local_template
from tests.declared_bodies import assert_declared

if TYPE_CHECKING:
    from types import ModuleType

    from meterhub.partners.use_cases import IssuedKey

Call = Callable[..., tuple[int, Any]]


@pytest.fixture
def call(partner: IssuedKey, lambda_context: FakeLambdaContext) -> Call:
    """Calls the function that serves `resource` with one request as `partner`; returns the status and the decoded
    JSON body (a bare string for Leap's 500). `module_of` gives the loaded module, to make it fail."""
    modules: dict[str, ModuleType] = {}

    def module_of(resource: str) -> ModuleType:
        route = next(r for r in local_template().routes if r.path == resource)
        if route.function_id not in modules:
            code = Path(local_template().functions[route.function_id].code_dir).relative_to(ROOT)
            modules[route.function_id] = load_function_module(str(code / "app.py"))
        return modules[route.function_id]

    def call(
        method: str,
        resource: str,
        body: Any = None,
        *,
        raw_body: str | None = None,
        query: Mapping[str, str | list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        params = {name.strip("{}"): str(uuid.uuid4()) for name in resource.split("/") if name.startswith("{")}
        path = resource
        for name, value in params.items():
            path = path.replace("{" + name + "}", value)
        event = api_event(
            method,
            resource,
            path,
            path_parameters=params or None,
            body=raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
            query=query,
            authorizer={"partner_id": partner.partner_id},
        )
        event["headers"].update(headers or {})
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
        response = module_of(resource).lambda_handler(event, lambda_context)
        return int(response["statusCode"]), json.loads(response["body"])

    call.module_of = module_of  # type: ignore[attr-defined]
    return call


def _fails(*_: Any, **__: Any) -> NoReturn:
    raise RuntimeError("a bug that must not reach the caller")


TOO_BIG = json.dumps({"padding": "x" * (1024 * 1024)})
WEBHOOK = {"receiver_url": "https://hooks.example.com/meterhub", "event_types": ["meter_job.completed"]}


# ----- {title, status, details}: Leap's meter-API envelope, and ours -----------------------------------------


@pytest.mark.parametrize(
    ("method", "resource", "request_args", "status"),
    [
        pytest.param("GET", "/v2/meters/{meter_id}", {}, 404, id="unknown-meter"),
        pytest.param("GET", "/v1.1/jobs/meters/{job_id}", {}, 404, id="unknown-job"),
        pytest.param("POST", "/v2/meters/search", {"body": {"page_size": 0}}, 400, id="invalid-search"),
        pytest.param("POST", "/v2/meters/search", {"raw_body": TOO_BIG}, 413, id="body-over-1-mib"),
        pytest.param(
            "POST", "/v2/meters/search", {"raw_body": "a=1", "headers": {"Content-Type": "text/plain"}}, 415, id="415"
        ),
        pytest.param(
            "GET", "/v1.1/provisional-assets", {"headers": {"Accept": "application/xml"}}, 415, id="accept-415"
        ),
        pytest.param("POST", "/v1.1/connect/links", {"body": {"ref_id": ""}}, 400, id="connect-400"),
        pytest.param("GET", "/v1.1/jobs/interval-data-uploads/{job_id}", {}, 404, id="interval-job-404"),
    ],
)
def test_the_meter_apis_answer_in_title_status_details(
    call: Call, method: str, resource: str, request_args: dict[str, Any], status: int
) -> None:
    answer_status, body = call(method, resource, **request_args)
    assert answer_status == status, body
    assert_declared(method, resource, status, body, "ErrorResponse")


def test_a_reused_onboarding_token_is_a_409_in_title_status_details(call: Call, make_asset: MakeAsset) -> None:
    first = {"provisional_asset": make_asset("shape-409"), "onboarding_token": "token-shape-409"}
    assert call("POST", "/v1.1/meters", first)[0] == 200
    status, body = call("POST", "/v1.1/meters", {**first, "provisional_asset": make_asset("shape-409-other")})
    assert status == 409, body
    assert_declared("POST", "/v1.1/meters", 409, body, "ErrorResponse")


# ----- Leap's route-specific 400s -----------------------------------------------------------------------------


def test_an_invalid_asset_is_create_meters_list_of_field_errors(call: Call) -> None:
    status, body = call("POST", "/v1.1/meters", {"provisional_asset": {"meter_type": "NOPE"}})
    assert status == 400, body
    assert_declared("POST", "/v1.1/meters", 400, body, "CreateMeterErrorResponse")
    assert len(body["errors"]) > 1


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"filter": ["colour:red"]}, id="filter-the-use-case-refuses"),
        pytest.param({"filter": ["status:FAILED"] * 21}, id="more-filters-than-the-route-takes"),
        pytest.param({"page_size": "many"}, id="page-size-not-a-number"),
        pytest.param({"search_fields": ["partner_reference"] * 21, "search_query": "x"}, id="search-fields"),
    ],
)
def test_every_refused_provisional_asset_query_is_leaps_bare_validation_error(
    call: Call, query: dict[str, Any]
) -> None:
    # Whichever check refuses the query (the route's parameters or the use case), the answer is one shape
    status, body = call("GET", "/v1.1/provisional-assets", query=query)
    assert status == 400, body
    assert_declared("GET", "/v1.1/provisional-assets", 400, body, "BatchValidationError")
    assert body["problem_field"] in {"filter", "page_size", "search_fields"}


# ----- {error, message}: Leap's webhooks API ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "resource", "request_args", "status"),
    [
        pytest.param("PUT", "/v1.1/webhooks/{webhook_id}", {"body": WEBHOOK}, 404, id="unknown-webhook"),
        pytest.param("POST", "/v1.1/webhooks", {"body": {"receiver_url": "ftp://x"}}, 400, id="invalid-webhook"),
        pytest.param("POST", "/v1.1/webhooks", {"raw_body": TOO_BIG}, 413, id="body-over-1-mib"),
        pytest.param(
            "POST", "/v1.1/webhooks", {"raw_body": "a=1", "headers": {"Content-Type": "text/plain"}}, 415, id="415"
        ),
    ],
)
def test_the_webhooks_api_answers_in_error_message(
    call: Call, method: str, resource: str, request_args: dict[str, Any], status: int
) -> None:
    answer_status, body = call(method, resource, **request_args)
    assert answer_status == status, body
    assert_declared(method, resource, status, body, "WebhookErrorResponse")


# ----- the 500s: nothing internal reaches the caller -----------------------------------------------------------


def test_an_unexpected_error_is_leaps_bare_500_string(call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call.module_of("/v1.1/programs"), "list_programs", _fails)  # type: ignore[attr-defined]
    status, body = call("GET", "/v1.1/programs")
    assert status == 500
    assert_declared("GET", "/v1.1/programs", 500, body, "InternalError")


def test_an_unexpected_error_in_the_webhooks_api_is_its_error_message(
    call: Call, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call.module_of("/v1.1/webhooks"), "_repo", _fails)  # type: ignore[attr-defined]
    status, body = call("GET", "/v1.1/webhooks")
    assert status == 500
    assert_declared("GET", "/v1.1/webhooks", 500, body, "WebhookErrorResponse")
    assert body == {"error": "Internal Server Error", "message": "An unexpected error occurred"}
