"""The API reference the API serves (functions/api_reference, meterhub.platform.api.reference): the page and
every file it loads come from the layer, under a CSP without inline code; nothing but the listed files is served;
the vendored Swagger UI is the pinned npm version with its licence; and template.yaml deploys the public routes
exactly where PublicApiDocs says (by default in every stage but prod)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from meterhub.platform.api import reference
from meterhub_dev.local.intrinsics import LocalContext
from meterhub_dev.local.stack import load_template

from tests.conftest import ROOT, TEMPLATE, FakeLambdaContext, api_event, load_function_module

pytestmark = pytest.mark.usefixtures("no_network")


def get(path: str, name: str | None = None) -> dict[str, Any]:
    module = load_function_module("functions/api_reference/app.py")
    resource = "/docs/{name}" if name is not None else path
    event = api_event("GET", resource, path, path_parameters={"name": name} if name is not None else None)
    answer: dict[str, Any] = module.lambda_handler(event, FakeLambdaContext())
    return answer


def header(answer: dict[str, Any], name: str) -> str:
    return str(answer["multiValueHeaders"][name][0])


def test_every_file_the_page_loads_is_served_with_its_type_and_the_pages_headers() -> None:
    page = get("/docs")
    assert page["statusCode"] == 200 and header(page, "Content-Type").startswith("text/html")
    loaded = re.findall(r'(?:src|href)="docs/([^"]+)"', page["body"])
    assert sorted(loaded) == ["docs.js", "swagger-ui-bundle.js", "swagger-ui.css"]
    for name in loaded:
        answer = get(f"/docs/{name}", name)
        assert answer["statusCode"] == 200, name
        expected = "text/css" if name.endswith(".css") else "text/javascript"
        assert header(answer, "Content-Type").startswith(expected)
        assert header(answer, "Content-Security-Policy") == reference.CONTENT_SECURITY_POLICY
        assert header(answer, "X-Content-Type-Options") == "nosniff"
        assert answer["body"]


def test_the_page_runs_no_inline_code_and_its_policy_allows_none() -> None:
    page = get("/docs")
    body = page["body"]
    assert re.findall(r"<script\b[^>]*>", body) == [
        '<script src="docs/swagger-ui-bundle.js">',
        '<script src="docs/docs.js">',
    ]
    assert "<style" not in body and " style=" not in body and "javascript:" not in body
    policy = header(page, "Content-Security-Policy")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe" not in policy and "http" not in policy  # no CDN, no inline, no eval
    assert "frame-ancestors 'none'" in policy and header(page, "X-Frame-Options") == "DENY"


@pytest.mark.parametrize(
    "name", ["nope.js", "openapi.json", "..%2Fopenapi.json", "LICENSE", "package.json", "__init__.py"]
)
def test_nothing_but_the_listed_files_is_served(name: str) -> None:
    answer = get(f"/docs/{name}", name)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["title"] == "No such file of the API reference page"


def test_the_vendored_swagger_ui_is_the_pinned_version_with_its_licence() -> None:
    vendored = ROOT / "shared" / "meterhub" / "platform" / "api" / "reference" / "swagger-ui"
    package = json.loads((vendored / "package.json").read_text(encoding="utf-8"))
    pinned = re.search(r"^SWAGGER_UI_VERSION := (\S+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert pinned is not None and (package["name"], package["version"]) == ("swagger-ui-dist", pinned[1])
    assert package["license"] == "Apache-2.0"
    assert "Apache License" in (vendored / "LICENSE").read_text(encoding="utf-8")
    assert (vendored / "NOTICE").is_file()  # Apache-2.0 section 4(d): the NOTICE travels with the files


def _reference_routes(**parameters: str) -> set[tuple[str, str]]:
    template = load_template(TEMPLATE, LocalContext(parameter_overrides=parameters))
    return {(route.method, route.path) for route in template.routes if route.function_id == "ApiReferenceFunction"}


@pytest.mark.parametrize(
    ("parameters", "served"),
    [
        ({"StageName": "dev"}, True),
        ({"StageName": "staging"}, True),
        ({"StageName": "local"}, True),
        ({"StageName": "prod"}, False),
        ({"StageName": "prod", "PublicApiDocs": "true"}, True),
        ({"StageName": "dev", "PublicApiDocs": "false"}, False),
    ],
)
def test_public_api_docs_decides_where_the_reference_is_deployed(parameters: dict[str, str], served: bool) -> None:
    routes = _reference_routes(**parameters)
    assert routes == ({("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/{name}")} if served else set())
    if served:  # and it is public: no authorizer (API Gateway never calls it), no API key
        template = load_template(TEMPLATE, LocalContext(parameter_overrides=parameters))
        for route in template.routes:
            if route.function_id == "ApiReferenceFunction":
                assert (route.authorizer, route.api_key_required) == (None, False)
