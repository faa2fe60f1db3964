"""The demo meter the runner's banner creates and the smoke test onboards: a complete ISONE battery device, so a
first create answers COMPLETED with no required field missing."""

from __future__ import annotations

import copy
from typing import Any

_DEMO_ASSET: dict[str, Any] = {
    "partner_reference": "demo-site-001",
    "transmission_region": "ISONE",
    "customer_classification": "RESIDENTIAL",
    "load_types": ["BATTERY_STORAGE"],
    "meter_type": "DEVICE",
    "customer": {
        "street_1": "1 Main St",
        "postal_code": "02110",
        "city": "Boston",
        "state_or_province_code": "MA",
        "country_code": "US",
    },
    "device": {"device_type": "BATTERY", "battery_power_capacity_kw": 5, "battery_energy_capacity_kwh": 13.5},
}


def demo_asset(**overrides: Any) -> dict[str, Any]:
    """A copy of the demo asset with `overrides` set at the top level (e.g. another partner_reference)."""
    return {**copy.deepcopy(_DEMO_ASSET), **overrides}
