"""Whether a meter has its service address: eligibility depends on where the meter is, so a meter without one
(a Connect meter whose utility sent no ServiceLocation) is kept PENDING with an ADDRESS required action until the
address arrives, from the utility on a later sync or from the partner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ADDRESS_FIELDS = ("street_1", "city", "state_or_province_code", "postal_code")
"""The parts of `customer` that locate the meter (Leap's required address fields; country_code defaults to US)."""


def awaits_address(data: Mapping[str, Any]) -> bool:
    """True when the meter document lacks any part of its service address."""
    customer = data.get("customer") or {}
    return not all(customer.get(name) for name in ADDRESS_FIELDS)
