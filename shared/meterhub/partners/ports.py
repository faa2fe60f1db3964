"""The partner repository port."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from meterhub.partners.records import ApiKeyRecord, Partner


class PartnerRepository(Protocol):
    def create_partner(self, partner: Partner) -> None:
        """Store a new partner; raises AlreadyExists when the account slug is taken."""

    def get_partner(self, partner_id: str) -> Partner | None: ...

    def find_partner_by_account(self, account: str) -> Partner | None: ...

    def set_connect_redirect_url(self, partner_id: str, url: str | None) -> None:
        """NotFound when there is no such partner."""

    def add_api_key(self, record: ApiKeyRecord) -> None: ...

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self, partner_id: str) -> list[ApiKeyRecord]: ...

    def revoke_api_key(self, partner_id: str, key_id: str, revoked_at: datetime) -> None:
        """Raises NotFound when the partner has no such key."""
