"""The demo utility's stored codes and tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_LIFETIME = timedelta(seconds=60)


ACCESS_TOKEN_LIFETIME = timedelta(hours=1)


REFRESH_TOKEN_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class CodeRecord:
    """What an authorization code stands for, as issued by the authorize endpoint."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    username: str
    subscription_id: str
    expires_at: datetime
    used: bool = False
    issued_refresh_hash: str | None = None  # after a successful exchange: a replayed code ends that grant


@dataclass(frozen=True)
class TokenRecord:
    """An access or refresh token's grant; `sibling` is the hash of the other token of the pair."""

    client_id: str
    scope: str
    username: str
    subscription_id: str
    expires_at: datetime
    sibling: str
