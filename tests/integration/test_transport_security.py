"""HSTS on every answer served over https: every function behind the API, its errors included, and API Gateway's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from meterhub.platform.api.transport import HSTS_HEADER, HSTS_VALUE
from meterhub.platform.settings import forget_loaded_settings

from tests.conftest import (
    ROOT,
    FakeLambdaContext,
    api_event,
    function_environment,
    load_function_module,
    local_template,
)

PARTNER_ID = "00000000-0000-4000-8000-00000000feed"
API_FUNCTIONS = sorted({route.function_id for route in local_template().routes})


@pytest.fixture(autouse=True)
def _function_settings(monkeypatch: pytest.MonkeyPatch, no_network: None) -> Iterator[None]:
    """The functions' environment (settings are read per request); no AWS is reached by these answers."""
    for name, value in function_environment().items():
        monkeypatch.setenv(name, value)
    forget_loaded_settings()
    yield
    forget_loaded_settings()


def _answer(function_id: str, path: str, proto: str | None, partner_id: str) -> dict[str, Any]:
    function = local_template().functions[function_id]
    module = load_function_module(str(Path(function.code_dir).relative_to(ROOT) / "app.py"))
    event = api_event("GET", path, path, authorizer={"partner_id": partner_id})
    if proto is not None:
        event["headers"]["X-Forwarded-Proto"] = proto
    response: dict[str, Any] = module.lambda_handler(event, FakeLambdaContext(aws_request_id=str(uuid.uuid4())))
    return response


def _hsts(response: dict[str, Any]) -> list[str]:
    single = [v for k, v in (response.get("headers") or {}).items() if k.lower() == HSTS_HEADER.lower()]
    multi = [
        v for k, vs in (response.get("multiValueHeaders") or {}).items() if k.lower() == HSTS_HEADER.lower() for v in vs
    ]
    return single + multi


@pytest.mark.parametrize("function_id", API_FUNCTIONS)
def test_every_function_behind_the_api_sends_hsts_over_https_even_on_errors(no_network: None, function_id: str) -> None:
    response = _answer(function_id, "/no/such/route", "https", PARTNER_ID)
    assert response["statusCode"] == 404, response
    assert _hsts(response) == [HSTS_VALUE]


@pytest.mark.parametrize("function_id", API_FUNCTIONS)
@pytest.mark.parametrize("proto", [None, "http"])
def test_no_hsts_over_plain_http(function_id: str, proto: str | None) -> None:
    # RFC 6797 7.2: a host must not send it over plain http (the local runner serves http).
    response = _answer(function_id, "/no/such/route", proto, PARTNER_ID)
    assert response["statusCode"] == 404, response
    assert _hsts(response) == []


def test_a_successful_answer_carries_hsts() -> None:
    response = _answer("ProgramsApiFunction", "/v1.1/programs", "https", PARTNER_ID)
    assert response["statusCode"] == 200
    assert _hsts(response) == [HSTS_VALUE]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags as plain values; only the gateway responses matter here."""


_CfnLoader.add_multi_constructor("!", lambda loader, _suffix, node: None)


def test_every_gateway_response_sends_hsts() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    apis = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    assert apis
    for api in apis:
        responses = api["Properties"]["GatewayResponses"]
        assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
        for name, response in responses.items():
            headers = response["ResponseParameters"]["Headers"]
            assert headers[HSTS_HEADER] == f"'{HSTS_VALUE}'", name
