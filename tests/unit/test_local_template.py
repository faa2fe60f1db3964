"""The local runner reads routes and resources from template.yaml, and behaves like API Gateway on them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from meterhub_dev.local.apigateway import (
    IncomingRequest,
    MalformedProxyResponse,
    RouteTable,
    build_proxy_event,
    evaluate_authorizer_result,
    gateway_response,
    parse_proxy_result,
)
from meterhub_dev.local.rest_apis import Route
from meterhub_dev.local.stack import LocalTemplate, load_template
from meterhub_dev.local.template_yaml import TemplateError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> LocalTemplate:
    return load_template(ROOT / "template.yaml")


def _route(template: LocalTemplate, method: str, path: str) -> Route:
    return next(r for r in template.routes if r.method == method and r.path == path)


def test_routes_come_from_function_events(template: LocalTemplate) -> None:
    create = _route(template, "POST", "/v1.1/meters")
    assert create.function_id == "MetersApiFunction"
    assert create.authorizer == "ApiKeyAuthorizer"
    assert create.api_id == "PartnerApi"
    assert _route(template, "GET", "/v1.1/programs").function_id == "ProgramsApiFunction"
    assert {(r.method, r.path) for r in template.routes} >= {
        ("GET", "/v2/meters/{meter_id}"),
        ("POST", "/v2/meters/search"),
        ("GET", "/v2/meters/{meter_id}/enrollments"),
    }


def test_functions_code_handler_and_environment(template: LocalTemplate) -> None:
    assert {"AuthorizerFunction", "MetersApiFunction", "ProgramsApiFunction"} <= set(template.functions)
    meters = template.functions["MetersApiFunction"]
    assert meters.code_dir == ROOT / "functions" / "meters_api"
    assert meters.module_path == ROOT / "functions" / "meters_api" / "app.py"
    assert meters.function_name == "lambda_handler"
    assert meters.environment["METERS_TABLE_NAME"] == "MetersTable"  # !Ref -> local physical name
    assert meters.environment["PARTNERS_TABLE_NAME"] == "PartnersTable"
    assert meters.environment["POWERTOOLS_SERVICE_NAME"] == "meterhub"  # Globals' variables merged in
    assert "STAGE" not in meters.environment  # a function gets only what its settings declare
    assert template.functions["WebhooksApiFunction"].environment["STAGE"] == "local"
    assert template.functions["MeterJobWorkerFunction"].environment["METER_JOBS_MAX_RECEIVE_COUNT"] == "5"  # Mappings
    assert meters.timeout_seconds == 10  # from Globals
    assert template.functions["ProgramsApiFunction"].memory_mb == 256  # own value beats Globals
    assert template.functions["AuthorizerFunction"].timeout_seconds == 5


def test_authorizer_and_gateway_responses(template: LocalTemplate) -> None:
    api = template.apis["PartnerApi"]
    assert api.stage_name == "local"
    authorizer = api.authorizers[api.default_authorizer or ""]
    assert authorizer.function_id == "AuthorizerFunction"
    assert authorizer.payload_type == "TOKEN"
    assert authorizer.header == "Authorization"
    assert authorizer.validation_expression == "^Bearer [A-Za-z0-9._~+/=-]+$"
    assert api.gateway_responses["UNAUTHORIZED"].status_code == 401
    assert api.gateway_responses["MISSING_AUTHENTICATION_TOKEN"].status_code == 404


def test_tables_with_keys_indexes_and_ttl(template: LocalTemplate) -> None:
    assert set(template.tables) >= {"PartnersTable", "MetersTable", "IdempotencyTable"}
    partners = template.tables["PartnersTable"].create_kwargs
    assert partners["TableName"] == "PartnersTable"
    assert partners["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert partners["BillingMode"] == "PAY_PER_REQUEST"
    assert "SSESpecification" not in partners and "DeletionProtectionEnabled" not in partners
    meters = template.tables["MetersTable"].create_kwargs
    gsi, *enrollment_indexes = meters["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1"
    assert gsi["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]
    assert [(index["IndexName"], index["Projection"]["ProjectionType"]) for index in enrollment_indexes] == [
        ("gsi2", "ALL"),
        ("gsi3", "ALL"),
        ("gsi4", "KEYS_ONLY"),
    ]
    idempotency = template.tables["IdempotencyTable"]
    assert idempotency.create_kwargs["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idempotency.ttl_attribute == "expiration"
    assert "DataBucket" in template.buckets


def test_new_resources_need_no_code_change(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        """
Parameters:
  StageName: {Type: String, Default: dev}
