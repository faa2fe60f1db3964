"""The read-only program catalog as partners see it."""

from __future__ import annotations

from meterhub.catalog import programs as catalog
from meterhub.catalog.api_models import ProgramsResponse


def list_programs() -> ProgramsResponse:
    return ProgramsResponse(programs=list(catalog.PROGRAMS))
