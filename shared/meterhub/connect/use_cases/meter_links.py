"""The link between a utility authorization and the meters it feeds (`MeterRecord.utility_link`).

Kept apart from the sync so the Connect API (revocation) can update links without importing the sync's
interval machinery: one place decides how an authorization's state reaches its meters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from meterhub.connect.records import Authorization, AuthorizationStatus
from meterhub.meters.ports import MeterQuery, MeterRepository
from meterhub.meters.records import MeterRecord
from meterhub.platform.errors import Conflict

SEARCH_PAGE = 500


def all_meters(meters: MeterRepository, partner_id: str, query: MeterQuery) -> Iterator[MeterRecord]:
    """Every meter of the partner matching `query`, page after page."""
    cursor: str | None = None
    while True:
        page = meters.search(partner_id, query, SEARCH_PAGE, cursor)
        yield from page.meters
        if not page.cursor:
            return
        cursor = page.cursor


def mark_meters(
    meters: MeterRepository,
    authorization: Authorization,
    status: AuthorizationStatus,
    now: datetime,
    meter_ids: Iterable[str] | None = None,
) -> int:
    """Set the authorization's status and grant end on the meters it feeds (the meters stay; when the status is
    not COMPLETED their derived enrollment asks for a re-authorization, and the MetersTable stream publishes that
    change). A meter already showing both is not written. Returns how many changed.

    `meter_ids`: the meters to look at when the caller knows them (the sync, every day: a get each); without
    them the partner's meters with this refId are searched (revocation and expiry: rare, and thorough)."""
    changed = 0
    if meter_ids is not None:
        found = (meters.get(authorization.partner_id, meter_id) for meter_id in meter_ids)
        candidates = [meter for meter in found if meter is not None]
    elif authorization.ref_id:
        query = MeterQuery(connection_references=(authorization.ref_id,))
        candidates = list(all_meters(meters, authorization.partner_id, query))
    else:
        return 0
    for meter in candidates:
        link = meter.utility_link
        if link is None or link.authorization_id != authorization.authorization_id:
            continue
        if link.status == status.value and link.expires_at == authorization.expires_at:
            continue
        for _ in range(3):
            current = meters.get(meter.partner_id, meter.meter_id) or meter
            assert current.utility_link is not None
            updated = current.model_copy(
                update={
                    "utility_link": current.utility_link.model_copy(
                        update={"status": status.value, "expires_at": authorization.expires_at}
                    ),
                    "updated_at": now,
                    "version": current.version + 1,
                }
            )
            try:
                meters.replace(updated, expected_version=current.version)
            except Conflict:
                continue
            changed += 1
            break
    return changed
