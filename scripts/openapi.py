"""Print the OpenAPI document of every API function, merged (Powertools OpenAPIMerge).

The document is generated from the resolvers' routes and pydantic models, so it cannot disagree with the
code; tests/contract/test_openapi.py fails when the committed openapi.json drifts from this output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

ROOT = Path(__file__).resolve().parent.parent


def generate() -> dict[str, Any]:
    merge = OpenAPIMerge(
        title="meterhub partner API",
        version="1.1.0",
        description=(
            "Meter onboarding for grid-services programs, compatible with the Leap partner API. "
            "Every route takes `Authorization: Bearer <API key>`."
        ),
        security_schemes={"Bearer": HTTPBearer()},
        security=[{"Bearer": []}],
        on_conflict="error",
    )
    for handler in sorted((ROOT / "functions").glob("*/app.py")):
        if "build_resolver(" in handler.read_text(encoding="utf-8"):
            merge.add_file(handler, resolver_name="app")
    schema: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    # Powertools documents request-validation failures as 422; this API answers them with a 400 in Leap's
    # envelope (declared per route), so the generic 422 entries would be false.
    for operations in schema["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    return schema


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