Globals:
  Function:
    Environment:
      Variables:
        QUEUE_URL: !Ref JobsQueue
        STAGE: !Ref StageName
Resources:
  JobsDlq: {Type: AWS::SQS::Queue}
  JobsQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy: {deadLetterTargetArn: !GetAtt JobsDlq.Arn, maxReceiveCount: 3}
  Uploads: {Type: AWS::S3::Bucket, Properties: {BucketName: !Sub "uploads-${StageName}"}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.handler
      Environment: {Variables: {BUCKET: !Ref Uploads, ARN: !GetAtt JobsQueue.Arn}}
      Events:
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt JobsQueue.Arn, BatchSize: 5}}
        Health: {Type: Api, Properties: {Path: /health, Method: get}}
""",
        encoding="utf-8",
    )
    template = load_template(tmp_path / "template.yaml")
    worker = template.functions["Worker"]
    assert worker.environment["BUCKET"] == "uploads-local"
    assert worker.environment["STAGE"] == "local"
    assert worker.environment["QUEUE_URL"].endswith("/123456789012/JobsQueue")
    assert worker.environment["ARN"] == "arn:aws:sqs:us-east-1:123456789012:JobsQueue"
    assert template.queues["JobsQueue"].dead_letter_queue == "JobsDlq"
    assert (
        '"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:JobsDlq"'
        in (template.queues["JobsQueue"].attributes["RedrivePolicy"])
    )
    assert template.queues["JobsQueue"].attributes["VisibilityTimeout"] == "30"
    (health,) = template.routes
    assert (health.api_id, health.method, health.authorizer) == ("ServerlessRestApi", "GET", None)


def test_unresolvable_values_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Environment: {Variables: {OTHER: !ImportValue other-stack-output}}
""",
        encoding="utf-8",
    )
    with pytest.raises(TemplateError, match=r"Fn\.Properties\.Environment\.Variables\.OTHER"):
        load_template(tmp_path / "template.yaml")


# ----- API Gateway behaviour -------------------------------------------------------------------------------


def test_literal_segments_beat_parameters(template: LocalTemplate) -> None:
    table = RouteTable(template.routes)
    search = table.match("POST", "/v2/meters/search")
    assert search is not None and search.route.path == "/v2/meters/search"
    read = table.match("GET", "/v2/meters/search")  # GET has no literal route: the parameter one matches
    assert read is not None and read.route.path == "/v2/meters/{meter_id}"
    assert read.path_parameters == {"meter_id": "search"}
    enrollments = table.match("GET", "/v2/meters/m-1/enrollments")
    assert enrollments is not None and enrollments.path_parameters == {"meter_id": "m-1"}
    assert table.match("DELETE", "/v2/meters/m-1") is None
    assert table.match("GET", "/v2/unknown") is None


def test_greedy_and_any_routes_lose_to_specific_ones() -> None:
    def route(method: str, path: str) -> Route:
        return Route("Api", method, path, f"{method} {path}", None, "event")

    table = RouteTable([route("ANY", "/{proxy+}"), route("GET", "/files/{name}"), route("ANY", "/files/{name}")])
    files = table.match("GET", "/files/a%20b")
    assert files is not None and files.route.function_id == "GET /files/{name}"
    assert files.path_parameters == {"name": "a b"}
    other = table.match("POST", "/deep/er/path")
    assert other is not None and other.path_parameters == {"proxy": "deep/er/path"}


