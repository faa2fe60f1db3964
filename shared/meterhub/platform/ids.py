"""Ids in paths and bodies: bare UUIDs (Leap's convention), answered with Leap's 400 when malformed."""

from __future__ import annotations

import uuid

from meterhub.platform.errors import InvalidInput


def parse_id(value: str, field: str) -> str:
    """The canonical UUID; a malformed one is a 400 'Meter id is not a UUID' style error echoing the value."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        title = f"{field.replace('_', ' ').capitalize()} is not a UUID"
        raise InvalidInput(title, {field: value[:64]}) from None
