"""Every route that takes a JSON body refuses a bad body with a 4xx in its own documented envelope, never a 500.

The routes come from openapi.json, so a route added later is probed without anyone listing it here. The refusals
happen before any route runs, so these tests need no AWS at all (`no_network` makes that a rule); the one test
whose body is accepted runs on moto.
"""

from __future__ import annotations

import base64
import json
import uuid
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from meterhub.platform.api.resolver import ApiResolver
from meterhub.platform.bounded_json import MAX_DEPTH as MAX_JSON_DEPTH

from tests.conftest import ROOT, FakeLambdaContext, api_event, load_function_module, local_template
from tests.declared_bodies import assert_declared

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

DOCUMENT = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
JSON_BODY_ROUTES = sorted(
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if "application/json" in (operation.get("requestBody") or {}).get("content", {})
)


@cache
def _module(function_id: str) -> ModuleType:
    function = local_template().functions[function_id]
    return load_function_module(str(Path(function.code_dir).relative_to(ROOT) / "app.py"))


def _call(
    method: str,
    resource: str,
    partner_id: str,
    body: str | None,
    *,
    content_type: str | None = "application/json",
    base64_body: bytes | None = None,
) -> tuple[int, Any]:
    route = next(r for r in local_template().routes if (r.method, r.path) == (method, resource))
    params = {name.strip("{}"): str(uuid.uuid4()) for name in resource.split("/") if name.startswith("{")}
    path = resource
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    event = api_event(method, resource, path, path_parameters=params, body=body, authorizer={"partner_id": partner_id})
    if content_type is None:
        del event["headers"]["Content-Type"]
    else:
        event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if base64_body is not None:
        event["body"] = base64.b64encode(base64_body).decode("ascii")
        event["isBase64Encoded"] = True
    response = _module(route.function_id).lambda_handler(event, FakeLambdaContext(aws_request_id=str(uuid.uuid4())))
    return int(response["statusCode"]), json.loads(response["body"])


def _assert_documented(method: str, resource: str, status: int, body: Any, expected: int) -> str:
    """The answer has the expected status, a body valid against the schema the route documents for it, and the
    text that names the problem."""
    assert status == expected, body
    assert_declared(method, resource, status, body)
    return json.dumps(body)


PARTNER_ID = "00000000-0000-4000-8000-00000000feed"
DEEP_ARRAY = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000
JUST_TOO_DEEP = '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)


@pytest.mark.parametrize(("method", "resource"), JSON_BODY_ROUTES)
@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT, JUST_TOO_DEEP], ids=["array", "object", "depth+1"])
def test_a_deeply_nested_body_is_a_400(no_network: None, method: str, resource: str, body: str) -> None:
    status, answer = _call(method, resource, PARTNER_ID, body)
    text = _assert_documented(method, resource, status, answer, 400)
    assert f"nested more than {MAX_JSON_DEPTH} levels" in text


@pytest.mark.parametrize(("method", "resource"), JSON_BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_that_is_not_json_is_a_415(no_network: None, method: str, resource: str, content_type: str) -> None:
    status, answer = _call(method, resource, PARTNER_ID, "a=1", content_type=content_type)
    text = _assert_documented(method, resource, status, answer, 415)
    assert content_type in text


@pytest.mark.parametrize(("method", "resource"), JSON_BODY_ROUTES)
def test_a_body_that_is_not_utf8_is_a_400(no_network: None, method: str, resource: str) -> None:
    status, answer = _call(method, resource, PARTNER_ID, None, base64_body=b'{"a": "\xff\xfe"}')
    text = _assert_documented(method, resource, status, answer, 400)
    assert "UTF-8" in text


@pytest.mark.parametrize(("method", "resource"), JSON_BODY_ROUTES)
@pytest.mark.parametrize("control", ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085"])
def test_control_characters_in_any_string_are_a_400(no_network: None, method: str, resource: str, control: str) -> None:
    body = json.dumps({"partner_reference": f"ref{control}0001", "page_size": 1})
    status, answer = _call(method, resource, PARTNER_ID, body)
    text = _assert_documented(method, resource, status, answer, 400)
    assert "partner_reference" in text
    assert f"U+{ord(control):04X}" in text


@pytest.mark.parametrize(("method", "resource"), JSON_BODY_ROUTES)
def test_a_body_over_the_json_limit_is_a_413(no_network: None, method: str, resource: str) -> None:
    body = json.dumps({"padding": "x" * (1024 * 1024)})
    status, answer = _call(method, resource, PARTNER_ID, body)
    _assert_documented(method, resource, status, answer, 413)


@pytest.mark.parametrize(("method", "resource"), JSON_BODY_ROUTES)
def test_malformed_json_is_a_400_naming_the_position(no_network: None, method: str, resource: str) -> None:
    status, answer = _call(method, resource, PARTNER_ID, '{"a": tru')
    text = _assert_documented(method, resource, status, answer, 400)
    assert "not valid JSON" in text or "JSON" in text


def test_every_api_function_checks_bodies_with_the_decoder() -> None:
    api_functions = {route.function_id for route in local_template().routes if route.authorizer is not None}
    assert api_functions
    for function_id in sorted(api_functions):
        assert isinstance(_module(function_id).app, ApiResolver), function_id


def test_newlines_and_tabs_inside_json_text_stay_allowed(partner: IssuedKey) -> None:
    # JSON's own whitespace and escaped newlines are not control characters to refuse.
    body = '{\n\t"meter_ids": [],\r\n\t"page_size": 1\n}'
    status, answer = _call("POST", "/v1.1/missing-interval-data/search", partner.partner_id, body)
    assert status in {200, 400}, answer
    assert "control characters" not in json.dumps(answer)
