"""The committed openapi.json is what the code generates, and the template serves exactly those routes."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.conftest import FakeLambdaContext, api_event, load_function_module
from tests.declared_bodies import ERROR_SCHEMAS, component_names, document, problems

ROOT = Path(__file__).resolve().parents[2]


def _openapi_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_script", ROOT / "scripts" / "openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (!Ref, !GetAtt, ...) as plain values; only the shape matters here."""


_CfnLoader.add_multi_constructor("!", lambda loader, _suffix, node: None)


def _template_routes(*, public: bool = False) -> set[tuple[str, str]]:
    """The partner API's routes (API key), or with `public` the browser-facing ones (`Authorizer: NONE`)."""
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    routes: set[tuple[str, str]] = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            is_public = (event["Properties"].get("Auth") or {}).get("Authorizer") == "NONE"
            if is_public == public:
                routes.add((event["Properties"]["Method"].lower(), event["Properties"]["Path"]))
    return routes


def test_committed_openapi_matches_the_code() -> None:
    # Given the document generated from the resolvers now
    generated = _openapi_script().render()
    # When compared with the committed file
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    # Then they are identical (run `make openapi` after changing a route or a model)
    assert json.loads(committed) == json.loads(generated), "openapi.json is stale: run `make openapi`"


def test_template_serves_every_documented_route_and_nothing_else() -> None:
    # Given the documented operations
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    documented = {(method, path) for path, operations in document["paths"].items() for method in operations}
    # Then API Gateway routes exactly those (path templates compared as written)
    assert _template_routes() == documented


def test_public_routes_are_only_the_connect_pages_the_demo_utility_and_the_api_reference() -> None:
    # Every route without an API key is a page a customer's browser opens, the demo utility's OAuth server or
    # the API reference; a partner API route deployed without the authorizer would be a tenant-isolation hole.
    public = _template_routes(public=True)
    assert public, "the Connect pages are public"
    reference = {("get", "/openapi.json"), ("get", "/docs"), ("get", "/docs/{name}")}
    assert reference <= public
    assert all(path.startswith(("/connect", "/demo-utility/")) for _, path in public - reference), sorted(public)


def test_the_api_serves_the_committed_document_byte_for_byte() -> None:
    # Given the API reference function, as the Lambda runtime loads it
    module = load_function_module("functions/api_reference/app.py")
    # When GET /openapi.json reaches it
    answer = module.lambda_handler(api_event("GET", "/openapi.json", "/openapi.json"), FakeLambdaContext())
    # Then it answers openapi.json as committed (`make openapi` writes both: run it after changing a route)
    assert answer["statusCode"] == 200
    assert answer["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert answer["body"] == (ROOT / "openapi.json").read_text(encoding="utf-8"), "the layer's copy is stale"


def test_no_documented_response_claims_422() -> None:
    # Validation failures are 400s in Leap's envelope; a 422 in the document would mislead clients.
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert not re.search(r'"422"', json.dumps(document))


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    return [(method, path, op) for path, operations in document["paths"].items() for method, op in operations.items()]


def test_every_json_body_documents_the_decoder_answers() -> None:
    # The body decoder answers 400 (malformed, too deep, not UTF-8), 413 (too big) and 415 (not JSON) on every
    # route with a JSON body; a route that does not say so misleads clients and schemathesis.
    undocumented = [
        (method, path, code)
        for method, path, op in _operations()
        if "application/json" in (op.get("requestBody") or {}).get("content", {})
        for code in ("400", "413", "415")
        if code not in op["responses"]
    ]
    assert not undocumented


def _max_items_missing(schema: object, where: str, components: dict[str, object]) -> list[str]:
    """Every array in a request schema, nested ones included, with no maxItems."""
    found: list[str] = []
    if isinstance(schema, dict):
        if schema.get("type") == "array" and "maxItems" not in schema:
            found.append(where)
        for key, value in schema.items():
            found.extend(_max_items_missing(value, f"{where}.{key}", components))
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found.extend(_max_items_missing(value, f"{where}[{index}]", components))
    return found


def test_every_list_a_request_takes_is_bounded() -> None:
    # A list without a documented maximum is a list whose size an outsider picks (query arrays included).
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    components = document["components"]["schemas"]
    request_schemas: set[str] = set()
    unbounded: list[str] = []
    for method, path, op in _operations():
        for parameter in op.get("parameters", []):
            unbounded.extend(_max_items_missing(parameter.get("schema"), f"{method} {path} ?{parameter['name']}", {}))
        for media in ((op.get("requestBody") or {}).get("content") or {}).values():
            request_schemas.update(re.findall(r"#/components/schemas/(\w+)", json.dumps(media)))
    seen: set[str] = set()
    while request_schemas - seen:
        name = (request_schemas - seen).pop()
        seen.add(name)
        unbounded.extend(_max_items_missing(components[name], name, components))
        request_schemas.update(re.findall(r"#/components/schemas/(\w+)", json.dumps(components[name])))
    assert not unbounded


def _bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """The constraints of a parameter schema, wherever pydantic put them (beside `anyOf` or in its non-null branch)."""
    found = {k: v for k, v in schema.items() if k in {"minimum", "maximum", "maxLength", "pattern", "format"}}
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            found.update(_bounds(branch))
    return found


def test_every_page_size_page_token_and_id_parameter_declares_its_shape() -> None:
    # Paging is bounded and ids are UUIDs on every route, and the document says so (enforced by the route, or
    # by the use case where its answer is part of the API: see meterhub.platform.api.params).
    undeclared: list[str] = []
    for method, path, op in _operations():
        for parameter in op.get("parameters", []):
            name, bounds = parameter["name"], _bounds(parameter["schema"])
            wanted = (
                {"minimum", "maximum"}
                if name == "page_size"
                else {"maxLength"}
                if name == "page_token"
                else {"format"}
                if parameter["in"] == "path" and name.endswith("_id")
                else set()
            )
            if not wanted <= set(bounds) or ("format" in wanted and bounds["format"] != "uuid"):
                undeclared.append(f"{method} {path} {name}")
    assert not undeclared


# ----- errors: every shape declared, every declaration a shape the API answers in -----------------------------

ERROR_STATUS = re.compile(r"^[45]\d\d$")


def _error_responses() -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (method, path, status, response)
        for method, path, op in _operations()
        for status, response in op["responses"].items()
        if ERROR_STATUS.match(status)
    ]


