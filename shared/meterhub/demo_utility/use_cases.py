"""The demo utility: a real OAuth 2 authorization server (code + PKCE S256) and Green Button resource server.

Why a real one rather than a stub: Connect, the callback and the sync reach utilities only through
`GreenButtonAdapter`; serving the same protocol from our own API (`/demo-utility`, non-production only)
lets tests, `make run` and staging drive the production adapter end to end, failure paths included.

The logic here is pure (no HTTP, no AWS): a `DemoStore` and the API's public base URL are injected, the
clock too. `functions/demo_utility/app.py` only translates requests and responses.

OAuth behaviour (RFC 6749, RFC 7636, RFC 7009):
  * The only client is `DEMO_CLIENT_ID`, a public client (no secret; a Basic header with any secret is
    accepted too, so a confidential-client adapter works as well). Its registered redirect URIs are the
    http(s) URLs on this API's own origin whose path ends with `/connect/callback` (http only on loopback).
  * An unknown client or an unacceptable redirect_uri is answered with an error PAGE, never a redirect: an
    authorization server must not send the browser to a URI it has not validated. Other request errors
    are redirected back with `error=...` (and the state), as §4.1.2.1 says.
  * The sign-in page accepts any username and password (the password is neither stored nor logged). The
    chosen scenario decides the outcome: `success` (a code), `decline` (`error=access_denied`),
    `utility_error` (`error=server_error`), `expired_code` (a code that is already expired, so the token
    exchange fails with invalid_grant), `no_address` (a code whose subscription shares usage data only: its
    UsagePoint feed carries no ServiceLocation, as the Green Button Alliance's sample feeds and utilities that
    leave customer data to a separate scope do, so Connect makes a meter that awaits its address). What a
    subscription shares is marked in its id (`USAGE_ONLY_PREFIX`), which every token of the grant carries.
  * Codes are single use and live 60 s; a replayed code also ends the grant it was exchanged for. Access
    tokens live 1 h, refresh tokens 30 days and are rotated on every refresh. Errors follow §5.2
    (JSON 400 `{"error", "error_description"}`; 401 `invalid_client`).

Customer data is deterministic, seeded by the username: one service point, two when the username contains
"two"; a New York address when the username has a word "ny"/"nyc"/"newyork" (else California); a
commercial account when it contains "commercial" or "business". Interval data is 15-minute consumption in
Wh (uom 72): a residential shape (low at night, morning and evening peaks) or a business-hours plateau,
with deterministic noise per usage point and interval; 400 days of history (the 13 months a first utility sync
fetches for program baselines, and a margin), at most 31 days per request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from meterhub.demo_utility.api_models import DemoAuthorizeView
from meterhub.demo_utility.ports import DemoStore
from meterhub.demo_utility.records import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    CodeRecord,
    TokenRecord,
)
from meterhub.demo_utility.rules.feeds import interval_block_feed, usage_points_feed
from meterhub.platform.hashing import secret_hash
from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint
from meterhub.utility_providers.records.registry import DEMO_CLIENT_ID, DEMO_PATH_PREFIX, DEMO_UTILITY
from meterhub.utility_providers.rules import pkce

CALLBACK_SUFFIX = "/connect/callback"
CLIENT_NAME = "meterhub Connect (demo client)"
SCOPES_DESCRIPTION = (
    "your service addresses, account and meter numbers, and 15-minute electricity usage for the last 13 months."
)
DEMO_TIPS = (
    "Include 'two' in the username for two service points, 'ny' for a New York address, "
    "'commercial' for a business account."
)
SCENARIO_SUCCESS = "success"
SCENARIO_DECLINE = "decline"
SCENARIO_UTILITY_ERROR = "utility_error"
SCENARIO_EXPIRED_CODE = "expired_code"
SCENARIO_NO_ADDRESS = "no_address"
SCENARIOS: tuple[tuple[str, str], ...] = (
    (SCENARIO_SUCCESS, "Sign in and approve sharing"),
    (SCENARIO_DECLINE, "Decline sharing (access_denied)"),
    (SCENARIO_UTILITY_ERROR, "Simulate a utility error (server_error)"),
    (SCENARIO_EXPIRED_CODE, "Approve, but the code expires before it is used"),
    (SCENARIO_NO_ADDRESS, "Approve usage data only: the feed carries no service address"),
)
USAGE_ONLY_PREFIX = "usage-only-"
"""Marks a subscription that shares usage data without customer resources (the no_address scenario)."""
INTERVAL_SECONDS = 900
HISTORY_DAYS = 400
MAX_REQUEST_DAYS = 31
DEFAULT_REQUEST = timedelta(days=1)
RESOURCE_PATH = f"{DEMO_PATH_PREFIX}/espi/1_1/resource"
_MAX_PARAM = 2048
_MAX_USERNAME = 100
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_OAUTH_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# ----- results -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthError:
    """An authorize-endpoint failure: shown as a page, or, when `redirect_to` is set, sent to the client."""

    error: str
    description: str
    status: int = 400
    redirect_to: str | None = None


@dataclass(frozen=True)
class JsonResult:
    """A token or revocation endpoint answer (JSON body, no-store headers)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: dict(_NO_STORE))


