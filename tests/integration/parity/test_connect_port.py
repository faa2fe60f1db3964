"""ConnectRepository and TokenVault: the in-memory fakes and the DynamoDB / KMS adapters keep one contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from meterhub.catalog.enums import TransmissionRegion, UtilityName
from meterhub.connect.adapters.dynamodb import DynamoConnectRepository
from meterhub.connect.adapters.token_vault import KmsTokenVault
from meterhub.connect.ports import DROP_TOKENS, ConnectRepository, TokenVault
from meterhub.connect.records import (
    Authorization,
    AuthorizationRequest,
    AuthorizationStatus,
    ConnectSession,
    IssuedLink,
    SessionStatus,
    UsagePointHistory,
)
from meterhub.platform.errors import Conflict
from meterhub.utility_providers.records.readings import TokenSet

from tests.fakes.connect import FakeTokenVault, InMemoryConnectRepository

T0 = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
REGION = next(iter(TransmissionRegion))
UTILITY = next(iter(UtilityName))


@pytest.fixture
def repo(implementation: str, env: dict[str, str]) -> ConnectRepository:
    if implementation == "fake":
        return InMemoryConnectRepository()
    return DynamoConnectRepository(env["CONNECT_TABLE_NAME"])


@pytest.fixture
def vault(implementation: str, env: dict[str, str]) -> TokenVault:
    if implementation == "fake":
        return FakeTokenVault()
    return KmsTokenVault(env["CONNECT_TOKENS_KEY_ID"])


def _hash() -> str:
    return uuid.uuid4().hex * 2


def _session(partner_id: str, session_id: str | None = None) -> ConnectSession:
    return ConnectSession(
        session_id=session_id or str(uuid.uuid4()),
        partner_id=partner_id,
        ref_id="customer-1",
        transmission_region=REGION,
        csrf_token=uuid.uuid4().hex,
        started_at=T0,
        last_interaction_at=T0,
    )


def _link(partner_id: str) -> IssuedLink:
    return IssuedLink(
        link_id=str(uuid.uuid4()),
        token_hash=_hash(),
        partner_id=partner_id,
        ref_id="customer-1",
        transmission_region=REGION,
        created_at=T0,
        expires_at=T0 + timedelta(hours=72),
    )


def _request(session: ConnectSession, authorization: Authorization) -> AuthorizationRequest:
    return AuthorizationRequest(
        state_hash=_hash(),
        partner_id=session.partner_id,
        session_id=session.session_id,
        authorization_id=authorization.authorization_id,
        utility_id="demo",
        code_verifier=uuid.uuid4().hex,
        redirect_uri="https://connect.example/callback",
        api_base_url="https://demo.example",
        expires_at=T0 + timedelta(minutes=10),
    )


def _authorization(session: ConnectSession, authorization_id: str | None = None) -> Authorization:
    return Authorization(
        authorization_id=authorization_id or str(uuid.uuid4()),
        partner_id=session.partner_id,
        session_id=session.session_id,
        ref_id=session.ref_id,
        transmission_region=REGION,
        utility_id="demo",
        utility_name=UTILITY,
        api_base_url="https://demo.example",
        initiated_at=T0,
        updated_at=T0,
    )


def _started(repo: ConnectRepository, partner_id: str) -> tuple[ConnectSession, AuthorizationRequest, Authorization]:
    """A session with an authorization under way: what the use cases have when the customer leaves for the
    utility (the session as saved, the request, the INITIATED authorization)."""
    session = _session(partner_id)
    repo.create_session(session)
    authorization = _authorization(session)
    request = _request(session, authorization)
    saved = repo.start_authorization(
        session.model_copy(update={"status": SessionStatus.UPDATED}), request, authorization
    )
    return saved, request, authorization


# ----- sessions and links --------------------------------------------------------------------------------------
def test_a_session_is_created_once_and_read_back(repo: ConnectRepository, partner_ids: tuple[str, str]) -> None:
    session = _session(partner_ids[0])
    repo.create_session(session)
    assert repo.get_session(session.partner_id, session.session_id) == session
    with pytest.raises(Conflict):
        repo.create_session(session.model_copy(update={"ref_id": "other"}))
    assert repo.get_session(session.partner_id, session.session_id) == session
    assert repo.get_session(session.partner_id, str(uuid.uuid4())) is None


def test_save_session_writes_over_its_version_and_returns_the_next(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    session = _session(partner_ids[0])
    repo.create_session(session)
    changed = session.model_copy(update={"status": SessionStatus.UPDATED})
    saved = repo.save_session(changed)
    assert saved == changed.model_copy(update={"version": 2})
    assert repo.get_session(session.partner_id, session.session_id) == saved
    with pytest.raises(Conflict):
        repo.save_session(session.model_copy(update={"status": SessionStatus.CLOSED}))  # still at version 1
    with pytest.raises(Conflict):
        repo.save_session(_session(partner_ids[0]))  # never created
    assert repo.get_session(session.partner_id, session.session_id) == saved


def test_a_link_is_stored_unclaimed_once(repo: ConnectRepository, partner_ids: tuple[str, str]) -> None:
    link = _link(partner_ids[0])
    repo.create_link(link.model_copy(update={"claimed_by": "ignored"}))
    assert repo.get_link(link.token_hash) == link
    with pytest.raises(Conflict):
        repo.create_link(link)
    assert repo.get_link(_hash()) is None


def test_a_session_claims_its_link_and_only_its_browser_may_reclaim_it(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    link = _link(partner_ids[0])
    repo.create_link(link)
    first = _session(partner_ids[0])
    repo.create_session(first, link=link)
    assert repo.get_link(link.token_hash) == link.model_copy(update={"claimed_by": first.session_id})
    stranger = _session(partner_ids[0])
    with pytest.raises(Conflict):
        repo.create_session(stranger, link=link)
    with pytest.raises(Conflict):
        repo.create_session(stranger, link=link, reclaimed_from=str(uuid.uuid4()))
    assert repo.get_session(stranger.partner_id, stranger.session_id) is None
    again = _session(partner_ids[0])
    repo.create_session(again, link=link, reclaimed_from=first.session_id)
    assert repo.get_link(link.token_hash) == link.model_copy(update={"claimed_by": again.session_id})


def test_a_session_with_an_unknown_link_is_not_created(repo: ConnectRepository, partner_ids: tuple[str, str]) -> None:
    session = _session(partner_ids[0])
    with pytest.raises(Conflict):
        repo.create_session(session, link=_link(partner_ids[0]))
    assert repo.get_session(session.partner_id, session.session_id) is None


# ----- authorization requests and authorizations ---------------------------------------------------------------
def test_start_authorization_writes_the_session_request_and_authorization_together(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    saved, request, authorization = _started(repo, partner_ids[0])
    assert (saved.version, saved.status) == (2, SessionStatus.UPDATED)
    assert repo.get_session(saved.partner_id, saved.session_id) == saved
    assert repo.get_request(request.state_hash) == request
    assert repo.get_authorization(authorization.partner_id, authorization.authorization_id) == authorization
    assert repo.get_tokens(authorization.partner_id, authorization.authorization_id) is None


def test_start_authorization_over_a_stale_session_writes_nothing(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    session = _session(partner_ids[0])
    repo.create_session(session)
    repo.save_session(session)
    authorization = _authorization(session)
    request = _request(session, authorization)
    with pytest.raises(Conflict):
        repo.start_authorization(session, request, authorization)
    assert repo.get_request(request.state_hash) is None
    assert repo.get_authorization(authorization.partner_id, authorization.authorization_id) is None


def test_start_authorization_with_a_taken_state_or_authorization_id_writes_nothing(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    saved, request, authorization = _started(repo, partner_ids[0])
    second = _authorization(saved)
    with pytest.raises(Conflict):
        repo.start_authorization(
            saved, _request(saved, second).model_copy(update={"state_hash": request.state_hash}), second
        )
    assert repo.get_authorization(second.partner_id, second.authorization_id) is None
    fresh_request = _request(saved, authorization)
    replaced = authorization.model_copy(update={"utility_id": "another"})
    with pytest.raises(Conflict):
        repo.start_authorization(saved, fresh_request, replaced)
    assert repo.get_request(fresh_request.state_hash) is None
    assert repo.get_authorization(authorization.partner_id, authorization.authorization_id) == authorization
    assert repo.get_session(saved.partner_id, saved.session_id) == saved


def test_a_request_is_consumed_once(repo: ConnectRepository, partner_ids: tuple[str, str]) -> None:
    _, request, _ = _started(repo, partner_ids[0])
    assert repo.consume_request(request.state_hash, T0 + timedelta(minutes=1)) == request
    assert repo.consume_request(request.state_hash, T0 + timedelta(minutes=2)) is None  # a replayed callback
    assert repo.get_request(request.state_hash) is None
    assert repo.consume_request(_hash(), T0) is None
    assert repo.get_request(_hash()) is None


def test_save_authorization_writes_over_its_version_and_keeps_replaces_or_drops_tokens(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    saved_session, _, authorization = _started(repo, partner_ids[0])
    completed = authorization.model_copy(update={"status": AuthorizationStatus.COMPLETED, "completed_at": T0})
    closed = saved_session.model_copy(update={"status": SessionStatus.COMPLETED})
    second = repo.save_authorization(completed, tokens=b"sealed-1", session=closed)
    assert second == completed.model_copy(update={"version": 2})
    assert repo.get_authorization(authorization.partner_id, authorization.authorization_id) == second
    assert repo.get_session(closed.partner_id, closed.session_id) == closed.model_copy(update={"version": 3})
    assert repo.get_tokens(authorization.partner_id, authorization.authorization_id) == b"sealed-1"
    history = {"up-1": UsagePointHistory(through=T0, reaches=T0 - timedelta(days=31))}
    third = repo.save_authorization(second.model_copy(update={"synced_at": T0, "history": history}))
    assert repo.get_tokens(authorization.partner_id, authorization.authorization_id) == b"sealed-1"
    assert repo.get_authorization(authorization.partner_id, authorization.authorization_id) == third
    fourth = repo.save_authorization(third, tokens=b"sealed-2")
    assert repo.get_tokens(authorization.partner_id, authorization.authorization_id) == b"sealed-2"
    repo.save_authorization(fourth.model_copy(update={"status": AuthorizationStatus.REVOKED}), tokens=DROP_TOKENS)
    assert repo.get_tokens(authorization.partner_id, authorization.authorization_id) is None


def test_a_stale_authorization_or_session_saves_nothing(repo: ConnectRepository, partner_ids: tuple[str, str]) -> None:
    saved_session, _, authorization = _started(repo, partner_ids[0])
    stale_session = saved_session.model_copy(update={"version": 1})
    completed = authorization.model_copy(update={"status": AuthorizationStatus.COMPLETED})
    with pytest.raises(Conflict):
        repo.save_authorization(completed, tokens=b"sealed", session=stale_session)
    assert repo.get_authorization(authorization.partner_id, authorization.authorization_id) == authorization
    assert repo.get_tokens(authorization.partner_id, authorization.authorization_id) is None
    repo.save_authorization(completed)
    with pytest.raises(Conflict):
        repo.save_authorization(completed, session=saved_session)  # the authorization is at version 2 now
    assert repo.get_session(saved_session.partner_id, saved_session.session_id) == saved_session
    with pytest.raises(Conflict):
        repo.save_authorization(_authorization(saved_session))  # never started


def test_sessions_and_authorizations_list_per_partner_in_id_order(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    sessions = [_session(mine, session_id) for session_id in ("s-b", "s-c", "s-a")]
    for session in sessions:
        repo.create_session(session)
    repo.create_session(_session(theirs, "s-0"))
    assert list(repo.sessions(mine)) == sorted(sessions, key=lambda s: s.session_id)
    started = []
    for authorization_id in ("a-2", "a-3", "a-1"):
        current = repo.get_session(mine, "s-a")
        assert current is not None
        authorization = _authorization(current, authorization_id)
        repo.start_authorization(current, _request(current, authorization), authorization)
        started.append(authorization)
    assert list(repo.authorizations(mine)) == sorted(started, key=lambda a: a.authorization_id)
    assert list(repo.authorizations(theirs)) == []


def test_active_authorizations_follow_the_status(repo: ConnectRepository, partner_ids: tuple[str, str]) -> None:
    _, _, completing = _started(repo, partner_ids[0])
    _, _, initiated = _started(repo, partner_ids[1])
    completed = repo.save_authorization(completing.model_copy(update={"status": AuthorizationStatus.COMPLETED}))
    active = set(repo.active_authorizations())  # the moto stack is shared: other tests' may be there too
    assert (completed.partner_id, completed.authorization_id) in active
    assert (initiated.partner_id, initiated.authorization_id) not in active
    repo.save_authorization(completed.model_copy(update={"status": AuthorizationStatus.REVOKED}))
    assert (completed.partner_id, completed.authorization_id) not in set(repo.active_authorizations())


def test_a_partner_reaches_none_of_another_partners_connect_items(
    repo: ConnectRepository, partner_ids: tuple[str, str]
) -> None:
    mine, theirs = partner_ids
    saved, _, authorization = _started(repo, mine)
    repo.save_authorization(authorization, tokens=b"sealed")
    assert repo.get_session(theirs, saved.session_id) is None
    assert repo.get_authorization(theirs, authorization.authorization_id) is None
    assert repo.get_tokens(theirs, authorization.authorization_id) is None
    assert list(repo.sessions(theirs)) == []
    with pytest.raises(Conflict):
        repo.save_session(saved.model_copy(update={"partner_id": theirs}))
    with pytest.raises(Conflict):
        repo.save_authorization(authorization.model_copy(update={"partner_id": theirs, "version": 2}))


def test_what_is_read_back_is_a_copy(repo: ConnectRepository, partner_ids: tuple[str, str]) -> None:
    session = _session(partner_ids[0])
    repo.create_session(session)
    expected = session.model_copy()
    session.ref_id = "changed after create"
    read = repo.get_session(session.partner_id, session.session_id)
    assert read is not None
    read.csrf_token = "changed in memory"
    assert repo.get_session(session.partner_id, session.session_id) == expected
    _, _, authorization = _started(repo, partner_ids[0])
    stored = repo.get_authorization(authorization.partner_id, authorization.authorization_id)
    assert stored is not None
    stored.meter_ids.append("changed in memory")
    assert repo.get_authorization(authorization.partner_id, authorization.authorization_id) == authorization


# ----- token vault ---------------------------------------------------------------------------------------------
TOKENS = TokenSet(
    access_token="access-" + "a" * 40,
    expires_at=T0 + timedelta(hours=1),
    scope="FB=1_3_4",
    refresh_token="refresh-" + "r" * 40,
    resource_uri="https://demo.example/Subscription/1",
    refresh_expires_at=T0 + timedelta(days=365),
)
CONTEXT = {"partner_id": "p-1", "authorization_id": "a-1"}


def test_sealed_tokens_open_with_their_context_and_hide_the_secrets(vault: TokenVault) -> None:
    sealed = vault.seal(TOKENS, CONTEXT)
    assert isinstance(sealed, bytes)
    assert TOKENS.access_token.encode() not in sealed
    assert TOKENS.refresh_token is not None and TOKENS.refresh_token.encode() not in sealed
    assert vault.open(sealed, dict(CONTEXT)) == TOKENS


def test_sealed_tokens_do_not_open_with_another_context(vault: TokenVault) -> None:
    sealed = vault.seal(TOKENS, CONTEXT)
    with pytest.raises(Exception, match="InvalidCiphertextException"):
        vault.open(sealed, {**CONTEXT, "authorization_id": "a-2"})
