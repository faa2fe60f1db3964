"""The API reference: GET /openapi.json (the document `make openapi` generates) and GET /docs (Swagger UI over it,
with its files under /docs/<asset>). Public, no API key: template.yaml deploys these routes only when the
PublicApiDocs parameter says so (by default in every stage but prod). Transport only: the document and the
vendored page live in the layer (meterhub.platform.api.reference)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub.platform.api import reference
from meterhub.platform.api.resolver import build_resolver
from meterhub.platform.errors import NotFound
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import EnvironmentSettings
from meterhub.platform.web.html import HTML_CONTENT_TYPE


class Settings(EnvironmentSettings):
    """What this function reads from its environment: nothing (template.yaml gives it no variables)."""


app = build_resolver()


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=reference.openapi_document(),
        headers=reference.page_headers(),
    )


@app.get("/docs", include_in_schema=False)
def docs_page() -> Response[str]:
    return Response(
        status_code=200, content_type=HTML_CONTENT_TYPE, body=reference.docs_page(), headers=reference.page_headers()
    )


@app.get("/docs/<name>", include_in_schema=False)
def docs_asset(name: str) -> Response[str]:
    found = reference.asset(name)
    if found is None:
        raise NotFound("No such file of the API reference page", {"name": name[:100]})
    return Response(status_code=200, content_type=found.content_type, body=found.body, headers=reference.page_headers())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
