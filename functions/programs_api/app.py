"""The program catalog, read-only: what each program requires before a partner sends data."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub.catalog.api_models import ProgramsResponse
from meterhub.catalog.use_cases import list_programs
from meterhub.platform.api.resolver import build_resolver
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import EnvironmentSettings


class Settings(EnvironmentSettings):
    """This function's environment: none (the catalog is code), so the template gives it no variable."""


app = build_resolver()


@app.get("/v1.1/programs", summary="List the program catalog", operation_id="listPrograms", tags=["Programs"])
def get_programs() -> ProgramsResponse:
    return list_programs()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
