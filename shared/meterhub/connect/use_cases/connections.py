"""The partner's view of Connect: one connection per refId, and revoking an authorization.

A connection gathers every session opened with that refId and every authorization made in them: the latest
session's status, each authorization's status and the meters the utility sync made. Sessions opened without
a refId are not listed (Leap keeps no Connect status without one). The partner's sessions and authorizations
are read from its own partition and grouped here; that suits thousands of connections per partner; a larger
scale would want a per-refId index (noted in the README).

Each meter is listed with what it still awaits (`meters[].awaiting_address`): a Connect meter whose utility sent
no service address exists, PENDING with the ADDRESS required action, until the address arrives. That is read
from the meters of the page (fetched by id, in one search), so it is never staler than the meters themselves.

An INITIATED authorization whose request outlived STATE_LIFETIME is shown FAILED/EXPIRED: the customer can no
longer complete it, and the stored record is left as it was (a stale state records nothing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from meterhub.catalog.enums import UtilityName
from meterhub.connect.ports import DROP_TOKENS, ConnectRepository, TokenVault
from meterhub.connect.records import (
    STATE_LIFETIME,
    Authorization,
    AuthorizationStatus,
    ConnectSession,
    FailureReason,
    LazyModel,
    SessionStatus,
)
from meterhub.connect.use_cases.flow import AdapterFactory, token_context
from meterhub.connect.use_cases.meter_links import SEARCH_PAGE, all_meters, mark_meters
from meterhub.meters.ports import MeterQuery, MeterRepository
from meterhub.meters.records import MeterRecord
from meterhub.meters.rules.address import awaits_address
from meterhub.platform import page_tokens
from meterhub.platform.errors import Conflict, NotFound
from meterhub.utility_providers.records.errors import UtilityError
from meterhub.utility_providers.records.registry import UtilityRegistry

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class AuthorizationView(LazyModel):
    authorization_id: str
    utility_id: str
    utility_name: UtilityName
    link_id: str | None = Field(
        None, description="The partner-issued link it came through (only those merge into partner meters)"
    )
    status: AuthorizationStatus
    failure_reason: FailureReason | None = None
    failure_detail: str | None = None
    scope: str | None = None
    expires_at: datetime | None = Field(None, description="When the utility's grant ends, if it says")
    initiated_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    revoked_at: datetime | None = None
    synced_at: datetime | None = None
    sync_error: str | None = None
    meter_ids: list[str] = Field(default_factory=list)


class ConnectionMeter(LazyModel):
    meter_id: str
    awaiting_address: bool = Field(
        description="True while the meter has no service address (the utility sent none): it stays PENDING with "
        "the ADDRESS required action until a later sync brings the address, or you send it with "
        "POST /v1.1/meters?update_existing=true under the meter's partner_reference"
    )


class Connection(LazyModel):
    ref_id: str = Field(description="The refId of the Connect link (the partner's reference for the customer)")
    session_status: SessionStatus = Field(description="Status of the latest session opened with this refId")
    sessions_count: int
    started_at: datetime = Field(description="When the first session with this refId started")
    last_interaction_at: datetime
    authorizations: list[AuthorizationView]
    meter_ids: list[str] = Field(description="Meters created or linked from this connection's utility data")
    meters: list[ConnectionMeter] = Field(
        default_factory=list, description="The same meters (those that still exist), each with what it awaits"
    )


class ConnectionsResponse(LazyModel):
    connections: list[Connection]
    next_page_token: str | None = None


class RevokeResponse(LazyModel):
    authorization_id: str
    status: AuthorizationStatus
    utility_revocation: str = Field(description="CONFIRMED, or FAILED: <reason> when the utility did not confirm")
    meters_marked: int = Field(description="Meters that now show the IS_AUTHORIZED / AUTH_0001 required action")


@dataclass(frozen=True)
class ConnectionFilter:
    ref_id: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    last_interaction_after: datetime | None = None
    last_interaction_before: datetime | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    page_token: str | None = None

    def fingerprint(self) -> str:
        return page_tokens.fingerprint(
            {
                "ref_id": self.ref_id,
                "started_after": self.started_after,
                "started_before": self.started_before,
                "last_interaction_after": self.last_interaction_after,
                "last_interaction_before": self.last_interaction_before,
            }
        )

    def admits(self, connection: Connection) -> bool:
        return all(
            (
                self.ref_id is None or connection.ref_id == self.ref_id,
                self.started_after is None or connection.started_at > self.started_after,
                self.started_before is None or connection.started_at < self.started_before,
                self.last_interaction_after is None or connection.last_interaction_at > self.last_interaction_after,
                self.last_interaction_before is None or connection.last_interaction_at < self.last_interaction_before,
            )
        )


def _view(authorization: Authorization, now: datetime) -> AuthorizationView:
    view = AuthorizationView.model_validate(authorization.model_dump())
    if authorization.status is AuthorizationStatus.INITIATED and now - authorization.initiated_at > STATE_LIFETIME:
        view.status = AuthorizationStatus.FAILED
        view.failure_reason = FailureReason.EXPIRED
        view.failure_detail = "The customer did not come back from the utility in time"
    if (
        authorization.status is AuthorizationStatus.COMPLETED
        and authorization.expires_at is not None
        and authorization.expires_at <= now
    ):
        view.status = AuthorizationStatus.EXPIRED  # the customer must authorize again (IS_AUTHORIZED action)
    return view


def _connections(repo: ConnectRepository, partner_id: str, now: datetime) -> list[Connection]:
    sessions: dict[str, list[ConnectSession]] = defaultdict(list)
    for session in repo.sessions(partner_id):
        if session.ref_id:
            sessions[session.ref_id].append(session)
    authorizations: dict[str, list[Authorization]] = defaultdict(list)
    for authorization in repo.authorizations(partner_id):
        if authorization.ref_id:
            authorizations[authorization.ref_id].append(authorization)
    connections = []
    for ref_id, group in sessions.items():
        group.sort(key=lambda s: (s.started_at, s.session_id))
        auths = sorted(authorizations.get(ref_id, []), key=lambda a: (a.initiated_at, a.authorization_id))
        latest = max(group, key=lambda s: (s.last_interaction_at, s.started_at))
        last = max([s.last_interaction_at for s in group] + [a.updated_at for a in auths])
        connections.append(
            Connection(
                ref_id=ref_id,
                session_status=latest.status,
                sessions_count=len(group),
                started_at=group[0].started_at,
                last_interaction_at=last,
                authorizations=[_view(a, now) for a in auths],
                meter_ids=list(dict.fromkeys(m for a in auths for m in a.meter_ids)),
            )
        )
    # Newest first; ties broken by refId so pages never overlap.
    connections.sort(key=lambda c: (c.started_at, c.ref_id), reverse=True)
    return connections


def _cursor(connection: Connection) -> str:
    return f"{connection.started_at.isoformat()}|{connection.ref_id}"


def _with_meters(meters: MeterRepository, partner_id: str, page: list[Connection]) -> list[Connection]:
    """The page's connections with their meters' state, read by id in chunks of the search's id limit."""
    wanted = list(dict.fromkeys(m for connection in page for m in connection.meter_ids))
    found: dict[str, MeterRecord] = {}
    for start in range(0, len(wanted), SEARCH_PAGE):
        query = MeterQuery(meter_ids=tuple(wanted[start : start + SEARCH_PAGE]))
        found.update((meter.meter_id, meter) for meter in all_meters(meters, partner_id, query))
    return [
        connection.model_copy(
            update={
                "meters": [
                    ConnectionMeter(meter_id=m, awaiting_address=awaits_address(found[m].data))
                    for m in connection.meter_ids
                    if m in found
                ]
            }
        )
        for connection in page
    ]


