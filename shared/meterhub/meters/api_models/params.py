"""The meter id as a path parameter, shared by the functions that take one (meters, interval data).

Kept apart from the response models so that only the API functions import Powertools' parameter classes.
"""

from __future__ import annotations

from typing import Annotated

from meterhub.platform.api.params import uuid_path

MeterId = Annotated[str, uuid_path("The meter's UUID")]
"""Documented as a UUID, refused by `read_meters.load_meter` (Leap's 400 "Meter id is not a UUID")."""
