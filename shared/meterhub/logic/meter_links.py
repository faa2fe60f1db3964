"""The link between a utility authorization and the meters it feeds (`MeterRecord.utility_link`).

Kept apart from the sync so the Connect API (revocation) can update links without importing the sync's
interval machinery: one place decides how an authorization's state reaches its meters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from meterhub.dal.meters import MeterQuery, MeterRepository
from meterhub.domain.connect import Authorization, AuthorizationStatus
from meterhub.domain.meters import MeterRecord
from meterhub.errors import Conflict

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
    meters: MeterRepository, authorization: Authorization, status: AuthorizationStatus, now: datetime
) -> int:
    """Set the authorization's status and grant end on the meters it feeds (the meters stay; when the status is
    not COMPLETED their derived enrollment asks for a re-authorization, and the MetersTable stream publishes that
    change). A meter already showing both is not written. Returns how many changed."""
    changed = 0
    if not authorization.ref_id:
        return 0
    query = MeterQuery(connection_references=(authorization.ref_id,))
    for meter in list(all_meters(meters, authorization.partner_id, query)):
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
