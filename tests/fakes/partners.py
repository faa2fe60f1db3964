"""In-memory partner repository."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from meterhub.partners.records import ApiKeyRecord, KeyStatus, Partner
from meterhub.platform.errors import AlreadyExists, NotFound

if TYPE_CHECKING:
    pass


class InMemoryPartnerRepository:
    """A fake with the port's behaviour, for unit tests of the use cases."""

    def __init__(self) -> None:
        self.partners: dict[str, Partner] = {}
        self.keys: dict[str, ApiKeyRecord] = {}

    def create_partner(self, partner: Partner) -> None:
        if partner.partner_id in self.partners or any(p.account == partner.account for p in self.partners.values()):
            raise AlreadyExists(f"Account '{partner.account}' already exists")
        self.partners[partner.partner_id] = partner

    def get_partner(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def find_partner_by_account(self, account: str) -> Partner | None:
        return next((p for p in self.partners.values() if p.account == account), None)

    def set_connect_redirect_url(self, partner_id: str, url: str | None) -> None:
        if partner_id not in self.partners:
            raise NotFound("Partner not found", {"partner_id": partner_id})
        self.partners[partner_id] = self.partners[partner_id].model_copy(update={"connect_redirect_url": url})

    def add_api_key(self, record: ApiKeyRecord) -> None:
        if record.key_hash in self.keys:
            raise AlreadyExists("API key already exists")
        self.keys[record.key_hash] = record

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self.keys.get(key_hash)

    def list_api_keys(self, partner_id: str) -> list[ApiKeyRecord]:
        return [record for record in self.keys.values() if record.partner_id == partner_id]

    def revoke_api_key(self, partner_id: str, key_id: str, revoked_at: datetime) -> None:
        for key_hash, record in self.keys.items():
            if record.partner_id == partner_id and record.key_id == key_id:
                self.keys[key_hash] = record.model_copy(update={"status": KeyStatus.REVOKED, "revoked_at": revoked_at})
                return
        raise NotFound("API key not found", {"key_id": key_id})
