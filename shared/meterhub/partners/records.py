"""Partners and their API keys."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

API_KEY_PREFIX = "mh_"
ACCOUNT_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class KeyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"


class Partner(BaseModel):
    partner_id: str
    name: str = Field(min_length=1, max_length=128)
    account: str = Field(pattern=ACCOUNT_PATTERN, description="URL-safe account name used in Connect links")
    created_at: datetime
    # Where Connect sends the customer when they are done (https; set by an operator, never by a query
    # string, so a Connect link cannot be turned into an open redirect). None: our own "you're done" page.
    connect_redirect_url: str | None = None


class ApiKeyRecord(BaseModel):
    """What we keep of a key: its hash and a short prefix to recognise it, never the key itself."""

    key_id: str
    partner_id: str
    key_hash: str
    prefix: str
    status: KeyStatus = KeyStatus.ACTIVE
    created_at: datetime
    revoked_at: datetime | None = None


def new_api_key() -> str:
    """256 bits from the OS CSPRNG; the prefix makes leaked keys easy to grep for in code and logs."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """SHA-256 is enough: keys are long random strings, so there is nothing to brute-force or salt."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def account_slug(name: str) -> str:
    """'Acme Solar, Inc.' -> 'acme-solar-inc' (ASCII, lower case, dashes)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:64].strip("-") or "partner"
