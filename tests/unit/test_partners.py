"""Partner accounts and API keys: creation, hashing, revocation and bearer authentication."""

from __future__ import annotations

import hashlib

import pytest
from meterhub.partners import use_cases as partners
from meterhub.partners.records import API_KEY_PREFIX, KeyStatus, account_slug
from meterhub.partners.use_cases import IssuedKey
from meterhub.platform.errors import AlreadyExists, Forbidden, InvalidInput, NotFound, Unauthenticated

from tests.fakes.partners import InMemoryPartnerRepository

pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture
def repo() -> InMemoryPartnerRepository:
    return InMemoryPartnerRepository()


@pytest.fixture
def issued(repo: InMemoryPartnerRepository) -> IssuedKey:
    partner = partners.create_partner(repo, "Acme Solar")
    return partners.issue_api_key(repo, partner.partner_id)


# ----- authenticate ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic QWxhZGRpbjpvcGVu", "Bearer", "Bearer ", "Bearer    ", "Token mh_abc", "mh_abc"],
    ids=["missing", "empty", "basic", "bearer-only", "bearer-space", "bearer-blank", "other-scheme", "no-scheme"],
)
def test_missing_or_malformed_header_is_unauthenticated(repo: InMemoryPartnerRepository, header: str | None) -> None:
    # When a request carries no well-formed bearer header
    with pytest.raises(Unauthenticated) as refused:
        partners.authenticate(repo, header)

    # Then it is a 401
    assert refused.value.status == 401
    assert refused.value.title == "Unauthorized"


def test_unknown_key_is_forbidden(repo: InMemoryPartnerRepository, issued: IssuedKey) -> None:
    # When a well-formed but unknown key is sent
    with pytest.raises(Forbidden) as refused:
        partners.authenticate(repo, f"Bearer {API_KEY_PREFIX}not-a-key-we-issued")

    # Then it is a 403 (Leap's convention for bad keys)
    assert refused.value.status == 403


def test_revoked_key_is_forbidden(repo: InMemoryPartnerRepository, issued: IssuedKey) -> None:
    # Given a revoked key
    partners.revoke_api_key(repo, issued.partner_id, issued.key_id)

    # When it is used
    with pytest.raises(Forbidden):
        partners.authenticate(repo, f"Bearer {issued.api_key}")

    # Then it is refused, and listed as revoked with a time
    [record] = repo.list_api_keys(issued.partner_id)
    assert record.status is KeyStatus.REVOKED
    assert record.revoked_at is not None


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_valid_key_authenticates_as_its_partner(
    repo: InMemoryPartnerRepository, issued: IssuedKey, scheme: str
) -> None:
    # When the issued key is sent as a bearer token (scheme in any case)
    partner_id = partners.authenticate(repo, f"{scheme} {issued.api_key}")

    # Then the caller is its partner
    assert partner_id == issued.partner_id


def test_revoking_one_key_leaves_the_others_working(repo: InMemoryPartnerRepository, issued: IssuedKey) -> None:
    # Given a second key for the same partner
    second = partners.issue_api_key(repo, issued.partner_id)

    # When the first is revoked
    partners.revoke_api_key(repo, issued.partner_id, issued.key_id)

    # Then the second still authenticates
    assert partners.authenticate(repo, f"Bearer {second.api_key}") == issued.partner_id


def test_revoking_a_key_of_another_partner_is_not_found(repo: InMemoryPartnerRepository, issued: IssuedKey) -> None:
    # Given another partner
    other = partners.create_partner(repo, "Borealis Energy")

    # When it tries to revoke this partner's key
    with pytest.raises(NotFound):
        partners.revoke_api_key(repo, other.partner_id, issued.key_id)

    # Then the key still works
    assert partners.authenticate(repo, f"Bearer {issued.api_key}") == issued.partner_id


# ----- keys are stored hashed ------------------------------------------------------------------------------


def test_key_is_stored_only_as_its_sha256(repo: InMemoryPartnerRepository, issued: IssuedKey) -> None:
    # When the stored key records are inspected
    [record] = repo.list_api_keys(issued.partner_id)
    stored = record.model_dump_json() + "".join(repo.keys)

    # Then the hash is there and the plaintext key is not
    assert record.key_hash == hashlib.sha256(issued.api_key.encode()).hexdigest()
    assert issued.api_key not in stored
    assert issued.api_key[len(API_KEY_PREFIX) + 4 :] not in stored
    assert record.prefix == issued.api_key[: len(API_KEY_PREFIX) + 4]


def test_issued_keys_are_distinct_and_prefixed(repo: InMemoryPartnerRepository, issued: IssuedKey) -> None:
    # When more keys are issued
    more = [partners.issue_api_key(repo, issued.partner_id) for _ in range(5)]

    # Then each is new, long and recognisable
    keys = [issued.api_key, *(k.api_key for k in more)]
    assert len(set(keys)) == 6
    assert len({k.key_id for k in more} | {issued.key_id}) == 6
    assert all(k.startswith(API_KEY_PREFIX) and len(k) >= len(API_KEY_PREFIX) + 40 for k in keys)


def test_issuing_a_key_for_an_unknown_partner_is_invalid_input(repo: InMemoryPartnerRepository) -> None:
    # When a key is asked for a partner that does not exist
    with pytest.raises(InvalidInput):
        partners.issue_api_key(repo, "ghost")

    # Then nothing is stored
    assert repo.keys == {}


# ----- partners and account slugs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Acme Solar, Inc.", "acme-solar-inc"),
        ("  Énergie Québec  ", "energie-quebec"),
        ("ACME__Solar--2", "acme-solar-2"),
        ("!!!", "partner"),
        ("日本", "partner"),
        ("a" * 70, "a" * 64),
        ("a" * 63 + " b", "a" * 63),
    ],
)
def test_account_slug(name: str, slug: str) -> None:
    # When / Then: the slug is ASCII, lower case, dash-separated, at most 64 characters, never empty
    assert account_slug(name) == slug


def test_create_partner_derives_the_account_from_the_name(repo: InMemoryPartnerRepository) -> None:
    # When a partner is created without an account
    partner = partners.create_partner(repo, "  Acme Solar, Inc. ")

    # Then the name is trimmed and the account derived from it
    assert (partner.name, partner.account) == ("Acme Solar, Inc.", "acme-solar-inc")
    assert repo.get_partner(partner.partner_id) == partner


def test_create_partner_with_a_taken_account_is_refused(repo: InMemoryPartnerRepository) -> None:
    # Given a partner with account acme-solar
    partners.create_partner(repo, "Acme Solar")

    # When another partner would get the same account
    with pytest.raises(AlreadyExists):
        partners.create_partner(repo, "ACME solar")

    # Then only the first exists
    assert len(repo.partners) == 1


@pytest.mark.parametrize("name", ["", "   "])
def test_create_partner_with_an_empty_name_is_invalid_input(repo: InMemoryPartnerRepository, name: str) -> None:
    # When a partner without a name is created
    with pytest.raises(InvalidInput):
        partners.create_partner(repo, name)

    # Then nothing is stored
    assert repo.partners == {}


@pytest.mark.parametrize(("name", "account"), [("Acme", "Not A Slug"), ("x" * 129, None)], ids=["account", "long-name"])
def test_create_partner_with_invalid_fields_is_invalid_input(
    repo: InMemoryPartnerRepository, name: str, account: str | None
) -> None:
    # When a partner with an invalid account or name is created
    with pytest.raises(InvalidInput):
        partners.create_partner(repo, name, account)

    # Then nothing is stored
    assert repo.partners == {}
