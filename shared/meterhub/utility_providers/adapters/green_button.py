"""`GreenButtonAdapter`: the UtilityAdapter for any Green Button Connect My Data utility (and the demo one).

Why these choices:
  * HTTP goes through a tiny injectable port (`HttpClient`), implemented with urllib3 (a botocore dependency,
    so always present in Lambda, unlike `requests`): a 10 s timeout, no retries (the sync decides when to try
    again) and no redirects followed (a redirect could carry our bearer token to another host).
  * Every endpoint must be https, except on loopback hosts (the local runner and tests): tokens never travel
    in clear text over a network.
  * SSRF guard: the token endpoint tells us where the customer's data lives (`resourceURI`) and where the
    authorization resource is (`authorizationURI`). Both must lie under the utility's configured resource
    server (same scheme, host and port, under its path prefix, no userinfo, query, fragment or dot segments);
    otherwise the token response is refused. A compromised or confused token endpoint therefore cannot make
    us send the customer's access token, or requests at all, to an arbitrary host (cloud metadata, internal
    services). The check is repeated before each data request, since tokens come back from storage.
  * Client authentication: HTTP Basic with client_id/secret when we have a secret (RFC 6749 §2.3.1), else
    client_id in the body (a public client, protected by PKCE).
  * Errors: `invalid_grant` and other OAuth errors are not retryable; 429/5xx and network failures are. A
    refused refresh token raises `AuthorizationRevoked`; a refused access token raises `AccessTokenRejected`
    (retryable: refresh, then try again; if the refresh is refused too, the authorization is gone).
  * Nothing here logs a token, a code, a verifier or a secret; URLs with query strings are not logged either.

Interval data path (ESPI REST, per subscription):
  GET {resourceURI}/UsagePoint/{usage_point_id}/MeterReading/{meter_reading_id}/IntervalBlock
      ?published-min=YYYY-MM-DDThh:mm:ssZ&published-max=YYYY-MM-DDThh:mm:ssZ
with `meter_reading_id` from the utility's config ("01" by default), the times in ESPI's xs:dateTime form
(UTC), and at most 31 days per request (longer ranges are split). When the blocks arrive without their
ReadingType, it is fetched once through `{…}/MeterReading/{meter_reading_id}`'s `related` link.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, quote_plus, unquote, urlencode, urlsplit

from meterhub.platform.observability import logger
from meterhub.utility_providers.records.errors import AccessTokenRejected, AuthorizationRevoked, UtilityError
from meterhub.utility_providers.records.readings import IntervalReading, ServicePoint, TokenSet
from meterhub.utility_providers.rules.greenbutton import (
    MAX_DOCUMENT_BYTES,
    MissingReadingType,
    ReadingType,
    parse_interval_blocks,
    parse_reading_type,
    parse_usage_points,
    reading_type_links,
)

if TYPE_CHECKING:
    import urllib3

    from meterhub.utility_providers.records.registry import UtilityConfig

REQUEST_TIMEOUT_SECONDS = 10.0
MAX_WINDOW = timedelta(days=31)
DEFAULT_EXPIRES_IN = 3600  # when a token response omits expires_in (RFC 6749 only recommends it)
_MAX_EXPIRES_IN = 10 * 365 * 86400
_LOOPBACK_NAMES = frozenset({"localhost"})
_FORM = "application/x-www-form-urlencoded"
_ATOM = "application/atom+xml"


# ----- the HTTP port -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class HttpTransportError(Exception):
    """No HTTP answer: connection refused, timeout, TLS failure. The message names the failure's kind only."""


class ResponseTooLarge(HttpTransportError):
    """The answer exceeded the size we are willing to read."""


class HttpClient(Protocol):
    """Send one request and return the answer as it is: no retries, no redirects followed."""

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> HttpResponse: ...


