"""An SFTP login (username = partner account, password = API key) -> the partner's home, or None to deny.

The credentials are checked by the partners feature's own use case (`authenticate_account`, which verifies
the key exactly as the API authorizer does), so there is one key check, not one per transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meterhub.intervals.rules.sftp_home import home_directory_mappings, session_policy
from meterhub.partners.ports import PartnerRepository
from meterhub.partners.use_cases import authenticate_account
from meterhub.platform.errors import Forbidden


@dataclass(frozen=True)
class SftpHome:
    partner_id: str
    mappings: list[dict[str, str]]
    policy: dict[str, Any]


def sftp_login(partners: PartnerRepository, bucket: str, username: str, password: str | None) -> SftpHome | None:
    """The home of a valid login; None for an unknown account, a wrong, revoked or other partner's key."""
    try:
        partner = authenticate_account(partners, username, password)
    except Forbidden:
        return None
    return SftpHome(
        partner_id=partner.partner_id,
        mappings=home_directory_mappings(bucket, partner.partner_id),
        policy=session_policy(bucket, partner.partner_id),
    )
