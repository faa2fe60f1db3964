"""Argument checks the interval queries share (the job list, the stored-interval read and the gap search), so
a date-time without an offset or a page size out of range is refused with the same words everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

from meterhub.platform.errors import InvalidInput


def utc_now(now: datetime | None) -> datetime:
    """The moment a use case acts at: the one a caller (a test) fixed, else the clock; in UTC either way."""
    return (now or datetime.now(UTC)).astimezone(UTC)


def aware(value: datetime | None, field: str) -> datetime | None:
    """`value` in UTC; a naive date-time is refused, since guessing its zone would shift the bounds it sets."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"Invalid {field}", {field: "must be a date-time with a UTC offset, e.g. 2026-01-31T00:00:00Z"}
        )
    return value.astimezone(UTC)