class Urllib3HttpClient:
    """The production `HttpClient`. The pool is created on first use (cold starts stay short)."""

    def __init__(
        self, *, timeout_seconds: float = REQUEST_TIMEOUT_SECONDS, max_body_bytes: int = MAX_DOCUMENT_BYTES
    ) -> None:
        self._timeout_seconds = timeout_seconds
        self._max_body_bytes = max_body_bytes
        self._pool: urllib3.PoolManager | None = None

    def _manager(self) -> urllib3.PoolManager:
        if self._pool is None:
            import urllib3

            self._pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=self._timeout_seconds))
        return self._pool

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None) -> HttpResponse:
        import urllib3

        try:
            response = self._manager().request(
                method, url, headers=dict(headers), body=body, redirect=False, retries=False, preload_content=False
            )
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.stream(64 * 1024):
                    size += len(chunk)
                    if size > self._max_body_bytes:
                        raise ResponseTooLarge("response too large")
                    chunks.append(chunk)
            except BaseException:
                response.close()  # never hand a half-read connection back to the pool
                raise
            response.release_conn()
            answer = HttpResponse(
                status=response.status,
                headers={name.lower(): value for name, value in response.headers.items()},
                body=b"".join(chunks),
            )
        except urllib3.exceptions.HTTPError as error:
            raise HttpTransportError(type(error).__name__) from None
        return answer


_default_http: Urllib3HttpClient | None = None


def default_http_client() -> HttpClient:
    """One pool per execution environment, reused across invocations."""
    global _default_http
    if _default_http is None:
        _default_http = Urllib3HttpClient()
    return _default_http


# ----- URL rules -----------------------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def absolute_endpoint(url: str, base_url: str) -> str:
    """A config URL made absolute: relative ones (the demo's) are joined under `base_url`, which may carry a
    path (an API Gateway stage); absolute ones are used as they are. https is required except on loopback."""
    parts = urlsplit(url)
    if parts.scheme:
        absolute = url
    elif url.startswith("/") and not url.startswith("//"):
        absolute = base_url.rstrip("/") + url
    else:
        raise ValueError("a utility endpoint must be an absolute URL or a path starting with /")
    checked = urlsplit(absolute)
    if checked.scheme not in ("http", "https") or not checked.hostname:
        raise ValueError("a utility endpoint must be an http(s) URL with a host")
    if checked.scheme == "http" and not _is_loopback(checked.hostname):
        raise ValueError("a utility endpoint must use https (http only on loopback)")
    if checked.username or checked.password or checked.fragment:
        raise ValueError("a utility endpoint must not carry credentials or a fragment")
    return absolute


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def is_under(url: str, base: str) -> bool:
    """Whether `url` lies under `base`: same scheme, host and port, path inside base's path (segment-wise),
    and nothing that could make two parsers disagree (userinfo, query, fragment, dot segments, encoded
    slashes or dots, backslashes, whitespace or control characters)."""
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url) or "\\" in url:
        return False
    try:
        parts, root = urlsplit(url), urlsplit(base)
        port, root_port = parts.port, root.port
    except ValueError:
        return False
    if parts.scheme.lower() != root.scheme.lower() or not parts.hostname or parts.hostname != root.hostname:
        return False
    if (port or _default_port(parts.scheme.lower())) != (root_port or _default_port(root.scheme.lower())):
        return False
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return False
    if "?" in url or "#" in url:
        return False
    lowered = parts.path.lower()
    if any(encoded in lowered for encoded in ("%2f", "%5c", "%2e", "%00")):
        return False
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        return False
    prefix = root.path.rstrip("/")
    return parts.path == prefix or parts.path.startswith(prefix + "/")


def _safe_error_code(value: Any) -> str:
    """An OAuth error code fit to put in a reason (RFC 6749 codes are short and lower_snake)."""
    if isinstance(value, str) and 0 < len(value) <= 40 and all(ch.isalnum() or ch == "_" for ch in value):
        return value
    return "error"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("interval bounds must be timezone-aware")
    return moment.astimezone(UTC)


def _espi_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----- the adapter ---------------------------------------------------------------------------------------------


