"""The customer's side of Connect: open a link, choose a utility, come back from it.

Security decisions, each one tested:
- The browser holds only a session id (HttpOnly cookie). Every form carries the session's CSRF token and every
  POST checks it against the stored one (constant-time) and the cookie against the URL.
- The OAuth `state` is 256 random bits, stored only as its SHA-256, bound to one session, single use
  and valid for STATE_LIFETIME. A callback whose state is unknown, reused, expired or issued to another
  browser session is refused and records nothing about the authorization; an expired request shows as
  FAILED/EXPIRED in the Connect API (derived on read). The state is marked used (a conditional write) only
  after the request passed those checks, before anything else happens: whoever holds a copy of the callback
  URL without the customer's session cookie cannot burn the customer's state.
- A link is plain (anyone can write one: `account`, region, `refId`) or partner-issued (`linkToken`, from
  the Connect API; see IssuedLink). Only a session opened with an issued link lets the utility sync merge the
  customer's data into a meter the partner created for the refId; a plain link only ever creates new meters,
  so knowing a refId is not enough to attach a stranger's utility account to the partner's customer.
- What the utility (or anyone writing the callback's query string) says in `error` / `error_description` is
  stored as short plain text: markup and control characters removed, length limited.
- PKCE (S256): the verifier never leaves our storage; the utility checks it at the token exchange.
- The redirect after the callback goes to the partner's configured URL only (never one from the query).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from meterhub.catalog.enums import TransmissionRegion
from meterhub.connect.ports import ConnectRepository, TokenVault
from meterhub.connect.records import (
    STATE_LIFETIME,
    Authorization,
    AuthorizationRequest,
    AuthorizationStatus,
    ConnectSession,
    FailureReason,
    IssuedLink,
    SessionStatus,
    Variant,
)
from meterhub.partners.ports import PartnerRepository
from meterhub.partners.records import ACCOUNT_PATTERN, Partner
from meterhub.platform.errors import Conflict
from meterhub.platform.observability import CONNECT_SESSIONS, record_metric
from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.errors import UtilityError
from meterhub.utility_providers.records.registry import UtilityConfig, UtilityRegistry
from meterhub.utility_providers.rules.pkce import pkce_pair

CALLBACK_PATH = "/connect/callback"
MAX_REF_ID_LENGTH = 128
MAX_DETAIL_LENGTH = 200
MAX_LINK_TOKEN_LENGTH = 128
LINK_TOKEN_PARAMETER = "linkToken"  # noqa: S105 - a query parameter name, not a secret
_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_MARKUP = re.compile(r"<[^>]*>?")
# Regions where a utility meter can only be onboarded through a customer's authorization (the catalog's
# customer-authorized programs); a link for another region is a partner mistake worth a clear page.
CONNECT_REGIONS = (TransmissionRegion.CAISO, TransmissionRegion.NYISO)
REGION_LABELS = {
    TransmissionRegion.CAISO: "California",
    TransmissionRegion.NYISO: "New York",
}

AdapterFactory = Callable[[UtilityConfig, str], UtilityAdapter]


class ConnectProblem(Exception):
    """Something the customer must be told on a page (not a stack trace): `title` + `message`, an HTTP
    status, and optionally where to try again."""

    def __init__(self, status: int, title: str, message: str, retry_url: str | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message
        self.retry_url = retry_url


def _refused(message: str) -> ConnectProblem:
    return ConnectProblem(400, "This authorization could not be completed", message)


@dataclass(frozen=True)
class LinkParameters:
    account: str
    transmission_region: str | None
    ref_id: str | None
    variant: str | None
    utility_id: str | None = None  # the direct-to-utility link
    link_token: str | None = None  # a partner-issued link's token (linkToken); None for a plain link


@dataclass(frozen=True)
class OpenedSession:
    partner: Partner
    session: ConnectSession
    utilities: tuple[UtilityConfig, ...]
    is_new: bool


@dataclass(frozen=True)
class CallbackOutcome:
    partner: Partner
    authorization: Authorization
    outcome: str  # "completed" | "failed"
    message: str | None


def secret_hash(secret: str) -> str:
    """What we store instead of a bearer secret (an OAuth state, a link token): its SHA-256, hex. The secrets
    are 256 random bits, so the digest needs no salt, and a table read gives nothing that opens a flow."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def find_partner(partners: PartnerRepository, account: str) -> Partner:
    partner = partners.find_partner_by_account(account) if re.fullmatch(ACCOUNT_PATTERN, account) else None
    if partner is None:
        raise ConnectProblem(
            404,
            "We couldn't find this link",
            "The link you followed is not valid. Please ask the company that sent it for a new one.",
        )
    return partner