def test_proxy_event_shape(template: LocalTemplate) -> None:
    match = RouteTable(template.routes).match("GET", "/v2/meters/m-1")
    assert match is not None
    request = IncomingRequest(
        method="GET",
        path="/v2/meters/m-1",
        query_string="a=1&a=2&b=&c=x%20y",
        headers=[("Host", "127.0.0.1:3000"), ("X-Many", "1"), ("X-Many", "2")],
        body=b"",
        source_ip="10.0.0.9",
    )
    event = build_proxy_event(
        match, template.apis["PartnerApi"], request, authorizer={"partner_id": "p-1", "principalId": "p-1"}
    )
    assert event["resource"] == "/v2/meters/{meter_id}"
    assert event["path"] == "/v2/meters/m-1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"meter_id": "m-1"}
    assert event["queryStringParameters"] == {"a": "2", "b": "", "c": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""], "c": ["x y"]}
    assert event["headers"]["X-Many"] == "2"
    assert event["multiValueHeaders"]["X-Many"] == ["1", "2"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "local"
    assert context["resourcePath"] == "/v2/meters/{meter_id}"
    assert context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "10.0.0.9"
    assert context["requestId"] == request.request_id
    assert context["authorizer"] == {"partner_id": "p-1", "principalId": "p-1"}


def test_proxy_event_bodies(template: LocalTemplate) -> None:
    match = RouteTable(template.routes).match("POST", "/v1.1/meters")
    assert match is not None
    api = template.apis["PartnerApi"]

    def event_for(content_type: str, body: bytes) -> dict[str, object]:
        request = IncomingRequest("POST", "/v1.1/meters", "", [("Content-Type", content_type)], body)
        return build_proxy_event(match, api, request)

    text = event_for("application/json; charset=utf-8", b'{"a":"\xc3\xa9"}')
    assert text["body"] == '{"a":"é"}' and text["isBase64Encoded"] is False
    binary = event_for("application/octet-stream", b"\x00\xffdata")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(str(binary["body"])) == b"\x00\xffdata"
    no_query = event_for("text/plain", b"hi")
    assert no_query["queryStringParameters"] is None and no_query["pathParameters"] is None


def test_policy_evaluation_explicit_deny_wins() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc/local/GET/v1.1/programs"

    def policy(*statements: tuple[str, str]) -> dict[str, object]:
        return {
            "principalId": "p-1",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}
                    for effect, resource in statements
                ],
            },
            "context": {"partner_id": "p-1", "n": 3, "ok": True},
        }

    allowed = evaluate_authorizer_result(policy(("Allow", "arn:aws:execute-api:*:*:abc/local/*/*")), arn)
    assert allowed.allowed
    assert allowed.request_context()["partner_id"] == "p-1"
    assert allowed.request_context()["principalId"] == "p-1"
    assert allowed.context == {"partner_id": "p-1", "n": "3", "ok": "true"}  # REST APIs stringify
    assert not evaluate_authorizer_result(policy(("Allow", "*"), ("Deny", "*")), arn).allowed
    assert not evaluate_authorizer_result(policy(("Allow", "arn:aws:execute-api:*:*:other/*")), arn).allowed


def test_gateway_responses_use_the_template(template: LocalTemplate) -> None:
    api = template.apis["PartnerApi"]
    unauthorized = gateway_response(api, "UNAUTHORIZED", "r-1")
    assert unauthorized.status == 401
    assert unauthorized.body == b'{"title":"Unauthorized","status":401,"details":{}}'
    assert gateway_response(api, "MISSING_AUTHENTICATION_TOKEN", "r-1").status == 404
    failure = gateway_response(api, "AUTHORIZER_FAILURE", "r-1")  # not customised: DEFAULT_5XX's template
    assert failure.status == 500
    assert failure.body == b'"An error happened whilst processing your request"'


def test_proxy_results() -> None:
    response = parse_proxy_result(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-One": "a"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"\x00binary").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status == 201
    assert response.body == b"\x00binary"
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.header("x-one") == "a"
    assert parse_proxy_result({"statusCode": 204}).body == b""


def test_malformed_proxy_results_are_rejected() -> None:
    with pytest.raises(MalformedProxyResponse):
        parse_proxy_result({"statusCode": 200, "body": {"not": "a string"}})
    with pytest.raises(MalformedProxyResponse):
        parse_proxy_result("just a string")