class GreenButtonAdapter:
    """UtilityAdapter over OAuth 2 (authorization code + PKCE S256) and the ESPI REST resources."""

    def __init__(
        self,
        config: UtilityConfig,
        base_url: str,
        *,
        client_secret: str | None,
        http: HttpClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._client_secret = client_secret
        self._http = http
        self._clock = clock
        self._authorize_endpoint = absolute_endpoint(config.authorize_url, base_url)
        self._token_endpoint = absolute_endpoint(config.token_url, base_url)
        self._revoke_endpoint = absolute_endpoint(config.revoke_url, base_url) if config.revoke_url else None
        self._resource_base = absolute_endpoint(config.resource_base_url, base_url).rstrip("/")

    @property
    def resource_base(self) -> str:
        return self._resource_base

    # ----- OAuth -------------------------------------------------------------------------------------------

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self._config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self._config.scope,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        separator = "&" if urlsplit(self._authorize_endpoint).query else "?"
        return f"{self._authorize_endpoint}{separator}{urlencode(params, quote_via=quote)}"

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        payload = self._token_call(form, refused=UtilityError)
        return self._token_set(payload, previous=None)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise AuthorizationRevoked("The utility gave no refresh token: the customer must authorize again")
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        payload = self._token_call(form, refused=AuthorizationRevoked)
        return self._token_set(payload, previous=tokens)

    def revoke(self, tokens: TokenSet) -> None:
        if self._revoke_endpoint is None:
            raise UtilityError(
                "This utility offers no revocation endpoint: the customer must end the authorization at the utility"
            )
        token, hint = (
            (tokens.refresh_token, "refresh_token") if tokens.refresh_token else (tokens.access_token, "access_token")
        )
        headers, form = self._client_auth({"token": token, "token_type_hint": hint})
        response = self._send("POST", self._revoke_endpoint, headers, urlencode(form).encode("ascii"), "revocation")
        if response.status == 200:
            return
        self._raise_for_oauth_error(response, "revocation", refused=UtilityError)

    # ----- resources ---------------------------------------------------------------------------------------

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        url = f"{self._subscription(tokens)}/UsagePoint"
        return parse_usage_points(self._get_resource(tokens, url))

    def interval_data(
        self, tokens: TokenSet, usage_point_id: str, start: datetime, end: datetime
    ) -> list[IntervalReading]:
        begin, finish = _utc(start), _utc(end)
        if finish <= begin:
            return []
        if not usage_point_id or len(usage_point_id) > 256 or usage_point_id in (".", "..") or "/" in usage_point_id:
            raise UtilityError("The usage point identifier is not valid")
        point = f"{self._subscription(tokens)}/UsagePoint/{quote(usage_point_id, safe='')}"
        meter_reading = f"{point}/MeterReading/{quote(self._config.meter_reading_id, safe='')}"
        reading_type: ReadingType | None = None
        seen: set[tuple[datetime, int, bool]] = set()
        readings: list[IntervalReading] = []
        window_start = begin
        while window_start < finish:
            window_end = min(window_start + MAX_WINDOW, finish)
            query = urlencode(
                {"published-min": _espi_time(window_start), "published-max": _espi_time(window_end)}, quote_via=quote
            )
            document = self._get_resource(tokens, f"{meter_reading}/IntervalBlock?{query}")
            try:
                window = parse_interval_blocks(document, reading_type=reading_type)
            except MissingReadingType:
                reading_type = self._reading_type(tokens, meter_reading)
                window = parse_interval_blocks(document, reading_type=reading_type)
            for reading in window:
                key = (reading.start, reading.duration_seconds, reading.consumed_kwh is None)
                if begin <= reading.start < finish and key not in seen:
                    seen.add(key)
                    readings.append(reading)
            window_start = window_end
        readings.sort(key=lambda r: (r.start, r.consumed_kwh is None, r.duration_seconds))
        return readings

    # ----- internals ---------------------------------------------------------------------------------------

    def _reading_type(self, tokens: TokenSet, meter_reading: str) -> ReadingType:
        for href in reading_type_links(self._get_resource(tokens, meter_reading)):
            if is_under(href, self._resource_base):
                return parse_reading_type(self._get_resource(tokens, href))
        raise UtilityError("The utility's interval data does not say its unit (no ReadingType)")

    def _subscription(self, tokens: TokenSet) -> str:
        if not tokens.resource_uri:
            raise UtilityError("The utility did not say where the customer's data is (no resourceURI)")
        if not is_under(tokens.resource_uri, self._resource_base):
            raise UtilityError("The utility's resourceURI lies outside its resource server")
        return tokens.resource_uri.rstrip("/")

    def _client_auth(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        headers = {"Content-Type": _FORM, "Accept": "application/json"}
        if self._client_secret:
            pair = f"{quote_plus(self._config.client_id)}:{quote_plus(self._client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
            return headers, form
        return headers, {**form, "client_id": self._config.client_id}

    def _send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, what: str) -> HttpResponse:
        try:
            return self._http.request(method, url, headers=headers, body=body)
        except ResponseTooLarge:
            raise UtilityError(f"The utility's {what} response is too large") from None
        except HttpTransportError as error:
            logger.warning(
                "Utility unreachable",
                extra={"utility_id": self._config.utility_id, "call": what, "failure": str(error)},
            )
            raise UtilityError(f"The utility's {what} endpoint could not be reached", retryable=True) from None

    def _token_call(self, form: dict[str, str], *, refused: type[UtilityError]) -> dict[str, Any]:
        headers, body = self._client_auth(form)
        response = self._send("POST", self._token_endpoint, headers, urlencode(body).encode("ascii"), "token")
        if response.status != 200:
            self._raise_for_oauth_error(response, "token", refused=refused)
        try:
            payload = json.loads(response.body)
        except ValueError:
            raise UtilityError("The utility's token response is not JSON") from None
        if not isinstance(payload, dict):
            raise UtilityError("The utility's token response is not a JSON object")
        return payload

    def _raise_for_oauth_error(self, response: HttpResponse, what: str, *, refused: type[UtilityError]) -> None:
        status = response.status
        logger.info(
            "Utility refused a call", extra={"utility_id": self._config.utility_id, "call": what, "status": status}
        )
        if status == 429 or status >= 500:
            raise UtilityError(f"The utility's {what} endpoint answered {status}", retryable=True)
        if 300 <= status < 400:
            raise UtilityError(f"The utility's {what} endpoint answered with a redirect, which is not followed")
        code = "error"
        try:
            payload = json.loads(response.body)
            if isinstance(payload, dict):
                code = _safe_error_code(payload.get("error"))
        except ValueError:
            code = "error"
        if code == "invalid_grant":
            raise refused(f"The utility refused the grant ({code})")
        raise UtilityError(f"The utility's {what} endpoint refused the request ({code}, HTTP {status})")

    def _token_set(self, payload: Mapping[str, Any], *, previous: TokenSet | None) -> TokenSet:
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise UtilityError("The utility's token response has no access_token")
        token_type = payload.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise UtilityError("The utility issued a token type other than Bearer")
        expires_in = payload.get("expires_in", DEFAULT_EXPIRES_IN)
        try:
            seconds = max(0, min(int(expires_in), _MAX_EXPIRES_IN))
        except (TypeError, ValueError):
            raise UtilityError("The utility's token response has an invalid expires_in") from None
        scope = payload.get("scope")
        refresh_token = payload.get("refresh_token")
        refresh_expires_in = payload.get("refresh_token_expires_in")
        try:
            refresh_expires_at = (
                self._clock() + timedelta(seconds=max(0, int(refresh_expires_in)))
                if refresh_expires_in is not None
                else (previous.refresh_expires_at if previous else None)
            )
        except (TypeError, ValueError, OverflowError):
            raise UtilityError("The utility's token response has an invalid refresh_token_expires_in") from None
        resource_uri = self._guarded(payload.get("resourceURI"), "resourceURI")
        authorization_uri = self._guarded(payload.get("authorizationURI"), "authorizationURI")
        return TokenSet(
            access_token=access_token,
            expires_at=self._clock() + timedelta(seconds=seconds),
            scope=scope if isinstance(scope, str) and scope else (previous.scope if previous else self._config.scope),
            refresh_token=refresh_token
            if isinstance(refresh_token, str) and refresh_token
            else (previous.refresh_token if previous else None),
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            resource_uri=resource_uri or (previous.resource_uri if previous else None),
            authorization_uri=authorization_uri or (previous.authorization_uri if previous else None),
            refresh_expires_at=refresh_expires_at,
        )

    def _guarded(self, value: Any, name: str) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not is_under(value, self._resource_base):
            logger.warning("Token response refused: URI outside the resource server", extra={"field": name})
            raise UtilityError(f"The utility's {name} lies outside its resource server")
        return value

    def _get_resource(self, tokens: TokenSet, url: str) -> bytes:
        path = url.split("?", 1)[0]
        if not is_under(path, self._resource_base):
            raise UtilityError("A resource link lies outside the utility's resource server")
        headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": _ATOM}
        response = self._send("GET", url, headers, None, "resource")
        status = response.status
        if status == 200:
            return response.body
        logger.info(
            "Utility refused a resource request", extra={"utility_id": self._config.utility_id, "status": status}
        )
        if status in (401, 403):
            raise AccessTokenRejected("The utility refused the access token", retryable=True)
        if status == 429 or status >= 500:
            raise UtilityError(f"The utility's resource server answered {status}", retryable=True)
        if status == 404:
            raise UtilityError("The utility does not know the requested resource")
        raise UtilityError(f"The utility's resource server answered {status}")
