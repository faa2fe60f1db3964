"""The Connect repository and token vault ports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from meterhub.connect.records import (
    Authorization,
    AuthorizationRequest,
    ConnectSession,
    IssuedLink,
)
from meterhub.utility_providers.records.readings import TokenSet

DROP_TOKENS = b""  # `save_authorization(..., tokens=DROP_TOKENS)` deletes the stored ciphertext (revocation)


class ConnectRepository(Protocol):
    def create_session(
        self, session: ConnectSession, *, link: IssuedLink | None = None, reclaimed_from: str | None = None
    ) -> None:
        """A new session; with `link`, the session also claims it in the same transaction: Conflict when the
        link is gone or another session claimed it (`reclaimed_from`, the browser's previous session, may
        have: the same browser opening its link again)."""

    def create_link(self, link: IssuedLink) -> None: ...

    def get_link(self, token_hash: str) -> IssuedLink | None: ...

    def get_session(self, partner_id: str, session_id: str) -> ConnectSession | None: ...

    def save_session(self, session: ConnectSession) -> ConnectSession:
        """Write `session` over version `session.version`; returns it at the next version (Conflict if raced)."""

    def start_authorization(
        self, session: ConnectSession, request: AuthorizationRequest, authorization: Authorization
    ) -> ConnectSession:
        """Session change + new request + new INITIATED authorization, all or nothing."""

    def get_request(self, state_hash: str) -> AuthorizationRequest | None:
        """The request, unchanged; None when unknown or already used (checked before `consume_request`)."""

    def consume_request(self, state_hash: str, at: datetime) -> AuthorizationRequest | None:
        """The request, marked used; None when unknown or already used (a replay)."""

    def get_authorization(self, partner_id: str, authorization_id: str) -> Authorization | None: ...

    def get_tokens(self, partner_id: str, authorization_id: str) -> bytes | None: ...

    def save_authorization(
        self, authorization: Authorization, *, tokens: bytes | None = None, session: ConnectSession | None = None
    ) -> Authorization:
        """Write over version `authorization.version` (and `session` over its version) in one transaction;
        `tokens` replaces the stored ciphertext when given (DROP_TOKENS deletes it). Conflict if raced."""

    def sessions(self, partner_id: str) -> Iterator[ConnectSession]: ...

    def authorizations(self, partner_id: str) -> Iterator[Authorization]: ...

    def active_authorizations(self) -> Iterator[tuple[str, str]]:
        """(partner_id, authorization_id) of every COMPLETED authorization, all partners (the daily refresh)."""


class TokenVault(Protocol):
    def seal(self, tokens: TokenSet, context: dict[str, str]) -> bytes: ...

    def open(self, ciphertext: bytes, context: dict[str, str]) -> TokenSet: ...