def _region(value: str | None) -> TransmissionRegion:
    if not value:
        raise ConnectProblem(400, "This link is incomplete", "The link is missing its region (transmissionRegion).")
    try:
        region = TransmissionRegion(value.upper())
    except ValueError:
        raise ConnectProblem(400, "This link is not valid", f"'{value}' is not a region we know.") from None
    if region not in CONNECT_REGIONS:
        raise ConnectProblem(
            400,
            "This link is not available in your region",
            f"Connecting a utility account is not offered in {region.value}. "
            "Please contact the company that sent you this link.",
        )
    return region


def _variant(value: str | None) -> Variant:
    if not value:
        return Variant.RESIDENTIAL
    try:
        return Variant(value.upper())
    except ValueError:
        raise ConnectProblem(
            400, "This link is not valid", f"'{value}' is not a variant we know (RESIDENTIAL or COMMERCIAL)."
        ) from None


def _ref_id(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > MAX_REF_ID_LENGTH or not value.isprintable():
        raise ConnectProblem(400, "This link is not valid", "The link's reference (refId) is too long or malformed.")
    return value


def offered_utilities(
    session: ConnectSession, utilities: UtilityRegistry, *, include_demo: bool
) -> tuple[UtilityConfig, ...]:
    offered = utilities.utilities_for(session.transmission_region, include_demo=include_demo)
    if session.direct_utility_id:
        offered = [u for u in offered if u.utility_id == session.direct_utility_id]
    return tuple(offered)


def open_link(
    partners: PartnerRepository,
    repo: ConnectRepository,
    link: LinkParameters,
    cookie_session_id: str | None,
    *,
    utilities: UtilityRegistry,
    include_demo: bool,
    now: datetime,
) -> OpenedSession:
    """Validate the link and create a session, or resume the browser's own one (same partner, reference,
    region and utility, not finished, not idle for 24 h)."""
    partner = find_partner(partners, link.account)
    ref_id = _ref_id(link.ref_id)
    variant = _variant(link.variant)
    direct: UtilityConfig | None = None
    if link.utility_id is not None:
        direct = utilities.utility_by_id(link.utility_id)
        if direct is None or (direct.is_demo and not include_demo):
            raise ConnectProblem(404, "We couldn't find this utility", "The link names a utility we do not serve.")
        region = direct.transmission_regions[0]
        if link.transmission_region:
            region = _region(link.transmission_region)
            if region not in direct.transmission_regions:
                raise ConnectProblem(400, "This link is not valid", "The utility does not serve that region.")
    else:
        region = _region(link.transmission_region)
    direct_id = direct.utility_id if direct else None
    issued = None
    if link.link_token is not None:
        issued = _issued_link(repo, partner, link.link_token, now)
        if (issued.ref_id, issued.transmission_region, issued.variant, issued.direct_utility_id) != (
            ref_id,
            region,
            variant,
            direct_id,
        ):
            raise ConnectProblem(
                400, "This link is not valid", "The link was changed after it was issued. Please use it as you got it."
            )
    if cookie_session_id:
        existing = repo.get_session(partner.partner_id, cookie_session_id)
        if (
            existing is not None
            and existing.is_resumable(now)
            and existing.ref_id == ref_id
            and existing.transmission_region == region
            and existing.direct_utility_id == direct_id
            and existing.variant == variant
            # The browser's own session, even one opened with an issued link, resumes from the plain link
            # ("Try again" leads there); an issued link resumes only the session it started.
            and (issued is None or existing.link_id == issued.link_id)
        ):
            resumed = _touch(repo, existing, now)
            return OpenedSession(
                partner, resumed, offered_utilities(resumed, utilities, include_demo=include_demo), False
            )
    session = ConnectSession(
        session_id=str(uuid.uuid4()),
        partner_id=partner.partner_id,
        ref_id=ref_id,
        transmission_region=region,
        variant=variant,
        direct_utility_id=direct_id,
        link_id=issued.link_id if issued else None,
        csrf_token=secrets.token_urlsafe(32),
        started_at=now,
        last_interaction_at=now,
    )
    offered = offered_utilities(session, utilities, include_demo=include_demo)
    if not offered:  # before the session is stored: an issued link stays unclaimed for a later visit
        raise ConnectProblem(
            503,
            "No utility is available right now",
            "We cannot connect to a utility in your region at the moment. Please try again later.",
        )
    try:
        repo.create_session(session, link=issued, reclaimed_from=cookie_session_id)
    except Conflict:
        if issued is None:
            raise
        raise _link_used(partner) from None
    return OpenedSession(partner, session, offered, True)


def _link_used(partner: Partner) -> ConnectProblem:
    return ConnectProblem(
        410,
        "This link was already used",
        f"It was opened in another browser. Please ask {partner.name} for a new link.",
    )


def _issued_link(repo: ConnectRepository, partner: Partner, token: str, now: datetime) -> IssuedLink:
    """The partner-issued link behind `token`: known, this partner's and unexpired. Whether another browser
    owns it is decided by the conditional write that claims it for a new session (no check-then-act race)."""
    issued = None
    if len(token) <= MAX_LINK_TOKEN_LENGTH and _LINK_TOKEN.fullmatch(token):
        digest = secret_hash(token)
        found = repo.get_link(digest)
        # The key lookup found it; the constant-time check keeps the rule in one visible place whatever the store
        if found is not None and hmac.compare_digest(found.token_hash.encode(), digest.encode()):
            issued = found
    if issued is None or issued.partner_id != partner.partner_id:
        raise ConnectProblem(
            404,
            "We couldn't find this link",
            f"The link you followed is not valid. Please ask {partner.name} for a new one.",
        )
    if now >= issued.expires_at:
        raise ConnectProblem(410, "This link has expired", f"Please ask {partner.name} for a new link.")
    return issued


def _touch(repo: ConnectRepository, session: ConnectSession, now: datetime) -> ConnectSession:
    try:
        return repo.save_session(session.model_copy(update={"last_interaction_at": now}))
    except Conflict:
        # Another tab moved the session on meanwhile: theirs is the newer state, use it as it is.
        return repo.get_session(session.partner_id, session.session_id) or session


def _form_session(
    partners: PartnerRepository,
    repo: ConnectRepository,
    account: str,
    session_id: str,
    cookie_session_id: str | None,
    csrf_token: str | None,
    now: datetime,
) -> tuple[Partner, ConnectSession]:
    partner = find_partner(partners, account)
    session = repo.get_session(partner.partner_id, session_id)
    if (
        session is None
        or cookie_session_id != session_id
        or not csrf_token
        or not hmac.compare_digest(csrf_token.encode(), session.csrf_token.encode())
    ):
        raise ConnectProblem(
            403,
            "This page has expired",
            "For your security, please open the link you received again.",
        )
    if not session.is_resumable(now):
        raise ConnectProblem(410, "This session has ended", "Please open the link you received again to start over.")
    return partner, session


def start_authorization(
    partners: PartnerRepository,
    repo: ConnectRepository,
    *,
    account: str,
    session_id: str,
    cookie_session_id: str | None,
    form: dict[str, str],
    base_url: str,
    utilities: UtilityRegistry,
    include_demo: bool,
    adapter_for: AdapterFactory,
    now: datetime,
) -> str:
    """The customer chose a utility and consented: record INITIATED and return the utility's authorize URL."""
    partner, session = _form_session(
        partners, repo, account, session_id, cookie_session_id, form.get("csrf_token"), now
    )
    if form.get("consent") != "yes":
        raise ConnectProblem(400, "Please confirm your consent", "Tick the consent box to continue.")
    utility = next(
        (
            u
            for u in offered_utilities(session, utilities, include_demo=include_demo)
            if u.utility_id == form.get("utility_id")
        ),
        None,
    )
    if utility is None:
        raise ConnectProblem(400, "Please choose your utility", "Select the utility that serves your home or business.")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    redirect_uri = base_url.rstrip("/") + CALLBACK_PATH
    authorization = Authorization(
        authorization_id=str(uuid.uuid4()),
        partner_id=partner.partner_id,
        session_id=session.session_id,
        ref_id=session.ref_id,
        transmission_region=session.transmission_region,
        link_id=session.link_id,
        utility_id=utility.utility_id,
        utility_name=utility.utility_name,
        api_base_url=base_url.rstrip("/"),
        initiated_at=now,
        updated_at=now,
    )
    request = AuthorizationRequest(
        state_hash=secret_hash(state),
        partner_id=partner.partner_id,
        session_id=session.session_id,
        authorization_id=authorization.authorization_id,
        utility_id=utility.utility_id,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        api_base_url=base_url.rstrip("/"),
        expires_at=now + STATE_LIFETIME,
    )
    updated = session.model_copy(update={"status": SessionStatus.UPDATED, "last_interaction_at": now})
    repo.start_authorization(updated, request, authorization)
    adapter = adapter_for(utility, base_url.rstrip("/"))
    return adapter.authorize_url(state=state, code_challenge=challenge, redirect_uri=redirect_uri)


def decline(
    partners: PartnerRepository,
    repo: ConnectRepository,
    *,
    account: str,
    session_id: str,
    cookie_session_id: str | None,
    form: dict[str, str],
    now: datetime,
) -> Partner:
    """The customer said no on our page: the session is CLOSED."""
    partner, session = _form_session(
        partners, repo, account, session_id, cookie_session_id, form.get("csrf_token"), now
    )
    repo.save_session(session.model_copy(update={"status": SessionStatus.CLOSED, "last_interaction_at": now}))
    return partner


def handle_callback(
    partners: PartnerRepository,
    repo: ConnectRepository,
    vault: TokenVault,
    *,
    params: dict[str, str],
    cookie_session_id: str | None,
    utilities: UtilityRegistry,
    adapter_for: AdapterFactory,
    now: datetime,
) -> CallbackOutcome:
    """The utility sent the customer back. Refusals (ConnectProblem) record nothing about the authorization."""
    state = params.get("state")
    if not state:
        raise _refused("The response from your utility was incomplete. Please start again from your link.")
    used = _refused("This authorization link was already used or is not valid. Please start again.")
    request = repo.get_request(secret_hash(state))
    if request is None:
        raise used
    if now >= request.expires_at:
        raise _refused("This authorization took too long and has expired. Please start again from your link.")
    if cookie_session_id is None or not hmac.compare_digest(cookie_session_id.encode(), request.session_id.encode()):
        # Refused before the state is spent: the customer's own browser can still come back with it.
        raise _refused("This authorization was started in another browser window. Please start again.")
    if repo.consume_request(secret_hash(state), now) is None:
        raise used  # a concurrent callback with the same state won the conditional write
    partner = partners.get_partner(request.partner_id)
    session = repo.get_session(request.partner_id, request.session_id)
    authorization = repo.get_authorization(request.partner_id, request.authorization_id)
    if (
        partner is None
        or session is None
        or authorization is None
        or authorization.status is not AuthorizationStatus.INITIATED
    ):
        raise _refused("This authorization is no longer pending. Please start again from your link.")
    utility = utilities.utility_by_id(request.utility_id)
    if utility is None:
        raise _refused("This utility is no longer available.")
    touched = session.model_copy(update={"last_interaction_at": now})
    error = params.get("error")
    code = params.get("code")
    if error:
        reason = FailureReason.DENIED if error == "access_denied" else FailureReason.UTILITY_ERROR
        detail = _detail(params.get("error_description") or error) or reason.value
        failed = repo.save_authorization(_failed(authorization, reason, detail, now), session=touched)
        return _counted(CallbackOutcome(partner, failed, "failed", _customer_message(reason)))
    if not code:
        raise _refused("The response from your utility was incomplete. Please start again from your link.")
    adapter = adapter_for(utility, request.api_base_url)
    try:
        tokens = adapter.exchange_code(
            code=code, code_verifier=request.code_verifier, redirect_uri=request.redirect_uri
        )
    except UtilityError as problem:
        failed = repo.save_authorization(
            _failed(authorization, FailureReason.UTILITY_ERROR, _detail(problem.reason), now), session=touched
        )
        return _counted(CallbackOutcome(partner, failed, "failed", _customer_message(FailureReason.UTILITY_ERROR)))
    sealed = vault.seal(tokens, token_context(authorization))
    completed = authorization.model_copy(
        update={
            "status": AuthorizationStatus.COMPLETED,
            "scope": tokens.scope,
            "expires_at": tokens.refresh_expires_at,
            "updated_at": now,
            "completed_at": now,
        }
    )
    saved = repo.save_authorization(
        completed, tokens=sealed, session=touched.model_copy(update={"status": SessionStatus.COMPLETED})
    )
    return _counted(CallbackOutcome(partner, saved, "completed", None))


def _counted(outcome: CallbackOutcome) -> CallbackOutcome:
    """The customer is back from the utility: count the session's outcome per utility (ConnectSessions)."""
    record_metric(CONNECT_SESSIONS, Outcome=outcome.outcome, Utility=outcome.authorization.utility_name.value)
    return outcome


def token_context(authorization: Authorization) -> dict[str, str]:
    """The KMS encryption context: a ciphertext opens only for the authorization it was made for."""
    return {"partner_id": authorization.partner_id, "authorization_id": authorization.authorization_id}


def _failed(authorization: Authorization, reason: FailureReason, detail: str, now: datetime) -> Authorization:
    return authorization.model_copy(
        update={
            "status": AuthorizationStatus.FAILED,
            "failure_reason": reason,
            "failure_detail": detail,
            "updated_at": now,
        }
    )


def _detail(text: str) -> str:
    """What a utility said, as short plain text: the callback's query string is anyone's to write, and the
    detail reaches the partner (Connect API) and maybe their pages. Markup and the angle brackets left over
    are removed, control and format characters become spaces, runs of spaces collapse, and the result is at
    most MAX_DETAIL_LENGTH characters (the input is cut first, so a huge value costs nothing)."""
    bounded = _MARKUP.sub(" ", text[: MAX_DETAIL_LENGTH * 4])
    cleaned = "".join(ch if ch.isprintable() and ch not in "<>" else " " for ch in bounded)
    return " ".join(cleaned.split())[:MAX_DETAIL_LENGTH]


def _customer_message(reason: FailureReason) -> str:
    if reason is FailureReason.DENIED:
        return "You chose not to share your data at your utility."
    return "Your utility could not complete the authorization."


def restart_link(base_url: str, partner: Partner, region: str, ref_id: str | None) -> str:
    """The Connect link again (same partner, region and refId): where "Try again" / "Start again" lead. It is
    the plain link: the browser's cookie resumes its session, an issued link's included."""
    query = {"account": partner.account, "transmissionRegion": region, **({"refId": ref_id} if ref_id else {})}
    return f"{base_url.rstrip('/')}/connect?{urlencode(query)}"


def issued_link_url(base_url: str, account: str, link: IssuedLink, token: str) -> str:
    """The URL of a partner-issued link: the plain link's shape (Leap's parameters) plus `linkToken`."""
    query = {
        "transmissionRegion": link.transmission_region.value,
        "refId": link.ref_id,
        **({"variant": link.variant.value} if link.variant is not Variant.RESIDENTIAL else {}),
        LINK_TOKEN_PARAMETER: token,
    }
    base = base_url.rstrip("/")
    if link.direct_utility_id:
        return f"{base}/connect/{account}/{link.direct_utility_id}/getting-started?{urlencode(query)}"
    return f"{base}/connect?{urlencode({'account': account, **query})}"


def final_redirect(partner: Partner, ref_id: str | None, outcome: str, utility: str | None) -> str | None:
    """The partner's configured URL with refId, outcome and utility added (its own query kept)."""
    if not partner.connect_redirect_url:
        return None
    parts = urlsplit(partner.connect_redirect_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in (("refId", ref_id), ("outcome", outcome), ("utility", utility)) if v]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
