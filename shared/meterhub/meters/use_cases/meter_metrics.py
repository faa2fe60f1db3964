"""The Meters and ProgramMeters metrics of a create-meter request (platform.observability).

Kept apart from create_meter so the use case gains one call per outcome and nothing else: a meter counts once
in Meters and once per program it falls under in ProgramMeters (`none` when no program takes it), so an operator
sees both how many meters arrive and which programs they are for.
"""

from __future__ import annotations

from typing import Literal

from meterhub.catalog import programs as catalog
from meterhub.meters.api_models.meter import CreateMeter
from meterhub.platform.observability import METERS, PROGRAM_METERS, record_metric

MeterOutcome = Literal["created", "updated", "duplicate", "refused"]


def count_meter(asset: CreateMeter, outcome: MeterOutcome) -> None:
    record_metric(METERS, Outcome=outcome)
    utility = asset.utility.utility_name if asset.utility else None
    programs = catalog.programs_for(asset.transmission_region, asset.meter_type, asset.customer_classification, utility)
    for program in [p.program_identifier.value for p in programs] or ["none"]:
        record_metric(PROGRAM_METERS, Program=program, Outcome=outcome)