class ResourceError(Exception):
    """A resource-server refusal: status, RFC 6750 error code (may be empty) and a safe description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    @property
    def www_authenticate(self) -> str | None:
        if self.status != 401:
            return None
        if not self.error:
            return 'Bearer realm="demo-utility"'
        return f'Bearer realm="demo-utility", error="{self.error}", error_description="{self.description}"'


def _oauth_json(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> JsonResult:
    return JsonResult(status, {"error": error, "error_description": description}, {**_NO_STORE, **(headers or {})})


# ----- the customer's data ---------------------------------------------------------------------------------------

_CA_PLACES = (
    ("San Francisco", "94110"),
    ("Oakland", "94610"),
    ("San Jose", "95126"),
    ("Sacramento", "95818"),
    ("Fresno", "93704"),
    ("Los Angeles", "90042"),
    ("San Diego", "92116"),
)
_NY_PLACES = (
    ("New York", "10025"),
    ("Brooklyn", "11215"),
    ("Astoria", "11105"),
    ("Bronx", "10463"),
    ("Hempstead", "11550"),
    ("Huntington", "11743"),
)
_STREETS = (
    "Oak Street",
    "Maple Avenue",
    "Cedar Lane",
    "Park Avenue",
    "Lincoln Street",
    "Hillside Drive",
    "Main Street",
)


@dataclass(frozen=True)
class _Customer:
    points: tuple[ServicePoint, ...]
    utc_offset_hours: int  # standard time of the region, for the load shape


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


def _number(seed: bytes, start: int, modulo: int) -> int:
    return int.from_bytes(seed[start : start + 6], "big") % modulo


def customer_for(username: str) -> tuple[ServicePoint, ...]:
    """The username's service points (deterministic)."""
    return _customer(username).points


