"""In-memory Connect repository and token vault.

Why they exist: the Connect flow (sessions, partner-issued links, the OAuth state, authorizations, the
daily sync and revocation) is unit tested without moto or KMS. tests/integration/parity/test_connect_port.py
holds them to DynamoConnectRepository's and KmsTokenVault's contract: every write conditional on `version`
(Conflict when raced or missing) and returning the next version; a session claims its link in the same write,
and only the browser's previous session may reclaim it; `start_authorization` writes the session change, the
request and the new authorization all or nothing (a stale session, a taken state or a taken authorization id
write nothing); a request consumed once; tokens kept, replaced or dropped (DROP_TOKENS); listings in id order;
active authorizations follow the COMPLETED status; sessions and authorizations keyed by partner; records are
copies. The vault's ciphertext hides the tokens and opens only with the context it was sealed with.

What they deliberately do not model: the TTLs of states and links (`expires_at_epoch`: DynamoDB reaps them
lazily and the use cases check `expires_at` themselves), the sharded sparse index behind
`active_authorizations` (its order here is insertion order; callers treat it as a set), the table's stream,
KMS's 4 KB plaintext limit (the serializer shared with the adapter enforces it) and real encryption: the fake
vault's bytes are reversed base64, opaque to a test's eye and nothing more.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime

from meterhub.connect.adapters.dynamodb import _bumped
from meterhub.connect.adapters.token_vault import _deserialize, _serialize
from meterhub.connect.ports import DROP_TOKENS
from meterhub.connect.records import (
    Authorization,
    AuthorizationRequest,
    AuthorizationStatus,
    ConnectSession,
    IssuedLink,
)
from meterhub.platform.errors import Conflict
from meterhub.utility_providers.records.readings import TokenSet


class InMemoryConnectRepository:
    """The port's behaviour (versions, single use, all-or-nothing) for unit tests of the use cases."""

    def __init__(self) -> None:
        self.sessions_by_key: dict[tuple[str, str], ConnectSession] = {}
        self.requests: dict[str, tuple[AuthorizationRequest, datetime | None]] = {}
        self.auths: dict[tuple[str, str], tuple[Authorization, bytes | None]] = {}
        self.links: dict[str, IssuedLink] = {}

    def create_session(
        self, session: ConnectSession, *, link: IssuedLink | None = None, reclaimed_from: str | None = None
    ) -> None:
        if (session.partner_id, session.session_id) in self.sessions_by_key:
            raise Conflict("Session exists")
        if link is not None:
            stored = self.links.get(link.token_hash)
            if stored is None or stored.claimed_by not in (None, reclaimed_from):
                raise Conflict("The link was already used")
            self.links[link.token_hash] = stored.model_copy(update={"claimed_by": session.session_id})
        self.sessions_by_key[(session.partner_id, session.session_id)] = session.model_copy(deep=True)

    def create_link(self, link: IssuedLink) -> None:
        if link.token_hash in self.links:
            raise Conflict("Link exists")
        self.links[link.token_hash] = link.model_copy(update={"claimed_by": None})

    def get_link(self, token_hash: str) -> IssuedLink | None:
        link = self.links.get(token_hash)
        return link.model_copy(deep=True) if link else None

    def get_session(self, partner_id: str, session_id: str) -> ConnectSession | None:
        session = self.sessions_by_key.get((partner_id, session_id))
        return session.model_copy(deep=True) if session else None

    def _check_session(self, session: ConnectSession) -> None:
        current = self.sessions_by_key.get((session.partner_id, session.session_id))
        if current is None or current.version != session.version:
            raise Conflict("The session changed meanwhile")

    def save_session(self, session: ConnectSession) -> ConnectSession:
        self._check_session(session)
        saved = _bumped(session)
        self.sessions_by_key[(session.partner_id, session.session_id)] = saved.model_copy(deep=True)
        return saved

    def start_authorization(
        self, session: ConnectSession, request: AuthorizationRequest, authorization: Authorization
    ) -> ConnectSession:
        self._check_session(session)
        if request.state_hash in self.requests:
            raise Conflict("State exists")
        if (authorization.partner_id, authorization.authorization_id) in self.auths:
            raise Conflict("Authorization exists")
        saved = _bumped(session)
        self.sessions_by_key[(session.partner_id, session.session_id)] = saved.model_copy(deep=True)
        self.requests[request.state_hash] = (request.model_copy(deep=True), None)
        self.auths[(authorization.partner_id, authorization.authorization_id)] = (
            authorization.model_copy(deep=True),
            None,
        )
        return saved

    def get_request(self, state_hash: str) -> AuthorizationRequest | None:
        entry = self.requests.get(state_hash)
        return entry[0].model_copy(deep=True) if entry is not None and entry[1] is None else None

    def consume_request(self, state_hash: str, at: datetime) -> AuthorizationRequest | None:
        entry = self.requests.get(state_hash)
        if entry is None or entry[1] is not None:
            return None
        self.requests[state_hash] = (entry[0], at)
        return entry[0].model_copy(deep=True)

    def get_authorization(self, partner_id: str, authorization_id: str) -> Authorization | None:
        entry = self.auths.get((partner_id, authorization_id))
        return entry[0].model_copy(deep=True) if entry else None

    def get_tokens(self, partner_id: str, authorization_id: str) -> bytes | None:
        entry = self.auths.get((partner_id, authorization_id))
        return entry[1] if entry else None

    def save_authorization(
        self, authorization: Authorization, *, tokens: bytes | None = None, session: ConnectSession | None = None
    ) -> Authorization:
        auth_key = (authorization.partner_id, authorization.authorization_id)
        current = self.auths.get(auth_key)
        if current is None or current[0].version != authorization.version:
            raise Conflict("The authorization changed meanwhile")
        if session is not None:
            self.save_session(session)
        saved = _bumped(authorization)
        kept = current[1] if tokens is None else (None if tokens == DROP_TOKENS else tokens)
        self.auths[auth_key] = (saved.model_copy(deep=True), kept)
        return saved

    def sessions(self, partner_id: str) -> Iterator[ConnectSession]:
        own = sorted((sid, s) for (pid, sid), s in self.sessions_by_key.items() if pid == partner_id)
        return iter([s.model_copy(deep=True) for _, s in own])

    def authorizations(self, partner_id: str) -> Iterator[Authorization]:
        own = sorted((aid, a) for (pid, aid), (a, _) in self.auths.items() if pid == partner_id)
        return iter([a.model_copy(deep=True) for _, a in own])

    def active_authorizations(self) -> Iterator[tuple[str, str]]:
        return iter(
            [(pid, aid) for (pid, aid), (a, _) in self.auths.items() if a.status is AuthorizationStatus.COMPLETED]
        )


class FakeTokenVault:
    """For unit tests: reversible but not plaintext (the tokens must not be findable in the stored bytes),
    and it checks the context the way KMS does."""

    def seal(self, tokens: TokenSet, context: dict[str, str]) -> bytes:
        envelope = json.dumps({"context": context, "body": base64.b64encode(_serialize(tokens)[::-1]).decode()})
        return envelope.encode("utf-8")

    def open(self, ciphertext: bytes, context: dict[str, str]) -> TokenSet:
        envelope = json.loads(ciphertext)
        if envelope["context"] != context:
            raise ValueError("InvalidCiphertextException: the encryption context does not match")
        return _deserialize(base64.b64decode(envelope["body"])[::-1])
