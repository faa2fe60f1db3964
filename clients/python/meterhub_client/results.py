"""What the multi-call helpers return: the final job as the API answered it, and what a caller looks at next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MeterJobResult:
    """A batch meter job (`Client.create_meters`): `job` is its last answer, `assets` every asset (all pages)."""

    job_id: str
    status: str
    job: dict[str, Any]
    assets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Assets not created or updated (FAILED, DUPLICATE, MULTIPLE_REFS ...)."""
        return [asset for asset in self.assets if asset.get("status") != "COMPLETED"]


@dataclass(frozen=True)
class UploadResult:
    """An interval upload (`Client.upload_intervals`): `job` is the upload job's last answer; `errors` every row
    of its errors.csv (line, column, code, message) when it FAILED and the report was fetched."""

    job_id: str
    status: str
    job: dict[str, Any]
    errors: list[dict[str, str]] = field(default_factory=list)
