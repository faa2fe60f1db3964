"""In-memory partner repository.

Why it exists: the partner and API-key use cases (create, issue, revoke, the authorizer's lookup) are unit
tested without moto, and this fake is what they run on. tests/integration/parity/test_partners_port.py holds
it to DynamoPartnerRepository's contract: AlreadyExists for a taken account, partner id or key hash; NotFound
for a missing partner or another partner's key; keys listed in key-id order; an empty redirect URL clears it;
records are copies (a change to one read or written is not stored until written through the port).

What it deliberately does not model: the two items per partner and per key (the uniqueness guards are
dict lookups, the transactions are implicit), eventual consistency (every read here is consistent; the
adapter's account lookup is not), throttling, and API Gateway usage plans (partners/adapters/usage_plans.py).
"""

from __future__ import annotations

from datetime import datetime

from meterhub.partners.records import ApiKeyRecord, KeyStatus, Partner
from meterhub.platform.errors import AlreadyExists, NotFound


class InMemoryPartnerRepository:
    """The port over two dicts: partners by id, API keys by hash."""

    def __init__(self) -> None:
        self.partners: dict[str, Partner] = {}
        self.keys: dict[str, ApiKeyRecord] = {}

    def create_partner(self, partner: Partner) -> None:
        if partner.partner_id in self.partners or any(p.account == partner.account for p in self.partners.values()):
            raise AlreadyExists(f"Account '{partner.account}' already exists")
        self.partners[partner.partner_id] = partner.model_copy(deep=True)

    def get_partner(self, partner_id: str) -> Partner | None:
        partner = self.partners.get(partner_id)
        return partner.model_copy(deep=True) if partner else None

    def find_partner_by_account(self, account: str) -> Partner | None:
        found = next((p for p in self.partners.values() if p.account == account), None)
        return found.model_copy(deep=True) if found else None

    def set_connect_redirect_url(self, partner_id: str, url: str | None) -> None:
        if partner_id not in self.partners:
            raise NotFound("Partner not found", {"partner_id": partner_id})
        self.partners[partner_id] = self.partners[partner_id].model_copy(update={"connect_redirect_url": url or None})

    def add_api_key(self, record: ApiKeyRecord) -> None:
        if record.key_hash in self.keys:
            raise AlreadyExists("API key already exists")
        self.keys[record.key_hash] = record.model_copy(deep=True)

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        record = self.keys.get(key_hash)
        return record.model_copy(deep=True) if record else None

    def list_api_keys(self, partner_id: str) -> list[ApiKeyRecord]:
        own = [record for record in self.keys.values() if record.partner_id == partner_id]
        return [record.model_copy(deep=True) for record in sorted(own, key=lambda record: record.key_id)]

    def revoke_api_key(self, partner_id: str, key_id: str, revoked_at: datetime) -> None:
        for key_hash, record in self.keys.items():
            if record.partner_id == partner_id and record.key_id == key_id:
                self.keys[key_hash] = record.model_copy(update={"status": KeyStatus.REVOKED, "revoked_at": revoked_at})
                return
        raise NotFound("API key not found", {"key_id": key_id})
