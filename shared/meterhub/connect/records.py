"""Connect: sessions (a customer's visit to a Connect link), authorization requests (the OAuth `state`) and
authorizations (what the utility granted).

Statuses are Leap's (domain brief §4.3): a session goes CREATED -> UPDATED -> COMPLETED, or CLOSED when the
customer declines; an authorization goes INITIATED -> COMPLETED or FAILED. REVOKED and EXPIRED are ours: the
partner ended an authorization through the API, or the utility's grant ran out (Leap's event enum has neither,
so no event carries them; the meters' required-actions event tells the partner instead).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from meterhub.catalog.enums import TransmissionRegion, UtilityName

SESSION_IDLE_EXPIRY = timedelta(hours=24)
STATE_LIFETIME = timedelta(minutes=10)
LINK_LIFETIME = timedelta(hours=72)


class LazyModel(BaseModel):
    """Validators are built on first use: the functions that import these models answer most requests without
    them, and building every schema at import would add to each cold start."""

    model_config = ConfigDict(defer_build=True)


class SessionStatus(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    CLOSED = "CLOSED"
    COMPLETED = "COMPLETED"


class AuthorizationStatus(StrEnum):
    INITIATED = "INITIATED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # the grant's end passed (shown by the Connect API, set on meter links by the sync)


class FailureReason(StrEnum):
    """Why an authorization FAILED; shown to the partner (Connect API) and, worded, to the customer."""

    DENIED = "DENIED"  # the customer declined at the utility (error=access_denied)
    UTILITY_ERROR = "UTILITY_ERROR"  # the utility reported an error or its token exchange failed
    EXPIRED = "EXPIRED"  # the request sat too long before the customer came back


class Variant(StrEnum):
    """Leap's `variant` parameter; the agreements-only variants are PJM flows we do not serve."""

    RESIDENTIAL = "RESIDENTIAL"
    COMMERCIAL = "COMMERCIAL"


TERMINAL_SESSION_STATUSES = frozenset({SessionStatus.CLOSED, SessionStatus.COMPLETED})


class ConnectSession(LazyModel):
    """One visit. `csrf_token` guards the page's forms; the browser holds `session_id` in a cookie."""

    session_id: str
    partner_id: str
    ref_id: str | None = None
    transmission_region: TransmissionRegion
    variant: Variant = Variant.RESIDENTIAL
    direct_utility_id: str | None = None  # set by the /connect/<account>/<utility>/getting-started link
    link_id: str | None = None  # the partner-issued link this session was opened with (None: a plain link)
    status: SessionStatus = SessionStatus.CREATED
    csrf_token: str
    started_at: datetime
    last_interaction_at: datetime
    version: int = 1

    def is_resumable(self, now: datetime) -> bool:
        return self.status not in TERMINAL_SESSION_STATUSES and now - self.last_interaction_at < SESSION_IDLE_EXPIRY


class IssuedLink(LazyModel):
    """A Connect link the partner asked our API for. It is what lets the utility data be merged into the meter
    the partner already created for the refId: a plain link only ever creates new meters, because anyone can
    write one. The link's token is stored only as its SHA-256 (`token_hash`, the item's key); the first
    browser session that opens it claims it (`claimed_by`, a conditional write), and only that browser may open
    it again, until `expires_at`."""

    link_id: str
    token_hash: str
    partner_id: str
    ref_id: str
    transmission_region: TransmissionRegion
    variant: Variant = Variant.RESIDENTIAL
    direct_utility_id: str | None = None
    created_at: datetime
    expires_at: datetime
    claimed_by: str | None = None  # the session id that opened it first


class AuthorizationRequest(LazyModel):
    """What the `state` stands for while the customer is at the utility. Stored under the SHA-256 of the
    state (the state itself is never stored), used once, and only within STATE_LIFETIME."""

    state_hash: str
    partner_id: str
    session_id: str
    authorization_id: str
    utility_id: str
    code_verifier: str
    redirect_uri: str
    api_base_url: str
    expires_at: datetime


class UsagePointHistory(LazyModel):
    """How far one usage point's stored utility history reaches, so a first sync cut short (the Lambda limit,
    the utility failing a window) goes on where it stopped instead of starting over.

    The history is fetched newest first, so `[reaches, through)` is stored without gaps; `through` moves on
    with every sync, `reaches` back with every backfill window until `complete`."""

    through: datetime  # midnight UTC: the stored history ends here (later syncs overlap it: see RECENT_OVERLAP)
    reaches: datetime  # midnight UTC: the oldest day the backfill has stored so far
    complete: bool = False  # the backfill went back far enough, or the utility had nothing older


class Authorization(LazyModel):
    """One utility authorization for one refId. Tokens live only in `tokens_ciphertext` (KMS)."""

    authorization_id: str
    partner_id: str
    session_id: str
    ref_id: str | None = None
    transmission_region: TransmissionRegion
    utility_id: str
    utility_name: UtilityName
    link_id: str | None = None  # the session's partner-issued link: only then may the sync merge (see IssuedLink)
    status: AuthorizationStatus = AuthorizationStatus.INITIATED
    failure_reason: FailureReason | None = None
    failure_detail: str | None = None
    scope: str | None = None
    expires_at: datetime | None = None  # when the utility's grant (refresh token) ends, if it says
    api_base_url: str  # where a demo utility lives; real utilities have absolute URLs in the registry
    meter_ids: list[str] = Field(default_factory=list)
    initiated_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    revoked_at: datetime | None = None
    synced_at: datetime | None = None
    sync_error: str | None = None  # why the last sync could not finish (utility refused a request)
    history: dict[str, UsagePointHistory] = Field(default_factory=dict)  # per usage point id
    version: int = 1
