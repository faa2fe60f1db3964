"""PartnerRepository: InMemoryPartnerRepository and DynamoPartnerRepository keep one contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from meterhub.partners.adapters.dynamodb import DynamoPartnerRepository
from meterhub.partners.ports import PartnerRepository
from meterhub.partners.records import ApiKeyRecord, KeyStatus, Partner
from meterhub.platform.errors import AlreadyExists, NotFound

from tests.fakes.partners import InMemoryPartnerRepository

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def repo(implementation: str, env: dict[str, str]) -> PartnerRepository:
    if implementation == "fake":
        return InMemoryPartnerRepository()
    return DynamoPartnerRepository(env["PARTNERS_TABLE_NAME"])


def _partner(partner_id: str, account: str | None = None) -> Partner:
    return Partner(
        partner_id=partner_id, name="Acme Solar", account=account or f"acme-{partner_id[:8]}", created_at=NOW
    )


def _key(partner_id: str, key_id: str, created_at: datetime = NOW) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_id, partner_id=partner_id, key_hash=uuid.uuid4().hex * 2, prefix="mh_abcd", created_at=created_at
    )


def test_a_created_partner_reads_back_by_id_and_by_account(
    repo: PartnerRepository, partner_ids: tuple[str, str]
) -> None:
    partner = _partner(partner_ids[0])
    repo.create_partner(partner)
    assert repo.get_partner(partner.partner_id) == partner
    assert repo.find_partner_by_account(partner.account) == partner


def test_missing_partners_read_as_none(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    assert repo.get_partner(partner_ids[0]) is None
    assert repo.find_partner_by_account(f"nobody-{partner_ids[0][:8]}") is None


def test_a_taken_account_or_partner_id_is_already_exists(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    first, second = partner_ids
    repo.create_partner(_partner(first, "acme-solar"))
    with pytest.raises(AlreadyExists):
        repo.create_partner(_partner(second, "acme-solar"))
    with pytest.raises(AlreadyExists):
        repo.create_partner(_partner(first, "another-account"))
    assert repo.get_partner(second) is None  # nothing of the refused partner was written
    assert repo.find_partner_by_account("another-account") is None


def test_the_connect_redirect_url_is_set_and_cleared(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    partner = _partner(partner_ids[0])
    repo.create_partner(partner)
    repo.set_connect_redirect_url(partner.partner_id, "https://acme.example/done")
    assert repo.get_partner(partner.partner_id) == partner.model_copy(
        update={"connect_redirect_url": "https://acme.example/done"}
    )
    repo.set_connect_redirect_url(partner.partner_id, None)
    assert repo.get_partner(partner.partner_id) == partner


def test_an_empty_connect_redirect_url_clears_it(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    partner = _partner(partner_ids[0])
    repo.create_partner(partner)
    repo.set_connect_redirect_url(partner.partner_id, "https://acme.example/done")
    repo.set_connect_redirect_url(partner.partner_id, "")
    stored = repo.get_partner(partner.partner_id)
    assert stored is not None and stored.connect_redirect_url is None


def test_the_redirect_url_of_a_missing_partner_is_not_found(
    repo: PartnerRepository, partner_ids: tuple[str, str]
) -> None:
    with pytest.raises(NotFound):
        repo.set_connect_redirect_url(partner_ids[0], "https://acme.example/done")
    assert repo.get_partner(partner_ids[0]) is None


def test_api_keys_are_found_by_hash_and_listed_per_partner_in_key_id_order(
    repo: PartnerRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    keys = [_key(mine, key_id) for key_id in ("k-3", "k-1", "k-2")]
    for record in keys:
        repo.add_api_key(record)
    other = _key(theirs, "k-9")
    repo.add_api_key(other)
    assert repo.find_api_key(keys[0].key_hash) == keys[0]
    assert repo.list_api_keys(mine) == sorted(keys, key=lambda record: record.key_id)
    assert repo.list_api_keys(theirs) == [other]
    assert repo.find_api_key("0" * 64) is None


def test_a_key_hash_is_stored_once(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    record = _key(partner_ids[0], "k-1")
    repo.add_api_key(record)
    with pytest.raises(AlreadyExists):
        repo.add_api_key(record.model_copy(update={"key_id": "k-2"}))
    assert repo.list_api_keys(partner_ids[0]) == [record]


def test_revoking_a_key_marks_it_everywhere_it_is_read(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    record = _key(partner_ids[0], "k-1")
    repo.add_api_key(record)
    at = NOW + timedelta(days=1)
    repo.revoke_api_key(partner_ids[0], "k-1", at)
    revoked = record.model_copy(update={"status": KeyStatus.REVOKED, "revoked_at": at})
    assert repo.find_api_key(record.key_hash) == revoked
    assert repo.list_api_keys(partner_ids[0]) == [revoked]


def test_a_partner_cannot_revoke_another_partners_key(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    mine, theirs = partner_ids
    record = _key(mine, "k-1")
    repo.add_api_key(record)
    with pytest.raises(NotFound):
        repo.revoke_api_key(theirs, "k-1", NOW)
    with pytest.raises(NotFound):
        repo.revoke_api_key(mine, "k-unknown", NOW)
    assert repo.find_api_key(record.key_hash) == record


def test_a_record_read_back_is_a_copy(repo: PartnerRepository, partner_ids: tuple[str, str]) -> None:
    """A use case that changes a record it read must write it back: storage does not see the change."""
    partner = _partner(partner_ids[0])
    repo.create_partner(partner)
    record = _key(partner_ids[0], "k-1")
    repo.add_api_key(record)
    read = repo.get_partner(partner.partner_id)
    assert read is not None
    read.name = "Changed in memory"
    found = repo.find_api_key(record.key_hash)
    assert found is not None
    found.status = KeyStatus.REVOKED
    partner.name = "Changed by the caller after create"
    assert repo.get_partner(partner.partner_id) == _partner(partner_ids[0])
    assert repo.find_api_key(record.key_hash) == _key(partner_ids[0], "k-1").model_copy(
        update={"key_hash": record.key_hash}
    )