def _customer(username: str) -> _Customer:
    lowered = username.strip().lower()
    words = set(re.split(r"[^a-z0-9]+", lowered))
    new_york = bool(words & {"ny", "nyc", "newyork", "nyiso"})
    commercial = "commercial" in lowered or "business" in lowered
    count = 2 if "two" in lowered else 1
    places = _NY_PLACES if new_york else _CA_PLACES
    state = "NY" if new_york else "CA"
    tariffs = {(True, True): "SC9", (True, False): "SC1", (False, True): "B-10", (False, False): "E-TOU-C"}
    tariff = tariffs[(new_york, commercial)]
    points = []
    for index in range(count):
        seed = _digest(lowered, str(index))
        city, postal_code = places[_number(seed, 0, len(places))]
        street = f"{100 + _number(seed, 6, 9800)} {_STREETS[_number(seed, 12, len(_STREETS))]}"
        points.append(
            ServicePoint(
                usage_point_id=f"{_number(seed, 18, 10**10):010d}",
                address=ServiceAddress(
                    street_1=street,
                    street_2=f"Unit {1 + _number(seed, 24, 40)}" if index == 1 and not commercial else None,
                    city=city,
                    state_or_province_code=state,
                    postal_code=postal_code,
                ),
                customer_classification="COMMERCIAL" if commercial else "RESIDENTIAL",
                account_number=f"{_number(seed, 2, 10**10):010d}-{1 + index}",
                meter_serial_number=f"DM{_number(seed, 8, 10**8):08d}",
                tariff=tariff,
                customer_name="Demo Business Inc." if commercial else "Demo Customer",
                # One customer account on the bill, a service agreement per metered point under it.
                bill_customer_account_number=f"{_number(_digest(lowered), 0, 10**10):010d}",
                bill_service_agreement_number=f"SA{_number(seed, 26, 10**10):010d}",
            )
        )
    return _Customer(tuple(points), -5 if new_york else -8)


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def interval_wh(point: ServicePoint, start_epoch: int, utc_offset_hours: int) -> int:
    """Energy (Wh) of the 15-minute interval starting at `start_epoch`: a plausible shape, deterministic."""
    local = start_epoch + utc_offset_hours * 3600
    hour = (local % 86400) / 3600 + 0.125  # mid-interval
    weekday = (local // 86400 + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    scale = 0.8 + 0.5 * _number(_digest(point.usage_point_id), 0, 1000) / 1000
    if point.customer_classification == "COMMERCIAL":
        open_hours = 1 / (1 + math.exp(-(hour - 7.5) * 2)) * 1 / (1 + math.exp((hour - 18.5) * 2))
        kw = 2.5 + (9.0 if weekday < 5 else 2.0) * open_hours
    else:
        weekend = 1.15 if weekday >= 5 else 1.0
        kw = 0.35 + 0.9 * _bump(hour, 7.3, 1.1) + 0.3 * _bump(hour, 13.5, 2.5) + 1.7 * _bump(hour, 19.2, 1.8)
        kw *= weekend
    noise = 0.85 + 0.3 * _number(_digest(point.usage_point_id, str(start_epoch)), 0, 10_000) / 10_000
    return max(1, round(kw * scale * noise * 1000 * INTERVAL_SECONDS / 3600))


def _parse_time(value: str | None) -> datetime | None:
    """`published-min`/`published-max`: unix seconds or ESPI xs:dateTime (UTC when no offset)."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.isdigit() and len(text) <= 12:
        return datetime.fromtimestamp(int(text), UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ResourceError(400, "invalid_request", "published-min/published-max must be dates") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ----- the server ------------------------------------------------------------------------------------------------


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    separator = "&" if parts.query else "?"
    return f"{uri}{separator}{urlencode(params)}"


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or bool(host and host.startswith("127."))


class DemoUtility:
    """The demo utility's endpoints as functions; `base_url` is the API's public base URL."""

    def __init__(self, store: DemoStore, *, base_url: str, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._base = base_url.rstrip("/")
        self._clock = clock or (lambda: datetime.now(UTC))

    # ----- URLs -----------------------------------------------------------------------------------------------

    @property
    def authorize_endpoint(self) -> str:
        return f"{self._base}{DEMO_PATH_PREFIX}/oauth/authorize"

    def subscription_url(self, subscription_id: str) -> str:
        return f"{self._base}{RESOURCE_PATH}/Subscription/{subscription_id}"

    def authorization_url(self, subscription_id: str) -> str:
        return f"{self._base}{RESOURCE_PATH}/Authorization/{subscription_id}"

    def _acceptable_redirect(self, redirect_uri: str) -> bool:
        if not redirect_uri or len(redirect_uri) > _MAX_PARAM or any(ord(ch) <= 0x20 for ch in redirect_uri):
            return False
        try:
            parts, own = urlsplit(redirect_uri), urlsplit(self._base)
            port, own_port = parts.port, own.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment or "\\" in redirect_uri:
            return False
        if parts.username is not None or parts.password is not None:
            return False
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            return False
        same_origin = (parts.scheme, parts.hostname, port) == (own.scheme, own.hostname, own_port)
        return same_origin and parts.path.endswith(CALLBACK_SUFFIX)

    # ----- authorize --------------------------------------------------------------------------------------------

    def _validated(self, params: Mapping[str, str]) -> dict[str, str] | OAuthError:
        """The OAuth parameters of an authorize request, or why it is refused (a page or a redirect)."""
        if any(len(params.get(name, "")) > _MAX_PARAM for name in _OAUTH_PARAMS):
            return OAuthError("invalid_request", "A request parameter is too long.")
        if params.get("client_id") != DEMO_CLIENT_ID:
            return OAuthError("unauthorized_client", "This application is not registered with the Demo Utility.")
        redirect_uri = params.get("redirect_uri", "")
        if not self._acceptable_redirect(redirect_uri):
            return OAuthError("invalid_request", "The application's redirect address is not registered.")
        state = params.get("state", "")

        def back(error: str, description: str) -> OAuthError:
            query = {"error": error, "error_description": description, **({"state": state} if state else {})}
            return OAuthError(error, description, status=303, redirect_to=_with_query(redirect_uri, query))

        if params.get("response_type") != "code":
            return back("unsupported_response_type", "Only response_type=code is supported")
        if not state:
            return back("invalid_request", "state is required")
        if params.get("code_challenge_method") != "S256" or not pkce.is_valid_challenge(
            params.get("code_challenge", "")
        ):
            return back("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
        return {
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": params.get("scope") or DEMO_UTILITY.scope,
            "state": state,
            "code_challenge": params["code_challenge"],
            "code_challenge_method": "S256",
        }

    def authorize_form(self, params: Mapping[str, str]) -> DemoAuthorizeView | OAuthError:
        """GET /oauth/authorize: the sign-in page's view, or the refusal."""
        validated = self._validated(params)
        if isinstance(validated, OAuthError):
            return validated
        return DemoAuthorizeView(
            action_url=self.authorize_endpoint,
            hidden_fields=tuple((name, validated[name]) for name in _OAUTH_PARAMS),
            client_name=CLIENT_NAME,
            scopes_description=SCOPES_DESCRIPTION,
            scenarios=SCENARIOS,
            tips=DEMO_TIPS,
        )

    def authorize_submit(self, form: Mapping[str, str]) -> str | OAuthError:
        """POST /oauth/authorize (the sign-in form): where to send the browser, or the refusal.

        The hidden OAuth fields are validated again: the form can be forged as easily as the first request.
        """
        validated = self._validated(form)
        if isinstance(validated, OAuthError):
            return validated
        redirect_uri, state = validated["redirect_uri"], validated["state"]
        scenario = form.get("scenario", SCENARIO_SUCCESS)
        if scenario == SCENARIO_DECLINE:
            return _with_query(
                redirect_uri,
                {"error": "access_denied", "error_description": "The customer declined to share", "state": state},
            )
        if scenario == SCENARIO_UTILITY_ERROR:
            return _with_query(
                redirect_uri,
                {
                    "error": "server_error",
                    "error_description": "The Demo Utility could not complete the sign-in",
                    "state": state,
                },
            )
        if scenario not in (SCENARIO_SUCCESS, SCENARIO_EXPIRED_CODE, SCENARIO_NO_ADDRESS):
            return OAuthError("invalid_request", "Please choose one of the listed scenarios.")
        username = form.get("username", "").strip()[:_MAX_USERNAME] or "demo"
        now = self._clock()
        expires_at = now - timedelta(seconds=1) if scenario == SCENARIO_EXPIRED_CODE else now + CODE_LIFETIME
        code = secrets.token_urlsafe(32)
        self._store.put_code(
            secret_hash(code),
            CodeRecord(
                client_id=DEMO_CLIENT_ID,
                redirect_uri=redirect_uri,
                code_challenge=validated["code_challenge"],
                scope=validated["scope"],
                username=username,
                subscription_id=(USAGE_ONLY_PREFIX if scenario == SCENARIO_NO_ADDRESS else "") + secrets.token_hex(8),
                expires_at=expires_at,
            ),
        )
        return _with_query(redirect_uri, {"code": code, "state": state})

    # ----- token, revoke -------------------------------------------------------------------------------------

    def _client(self, form: Mapping[str, str], authorization: str | None) -> str | JsonResult:
        """The authenticated client id, or the invalid_client / invalid_request answer."""
        client_id = form.get("client_id")
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return _oauth_json(401, "invalid_client", "Malformed Basic credentials", _BASIC)
            header_id = unquote_plus(decoded.partition(":")[0])
            if client_id is not None and client_id != header_id:
                return _oauth_json(400, "invalid_request", "client_id differs between header and body")
            client_id = header_id
        if client_id != DEMO_CLIENT_ID:
            return _oauth_json(401, "invalid_client", "Unknown client", _BASIC)
        return client_id

    def token(self, form: Mapping[str, str], *, authorization: str | None = None) -> JsonResult:
        """POST /oauth/token (form fields; `authorization`: the Authorization header, if any)."""
        client = self._client(form, authorization)
        if isinstance(client, JsonResult):
            return client
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(form, client)
        if grant_type == "refresh_token":
            return self._refresh(form, client)
        if not grant_type:
            return _oauth_json(400, "invalid_request", "grant_type is required")
        return _oauth_json(400, "unsupported_grant_type", "Only authorization_code and refresh_token are supported")

    def _exchange(self, form: Mapping[str, str], client_id: str) -> JsonResult:
        code, redirect_uri, verifier = form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
        if not code or not redirect_uri or not verifier:
            return _oauth_json(400, "invalid_request", "code, redirect_uri and code_verifier are required")
        code_hash = secret_hash(code)
        record = self._store.redeem_code(code_hash)
        if record is None:
            return _oauth_json(400, "invalid_grant", "Unknown authorization code")
        if record.used:
            if record.issued_refresh_hash:
                self._end_grant(refresh_hash=record.issued_refresh_hash)
            return _oauth_json(400, "invalid_grant", "The authorization code was already used")
        if record.expires_at <= self._clock():
            return _oauth_json(400, "invalid_grant", "The authorization code has expired")
        if record.client_id != client_id:
            return _oauth_json(400, "invalid_grant", "The authorization code was issued to another client")
        if record.redirect_uri != redirect_uri:
            return _oauth_json(400, "invalid_grant", "redirect_uri does not match the authorization request")
        if not pkce.verify(verifier, record.code_challenge):
            return _oauth_json(400, "invalid_grant", "PKCE verification failed")
        result, refresh_hash = self._issue(client_id, record.scope, record.username, record.subscription_id)
        self._store.note_issued(code_hash, refresh_hash)
        return result

    def _refresh(self, form: Mapping[str, str], client_id: str) -> JsonResult:
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            return _oauth_json(400, "invalid_request", "refresh_token is required")
        record = self._store.take_refresh_token(secret_hash(refresh_token))
        if record is None:
            return _oauth_json(400, "invalid_grant", "Unknown, used or revoked refresh token")
        self._store.delete_access_token(record.sibling)
        if record.expires_at <= self._clock():
            return _oauth_json(400, "invalid_grant", "The refresh token has expired")
        if record.client_id != client_id:
            return _oauth_json(400, "invalid_grant", "The refresh token was issued to another client")
        result, _ = self._issue(client_id, record.scope, record.username, record.subscription_id)
        return result

    def _issue(self, client_id: str, scope: str, username: str, subscription_id: str) -> tuple[JsonResult, str]:
        now = self._clock()
        access_token, refresh_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        access_hash, refresh_hash = secret_hash(access_token), secret_hash(refresh_token)
        grant = {"client_id": client_id, "scope": scope, "username": username, "subscription_id": subscription_id}
        self._store.put_tokens(
            access_hash,
            TokenRecord(**grant, expires_at=now + ACCESS_TOKEN_LIFETIME, sibling=refresh_hash),
            refresh_hash,
            TokenRecord(**grant, expires_at=now + REFRESH_TOKEN_LIFETIME, sibling=access_hash),
        )
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "refresh_token": refresh_token,
            "refresh_token_expires_in": int(REFRESH_TOKEN_LIFETIME.total_seconds()),
            "scope": scope,
            "resourceURI": self.subscription_url(subscription_id),
            "authorizationURI": self.authorization_url(subscription_id),
        }
        return JsonResult(200, body), refresh_hash

    def _end_grant(self, *, refresh_hash: str | None = None, access_hash: str | None = None) -> bool:
        """Delete a token pair given either token's hash; whether anything was found."""
        found = False
        if refresh_hash is not None:
            record = self._store.take_refresh_token(refresh_hash)
            if record is not None:
                self._store.delete_access_token(record.sibling)
                found = True
        if access_hash is not None:
            access = self._store.access_token(access_hash)
            if access is not None:
                self._store.delete_access_token(access_hash)
                self._store.delete_refresh_token(access.sibling)
                found = True
        return found

    def revoke(self, form: Mapping[str, str], *, authorization: str | None = None) -> JsonResult:
        """POST /oauth/revoke (RFC 7009): ends the grant of the token, access or refresh; 200 even when unknown."""
        client = self._client(form, authorization)
        if isinstance(client, JsonResult):
            return client
        token = form.get("token")
        if not token:
            return _oauth_json(400, "invalid_request", "token is required")
        token_hash = secret_hash(token)  # token_type_hint is optional (RFC 7009 §2.1): both kinds are looked up
        owner = self._store.refresh_token(token_hash) or self._store.access_token(token_hash)
        if owner is not None and owner.client_id == client:
            self._end_grant(refresh_hash=token_hash, access_hash=token_hash)
        return JsonResult(200, {})

    # ----- resources ---------------------------------------------------------------------------------------------

    def _grant(self, authorization: str | None, subscription_id: str) -> TokenRecord:
        if not authorization or authorization[:7].lower() != "bearer ":
            raise ResourceError(401, "", "A bearer access token is required")
        record = self._store.access_token(secret_hash(authorization[7:].strip()))
        if record is None or record.expires_at <= self._clock():
            raise ResourceError(401, "invalid_token", "The access token is unknown, expired or revoked")
        if not _ID.match(subscription_id) or record.subscription_id != subscription_id:
            raise ResourceError(403, "insufficient_scope", "The access token does not cover this subscription")
        return record

    def usage_points(self, authorization: str | None, subscription_id: str) -> bytes:
        """GET …/Subscription/{id}/UsagePoint: the customer's usage points feed (ESPI Atom)."""
        grant = self._grant(authorization, subscription_id)
        points = list(customer_for(grant.username))
        if subscription_id.startswith(USAGE_ONLY_PREFIX):
            points = [replace(point, address=None) for point in points]
        return usage_points_feed(points, self.subscription_url(subscription_id), updated=self._clock())

    def interval_blocks(
        self,
        authorization: str | None,
        subscription_id: str,
        usage_point_id: str,
        published_min: str | None,
        published_max: str | None,
    ) -> bytes:
        """GET …/UsagePoint/{id}/MeterReading/01/IntervalBlock: readings whose start lies in [min, max)."""
        grant = self._grant(authorization, subscription_id)
        customer = _customer(grant.username)
        point = next((p for p in customer.points if p.usage_point_id == usage_point_id), None)
        if point is None:
            raise ResourceError(404, "", "No such usage point in this subscription")
        now = self._clock()
        latest = int(now.timestamp()) // INTERVAL_SECONDS * INTERVAL_SECONDS  # last complete interval ends here
        earliest = (int(now.timestamp()) // 86400 - HISTORY_DAYS) * 86400
        until = _parse_time(published_max) or datetime.fromtimestamp(latest, UTC)
        since = _parse_time(published_min) or until - DEFAULT_REQUEST
        if until <= since:
            raise ResourceError(400, "invalid_request", "published-max must be after published-min")
        if until - since > timedelta(days=MAX_REQUEST_DAYS):
            raise ResourceError(400, "invalid_request", f"At most {MAX_REQUEST_DAYS} days per request")
        first = max(earliest, math.ceil(since.timestamp() / INTERVAL_SECONDS) * INTERVAL_SECONDS)
        stop = min(latest, math.ceil(until.timestamp()))
        readings = [
            IntervalReading(
                start=datetime.fromtimestamp(start, UTC),
                duration_seconds=INTERVAL_SECONDS,
                consumed_kwh=interval_wh(point, start, customer.utc_offset_hours) / 1000,
            )
            for start in range(first, stop, INTERVAL_SECONDS)
            if start + INTERVAL_SECONDS <= latest
        ]
        return interval_block_feed(
            usage_point_id, readings, base_url=self.subscription_url(subscription_id), updated=now
        )


_BASIC = {"WWW-Authenticate": 'Basic realm="demo-utility"'}
