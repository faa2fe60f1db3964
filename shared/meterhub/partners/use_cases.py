"""Partner accounts and API keys: create, issue, revoke, authenticate."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import ValidationError

from meterhub.partners.ports import PartnerRepository
from meterhub.partners.records import (
    ACCOUNT_PATTERN,
    API_KEY_PREFIX,
    ApiKeyRecord,
    KeyStatus,
    Partner,
    account_slug,
    hash_api_key,
    new_api_key,
)
from meterhub.platform.api.field_errors import field_errors
from meterhub.platform.errors import Forbidden, InvalidInput, Unauthenticated

BEARER = "bearer "


@dataclass(frozen=True)
class IssuedKey:
    """The only moment the plaintext key exists outside the partner's hands."""

    key_id: str
    api_key: str
    partner_id: str


def create_partner(repo: PartnerRepository, name: str, account: str | None = None) -> Partner:
    name = name.strip()
    if not name:
        raise InvalidInput("Partner name must not be empty", {"name": name})
    try:
        partner = Partner(
            partner_id=str(uuid.uuid4()),
            name=name,
            account=account or account_slug(name),
            created_at=datetime.now(UTC),
        )
    except ValidationError as error:
        details = {e.field: e.description for e in field_errors(error.errors())}
        raise InvalidInput("Invalid partner", details) from None
    repo.create_partner(partner)
    return partner


def issue_api_key(repo: PartnerRepository, partner_id: str) -> IssuedKey:
    if repo.get_partner(partner_id) is None:
        raise InvalidInput("Unknown partner", {"partner_id": partner_id})
    api_key = new_api_key()
    record = ApiKeyRecord(
        key_id=uuid.uuid4().hex[:12],
        partner_id=partner_id,
        key_hash=hash_api_key(api_key),
        prefix=api_key[: len(API_KEY_PREFIX) + 4],
        created_at=datetime.now(UTC),
    )
    repo.add_api_key(record)
    return IssuedKey(key_id=record.key_id, api_key=api_key, partner_id=partner_id)


def set_connect_redirect_url(
    repo: PartnerRepository, partner_id: str, url: str | None, *, allow_loopback_http: bool = False
) -> None:
    """The partner's final redirect URL for Connect: absolute https (plain http to loopback only in the local
    runner), no credentials, no fragment. Set by an operator; a Connect link can never choose it."""
    if url:
        parts = urlsplit(url)
        loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
        if parts.scheme != "https" and not (allow_loopback_http and parts.scheme == "http" and loopback):
            raise InvalidInput("connect_redirect_url must be an https URL", {"connect_redirect_url": url})
        if not parts.hostname or parts.username or parts.password or parts.fragment or len(url) > 2048:
            raise InvalidInput(
                "connect_redirect_url must be an absolute URL without credentials or fragment",
                {"connect_redirect_url": url},
            )
    repo.set_connect_redirect_url(partner_id, url or None)


def revoke_api_key(repo: PartnerRepository, partner_id: str, key_id: str) -> None:
    repo.revoke_api_key(partner_id, key_id, datetime.now(UTC))


def bearer_token(authorization: str | None) -> str:
    """The key from an `Authorization: Bearer <key>` header; a missing or malformed header is a 401."""
    if not authorization or not authorization[: len(BEARER)].lower() == BEARER:
        raise Unauthenticated("Unauthorized")
    token = authorization[len(BEARER) :].strip()
    if not token:
        raise Unauthenticated("Unauthorized")
    return token


def verify_api_key(repo: PartnerRepository, api_key: str) -> str:
    """The partner an API key belongs to: the one key check behind the API authorizer and the SFTP login.
    Unknown or revoked keys are a 403 (Leap's convention), not a 401."""
    record = repo.find_api_key(hash_api_key(api_key))
    if record is None or record.status is not KeyStatus.ACTIVE:
        raise Forbidden("You do not have the necessary permissions for this operation")
    return record.partner_id


def authenticate(repo: PartnerRepository, authorization: str | None) -> str:
    """Partner id for a bearer header (the API authorizer)."""
    return verify_api_key(repo, bearer_token(authorization))


def authenticate_account(repo: PartnerRepository, account: str, api_key: str | None) -> Partner:
    """The partner for an SFTP login: username = its account, password = one of its active API keys. The key
    is checked exactly as the API checks it (`verify_api_key`), and must also belong to that account, so one
    partner's key never opens another's drop folder. Anything else is Forbidden, with no hint of which part
    was wrong."""
    denied = Forbidden("You do not have the necessary permissions for this operation")
    if not api_key or not re.fullmatch(ACCOUNT_PATTERN, account):
        raise denied
    partner = repo.find_partner_by_account(account)
    if partner is None or verify_api_key(repo, api_key) != partner.partner_id:
        raise denied
    return partner