def test_every_error_response_declares_its_body_as_one_of_the_error_shapes() -> None:
    # A 4xx or 5xx without a schema leaves a client guessing at the body; one naming any other component is a
    # shape README "Errors" does not list.
    undeclared = [
        f"{method} {path} {status}"
        for method, path, status, response in _error_responses()
        if not (schema := (response.get("content") or {}).get("application/json", {}).get("schema"))
        or not component_names(schema)
        or not component_names(schema) <= ERROR_SCHEMAS
    ]
    assert not undeclared
    assert set(document()["components"]["schemas"]) >= ERROR_SCHEMAS


def test_every_operation_declares_what_api_gateway_and_its_function_answer_for_any_request() -> None:
    # Every route is behind the authorizer and the usage plan (API Gateway's 401, 403, 429), and any function
    # can fail unexpectedly (500).
    missing = [
        f"{method} {path} {status}"
        for method, path, op in _operations()
        for status in ("401", "403", "429", "500")
        if status not in op["responses"]
    ]
    assert not missing


class _SubLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags as their scalar argument (a !Sub string stays its text), else None."""


_SubLoader.add_multi_constructor(
    "!",
    lambda loader, _suffix, node: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None,
)


def _gateway_bodies() -> dict[str, tuple[int | None, Any]]:
    """Each of template.yaml's GatewayResponses with a JSON body: its status (None for DEFAULT_4XX/5XX) and the
    body as API Gateway sends it, the template parameters at their defaults."""
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_SubLoader)  # noqa: S506
    defaults = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    apis = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    bodies: dict[str, tuple[int | None, Any]] = {}
    for api in apis:
        for response_type, response in (api["Properties"].get("GatewayResponses") or {}).items():
            text = (response.get("ResponseTemplates") or {}).get("application/json")
            if text is None:
                continue
            body = re.sub(r"\$\{(\w+)\}", lambda match: defaults[match.group(1)], text)
            status = response.get("StatusCode")
            bodies[response_type] = (int(status) if status is not None else None, json.loads(body))
    return bodies


def test_every_body_api_gateway_answers_is_the_shape_the_document_declares_for_its_status() -> None:
    # Given API Gateway's own answers (template.yaml), which no function builds
    bodies = _gateway_bodies()
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "REQUEST_TOO_LARGE", "DEFAULT_5XX"} <= set(bodies)
    wrong: list[str] = []
    for response_type, (status, body) in bodies.items():
        # Each is valid against what every operation declares for its status (the 5XX family: for its 500), but an
        # unknown route's 404, which is no operation's, is in the envelope of whole-API errors
        declared = (
            [("(no operation)", {"$ref": "#/components/schemas/ErrorResponse"})]
            if response_type == "MISSING_AUTHENTICATION_TOKEN"
            else [
                (f"{method} {path}", op["responses"][str(status or 500)]["content"]["application/json"]["schema"])
                for method, path, op in _operations()
                if str(status or 500) in op["responses"]
            ]
        )
        assert declared, response_type
        wrong.extend(
            f"{response_type} vs {where}: {problems(schema, body)}"
            for where, schema in declared
            if problems(schema, body)
        )
    assert not wrong


def test_the_headers_declared_for_a_throttled_request_are_the_ones_api_gateway_sends() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_SubLoader)  # noqa: S506
    sent = {
        name
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Api"
        for name in resource["Properties"]["GatewayResponses"]["THROTTLED"]["ResponseParameters"]["Headers"]
    }
    declared = {name for _, _, op in _operations() for name in op["responses"]["429"].get("headers", {})}
    assert declared == {"Retry-After"}
    assert declared <= sent
