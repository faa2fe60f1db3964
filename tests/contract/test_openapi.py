"""The committed openapi.json is what the code generates, and the template serves exactly those routes."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import yaml

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


def test_public_routes_are_only_the_connect_pages_and_the_demo_utility() -> None:
    # Every route without an API key is a page a customer's browser opens or the demo utility's OAuth server;
    # a partner API route deployed without the authorizer would be a tenant-isolation hole.
    public = _template_routes(public=True)
    assert public, "the Connect pages are public"
    assert all(path.startswith(("/connect", "/demo-utility/")) for _, path in public), sorted(public)


def test_no_documented_response_claims_422() -> None:
    # Validation failures are 400s in Leap's envelope; a 422 in the document would mislead clients.
    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    assert not re.search(r'"422"', json.dumps(document))
