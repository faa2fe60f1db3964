"""Interval-data upload jobs: one per dropped or uploaded file (per S3 object version)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, Field


class UploadStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


UPLOAD_TERMINAL = frozenset({UploadStatus.COMPLETED, UploadStatus.FAILED})
STORED_ERRORS = 100
"""Errors kept on the job item itself (DynamoDB items stay small); all of them are in the errors CSV."""


class UploadJob(BaseModel):
    job_id: str
    partner_id: str
    status: UploadStatus = UploadStatus.QUEUED
    uploaded_file_path: str = Field(description="The partner-visible path, e.g. /interval-data/2025-01-31.csv")
    current_file_path: str
    object_key: str = Field(description="The S3 key the file was dropped at")
    object_version: str | None = None
    uploaded_at: datetime
    updated_at: datetime
    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    days_written: int = 0
    errors_total: int = 0
    error_summary: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list, description=f"The first {STORED_ERRORS} errors")
    unknown_columns: list[str] = Field(default_factory=list)
    error_csv_file_path: str | None = None
    feedback_file_path: str | None = None
    failure_reason: str | None = None
    storing: bool = Field(default=False, description="The clean file's days are being written (pass 2 began)")
    pieces_total: int = Field(default=0, description="The pieces a fanned-out file is checked in (0: one invocation)")


class PartsDone(NamedTuple):
    """The answer to recording one part of a job's step as done (a piece checked, a bucket grouped or merged)."""

    done: int
    """How many distinct parts of the step are done now, this one included."""
    first: bool
    """Whether this call recorded the part (False: a repeated delivery had recorded it already)."""


class StepProgress(NamedTuple):
    """What the parts of a job's step recorded done add up to: the progress a partner polls while a fanned-out
    file is checked (`mark_part_done`'s counts, each part's counted once however often it was delivered)."""

    done: int
    """How many distinct parts of the step are done."""
    counts: dict[str, int]
    """The sums of the counts the parts were recorded with (e.g. rows_total), by name; empty when none."""
