"""meterhub.platform.api.error_envelopes: each error shape byte for byte, and a resolver built with each envelope
wording the same failures (domain errors, validation, the body decoder's refusals, unknown routes, crashes)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body
from meterhub.platform.api.error_envelopes import (
    ERROR_MESSAGE,
    TITLE_STATUS_DETAILS,
    ErrorEnvelope,
    InvalidRequestShape,
    RequestProblems,
    asset_errors,
    asset_errors_response,
    validation_error,
    validation_error_response,
)
from meterhub.platform.api.field_errors import FieldError
from meterhub.platform.api.resolver import ApiResolver, build_resolver
from meterhub.platform.errors import Conflict, DomainError, InvalidInput, NotFound, PayloadTooLarge
from pydantic import BaseModel


def missing_body() -> dict[str, Any]:
    return {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}


def wrong_type(*loc: str | int) -> dict[str, Any]:
    return {"type": "string_type", "loc": loc, "msg": "Input should be a valid string", "input": 5}


# ----- the shapes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "title_status_details", "error_message"),
    [
        (
            NotFound("Webhook not found", {"webhook_id": "x"}),
            '{"title":"Webhook not found","status":404,"details":{"webhook_id":"x"}}',
            '{"error":"Not Found","message":"The specified resource was not found"}',
        ),
        (
            Conflict("Busy", {"a": 1, "b": "two"}),
            '{"title":"Busy","status":409,"details":{"a":1,"b":"two"}}',
            '{"error":"Conflict","message":"Busy (a: 1; b: two)"}',
        ),
        (
            InvalidInput("Bad thing", [{"message": "m"}]),
            '{"title":"Bad thing","status":400,"details":[{"message":"m"}]}',
            '{"error":"Bad Request","message":"Bad thing ({\'message\': \'m\'})"}',
        ),
        (
            PayloadTooLarge("Too big"),
            '{"title":"Too big","status":413,"details":{}}',
            '{"error":"Content Too Large","message":"Too big"}',
        ),
        (
            DomainError("Déjà vu", {"name": None}),
            '{"title":"Déjà vu","status":400,"details":{}}',
            '{"error":"Bad Request","message":"Déjà vu (name: None)"}',
        ),
    ],
)
def test_a_domain_error_in_each_envelope(error: DomainError, title_status_details: str, error_message: str) -> None:
    for envelope, expected in ((TITLE_STATUS_DETAILS, title_status_details), (ERROR_MESSAGE, error_message)):
        answer = envelope.domain_error(error)
        assert (answer.status_code, answer.content_type, answer.body) == (error.status, "application/json", expected)


def test_an_unknown_route_and_a_crash_in_each_envelope() -> None:
    answers = [
        (a.status_code, a.body)
        for a in (
            TITLE_STATUS_DETAILS.route_not_found(),
            TITLE_STATUS_DETAILS.unexpected(),
            ERROR_MESSAGE.route_not_found(),
            ERROR_MESSAGE.unexpected(),
        )
    ]
    assert answers == [
        (404, '{"title":"Route not found","status":404,"details":{}}'),
        (500, '"An error happened whilst processing your request"'),
        (404, '{"error":"Not Found","message":"The specified resource was not found"}'),
        (500, '{"error":"Internal Server Error","message":"An unexpected error occurred"}'),
    ]


@pytest.mark.parametrize(
    ("errors", "title_status_details", "error_message"),
    [
        (
            [wrong_type("body", "receiver_url"), wrong_type("query", "page_size")],
            '{"title":"Invalid request","status":400,"details":{"receiver_url":"must be a string (got number)",'
            '"page_size":"must be a string (got number)"}}',
            '{"error":"Bad Request","message":"receiver_url: must be a string (got number); '
            'page_size: must be a string (got number)"}',
        ),
        (
            [missing_body()],
            '{"title":"Invalid request","status":400,"details":{"body":"a JSON request body is required"}}',
            '{"error":"Bad Request","message":"A JSON request body is required"}',
        ),
        (
            [],
            '{"title":"Invalid request","status":400,"details":{}}',
            '{"error":"Bad Request","message":"Invalid request"}',
        ),
    ],
    ids=["fields", "no-body", "nothing-named"],
)
def test_an_invalid_request_in_each_envelope(
    errors: list[dict[str, Any]], title_status_details: str, error_message: str
) -> None:
    problems = RequestProblems.of(RequestValidationError(errors))
    assert TITLE_STATUS_DETAILS.invalid_request(problems).body == title_status_details
    assert ERROR_MESSAGE.invalid_request(problems).body == error_message


def test_request_problems_name_fields_as_the_partner_wrote_them() -> None:
    problems = RequestProblems.of(
        RequestValidationError([wrong_type("body", "customer", "city"), wrong_type("path", "meter_id"), missing_body()])
    )
    assert problems.body_missing
    assert [e.field for e in problems.errors] == ["customer.city", "meter_id", ""]
    assert problems.errors[-1].description == "a JSON request body is required"
    assert not RequestProblems.of(RequestValidationError([wrong_type("body", "customer")])).body_missing


def test_create_meters_envelope_names_every_field_under_the_prefix() -> None:
    answer = asset_errors_response(
        [FieldError("meter_type", "is required"), FieldError("", "not JSON")], prefix="provisional_asset."
    )
    assert (answer.status_code, answer.body) == (
        400,
        '{"errors":[{"field":"provisional_asset.meter_type","description":"is required","suggestions":[]},'
        '{"description":"not JSON","suggestions":[]}]}',
    )


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (
            InvalidInput("Invalid filter", {"problem_field": "filter", "message": "'colour:red': use key:value"}),
            '{"message":"\'colour:red\': use key:value","problem_field":"filter"}',
        ),
        (
            InvalidInput("search_fields is required with search_query", {"problem_field": "search_fields"}),
            '{"message":"search_fields is required with search_query","problem_field":"search_fields"}',
        ),
        (InvalidInput("Bad token", {"page_token": "zz"}), '{"message":"Bad token"}'),
        (InvalidInput("Listed", [{"message": "ignored"}]), '{"message":"Listed"}'),
    ],
    ids=["message-and-field", "title-and-field", "title-only", "list-details"],
)
def test_the_bare_validation_error_names_the_message_and_the_field(error: DomainError, body: str) -> None:
    answer = validation_error_response(error)
    assert (answer.status_code, answer.body) == (400, body)


# ----- a resolver speaking each envelope --------------------------------------------------------------------


class Thing(BaseModel):
    name: str


def resolver(envelope: ErrorEnvelope, invalid_requests: dict[str, InvalidRequestShape] | None = None) -> ApiResolver:
    app = build_resolver(envelope=envelope, invalid_requests=invalid_requests)

    @app.get("/things", responses={403: {"description": "Ours", "content": {"application/json": {"model": Thing}}}})
    def list_things() -> list[Thing]:
        return []

    @app.post("/things")
    def create_thing(thing: Annotated[Thing, Body()]) -> dict[str, str]:
        if thing.name == "taken":
            raise Conflict("Thing exists", {"name": thing.name})
        if thing.name == "crash":
            raise RuntimeError("a bug")
        return {"name": thing.name}

    return app


class Context:
    function_name = "things"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:things"
    aws_request_id = "00000000-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/things"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def answer(
    envelope: ErrorEnvelope,
    path: str,
    body: str | None,
    content_type: str = "application/json",
    invalid_requests: dict[str, InvalidRequestShape] | None = None,
) -> Any:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {"Content-Type": content_type},
        "multiValueHeaders": {"Content-Type": [content_type]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {"resourcePath": path, "httpMethod": "POST", "stage": "test", "requestId": "r"},
    }
    response = resolver(envelope, invalid_requests).resolve(event, Context())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "title_status_details", "error_message"),
    [
        ("/things", '{"name": "ok"}', "application/json", 200, {"name": "ok"}, {"name": "ok"}),
        (
            "/things",
            '{"name": "taken"}',
            "application/json",
            409,
            {"title": "Thing exists", "status": 409, "details": {"name": "taken"}},
            {"error": "Conflict", "message": "Thing exists (name: taken)"},
        ),
        (
            "/things",
            "{nope",
            "application/json",
            400,
            {
                "title": "Invalid request",
                "status": 400,
                "details": {
                    "body": "request body is not valid JSON: "
                    "Expecting property name enclosed in double quotes (at character 1)"
                },
            },
            {
                "error": "Bad Request",
                "message": "request body is not valid JSON: "
                "Expecting property name enclosed in double quotes (at character 1)",
            },
        ),
        (
            "/things",
            '{"name": "ok"}',
            "text/plain",
            415,
            {
                "title": "Unsupported content type",
                "status": 415,
                "details": {"content-type": "text/plain is not accepted: send application/json"},
            },
            {
                "error": "Unsupported Media Type",
                "message": "Unsupported content type (content-type: text/plain is not accepted: send application/json)",
            },
        ),
        (
            "/things",
            None,
            "application/json",
            400,
            {"title": "Invalid request", "status": 400, "details": {"body": "a JSON request body is required"}},
            {"error": "Bad Request", "message": "A JSON request body is required"},
        ),
        (
            "/things",
            '{"name": "crash"}',
            "application/json",
            500,
            "An error happened whilst processing your request",
            {"error": "Internal Server Error", "message": "An unexpected error occurred"},
        ),
        (
            "/nowhere",
            None,
            "application/json",
            404,
            {"title": "Route not found", "status": 404, "details": {}},
            {"error": "Not Found", "message": "The specified resource was not found"},
        ),
    ],
    ids=["ok", "domain-error", "invalid-json", "unsupported-type", "no-body", "crash", "unknown-route"],
)
def test_a_resolver_answers_every_failure_in_its_envelope(
    path: str,
    body: str | None,
    content_type: str,
    status: int,
    title_status_details: Any,
    error_message: Any,
) -> None:
    assert answer(TITLE_STATUS_DETAILS, path, body, content_type) == (status, title_status_details)
    assert answer(ERROR_MESSAGE, path, body, content_type) == (status, error_message)


@pytest.mark.parametrize(
    ("body", "as_validation_error", "as_asset_errors"),
    [
        (
            '{"name": 5}',
            {"message": "must be a string (got number)", "problem_field": "name"},
            {"errors": [{"field": "name", "description": "must be a string (got number)", "suggestions": []}]},
        ),
        (
            None,
            {"message": "a JSON request body is required"},
            {"errors": [{"description": "a JSON request body is required", "suggestions": []}]},
        ),
    ],
    ids=["wrong-type", "no-body"],
)
def test_a_route_with_a_shape_of_its_own_answers_every_refused_request_in_it(
    body: str | None, as_validation_error: dict[str, Any], as_asset_errors: dict[str, Any]
) -> None:
    # Whichever envelope the function speaks, the route's own 400 shape wins; its other errors keep the envelope
    for envelope in (TITLE_STATUS_DETAILS, ERROR_MESSAGE):
        assert answer(envelope, "/things", body, invalid_requests={"/things": validation_error}) == (
            400,
            as_validation_error,
        )
        assert answer(envelope, "/things", body, invalid_requests={"/things": asset_errors}) == (400, as_asset_errors)
    taken = answer(TITLE_STATUS_DETAILS, "/things", '{"name": "taken"}', invalid_requests={"/things": validation_error})
    assert taken == (409, {"title": "Thing exists", "status": 409, "details": {"name": "taken"}})


def _declared(envelope: ErrorEnvelope) -> dict[str, dict[str, Any]]:
    """Each operation's responses, status -> the component names its schema references."""
    document = json.loads(resolver(envelope).get_openapi_json_schema())
    return {
        method: {
            status: json.dumps(response.get("content", {}).get("application/json", {}).get("schema", {}))
            for status, response in operation["responses"].items()
        }
        for method, operation in document["paths"]["/things"].items()
    }


def test_every_route_declares_the_gateways_answers_and_its_envelopes_500() -> None:
    meter_api, webhooks = _declared(TITLE_STATUS_DETAILS), _declared(ERROR_MESSAGE)
    for declared in (meter_api["post"], webhooks["post"]):
        for status in ("401", "403", "429"):
            assert declared[status] == '{"$ref": "#/components/schemas/ErrorResponse"}'
    assert meter_api["post"]["500"] == '{"$ref": "#/components/schemas/InternalError"}'
    # An authorizer failure is API Gateway's bare string whatever the function's envelope
    assert "WebhookErrorResponse" in webhooks["post"]["500"] and "InternalError" in webhooks["post"]["500"]
    # A route's own declaration wins, and its success answer is still its return type
    assert meter_api["get"]["403"] == '{"$ref": "#/components/schemas/Thing"}'
    assert '"type": "array"' in meter_api["get"]["200"]
