"""The meter side of validation: a stored meter turned into a `MeterVerdict`, and a lookup over a repository.

The validator only sees `MeterLookup` (a callable), so it stays pure and testable with a dict. This module
is the bridge to the real store: it asks the partner-scoped repository for the meter, so a meter of another
partner is simply not found (`MTR_0003`, the same answer as a meter that does not exist), and it asks the
program catalog whether any program of the meter takes partner-supplied data (else `MTR_0004`).
"""

from __future__ import annotations

from meterhub.catalog.enums import MeterType, TransmissionRegion
from meterhub.catalog.programs import IntervalDataSource, accepts_partner_interval_data, programs_for, value_at
from meterhub.intervals.ports import MeterSource
from meterhub.intervals.rules.model import UNKNOWN_METER, MeterLookup, MeterStatus, MeterVerdict
from meterhub.meters.records import MeterRecord

_SUPPLIER_NAMES = {IntervalDataSource.ISO: "the ISO", IntervalDataSource.UTILITY: "the utility"}


def verdict_for(meter: MeterRecord | None) -> MeterVerdict:
    """OK, UNKNOWN (None) or NO_PARTNER_DATA, with the meter's state and region as accepted `region` values."""
    if meter is None:
        return UNKNOWN_METER
    regions = frozenset(
        str(value).upper()
        for value in (meter.transmission_region, value_at(meter.data, "customer.state_or_province_code"))
        if value
    )
    try:
        region = TransmissionRegion(meter.transmission_region)
        meter_type = MeterType(meter.meter_type)
    except ValueError:
        return MeterVerdict(MeterStatus.NO_PARTNER_DATA, supplier=None, regions=regions)
    if accepts_partner_interval_data(region, meter_type):
        return MeterVerdict(MeterStatus.OK, regions=regions)
    sources = {program.interval_data_source for program in programs_for(region, meter_type)}
    supplier = " or ".join(sorted(_SUPPLIER_NAMES[s] for s in sources if s in _SUPPLIER_NAMES)) or None
    return MeterVerdict(MeterStatus.NO_PARTNER_DATA, supplier=supplier, regions=regions)


def repository_lookup(meters: MeterSource, partner_id: str) -> MeterLookup:
    """A lookup scoped to one partner; the validator caches its answers per file (one `get` per meter id)."""

    def lookup(meter_id: str) -> MeterVerdict:
        return verdict_for(meters.get(partner_id, meter_id))

    return lookup