def list_connections(
    repo: ConnectRepository, partner_id: str, filters: ConnectionFilter, now: datetime, *, meters: MeterRepository
) -> ConnectionsResponse:
    """`filters.page_size` (1 to MAX_PAGE_SIZE) is bounded by the route, this function's only caller."""
    fingerprint = filters.fingerprint()
    after = page_tokens.decode(filters.page_token, fingerprint) if filters.page_token else None
    selected = [c for c in _connections(repo, partner_id, now) if filters.admits(c)]
    if after is not None:
        selected = [c for c in selected if (c.started_at.isoformat(), c.ref_id) < tuple(after.split("|", 1))]
    page = selected[: filters.page_size]
    more = len(selected) > filters.page_size
    return ConnectionsResponse(
        connections=_with_meters(meters, partner_id, page),
        next_page_token=page_tokens.encode(_cursor(page[-1]), fingerprint) if more else None,
    )


def revoke_authorization(
    repo: ConnectRepository,
    meters: MeterRepository,
    vault: TokenVault,
    adapter_for: AdapterFactory,
    partner_id: str,
    authorization_id: str,
    now: Callable[[], datetime],
    *,
    utilities: UtilityRegistry,
) -> RevokeResponse:
    """End an authorization: tell the utility, delete our tokens, and mark the meters it feeds. Idempotent:
    revoking a revoked authorization answers the same without calling the utility again."""
    authorization = repo.get_authorization(partner_id, authorization_id)
    if authorization is None:
        raise NotFound("Authorization not found", {"authorization_id": authorization_id})
    if authorization.status is AuthorizationStatus.REVOKED:
        marked = mark_meters(meters, authorization, AuthorizationStatus.REVOKED, now())
        return RevokeResponse(
            authorization_id=authorization_id,
            status=authorization.status,
            utility_revocation="CONFIRMED",
            meters_marked=marked,
        )
    if authorization.status is not AuthorizationStatus.COMPLETED:
        raise Conflict(
            f"Only a COMPLETED authorization can be revoked; this one is {authorization.status.value}",
            {"authorization_id": authorization_id, "status": authorization.status.value},
        )
    utility_revocation = "CONFIRMED"
    sealed = repo.get_tokens(partner_id, authorization_id)
    utility = utilities.utility_by_id(authorization.utility_id)
    if sealed is not None and utility is not None:
        try:
            adapter_for(utility, authorization.api_base_url).revoke(vault.open(sealed, token_context(authorization)))
        except UtilityError as problem:
            utility_revocation = f"FAILED: {problem.reason}"[:200]
    at = now()
    revoked = authorization.model_copy(
        update={"status": AuthorizationStatus.REVOKED, "revoked_at": at, "updated_at": at}
    )
    saved = repo.save_authorization(revoked, tokens=DROP_TOKENS)
    marked = mark_meters(meters, saved, AuthorizationStatus.REVOKED, at)
    return RevokeResponse(
        authorization_id=authorization_id,
        status=saved.status,
        utility_revocation=utility_revocation,
        meters_marked=marked,
    )
