"""The one interface every utility is reached through.

Why one interface: the Connect flow, the callback and the sync only speak to `UtilityAdapter`, so a new
utility is a configuration entry (see `registry.py`), not new code. Green Button Connect My Data (NAESB
REQ.21 ESPI) is what US utilities expose, so `GreenButtonAdapter` is the implementation; the demo utility
speaks the same protocol, which is what lets tests and `make run` exercise the real adapter end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class UtilityError(Exception):
    """The utility refused a request or answered something we cannot use.

    `reason` is safe to show a customer and to store (it never contains a token or a code); `retryable`
    tells the sync whether a later attempt may succeed (network errors, 5xx) or not (invalid_grant, 4xx).
    """

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class AuthorizationRevoked(UtilityError):
    """The utility no longer honours the tokens (revoked or expired refresh token): the customer must
    authorize again."""


class AccessTokenRejected(UtilityError):
    """A data request was refused with 401/403: the access token expired or the authorization was revoked.

    Retryable: refresh the tokens and try again; if the refresh raises AuthorizationRevoked, the customer
    must authorize again.
    """


@dataclass(frozen=True)
class TokenSet:
    """What a token exchange returns. Never logged, never returned by the API; stored only encrypted."""

    access_token: str
    expires_at: datetime
    scope: str
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    # Green Button returns where the customer's data lives (…/Subscription/<id>) and the authorization
    # resource; both are checked to lie under the utility's configured resource server before any request.
    resource_uri: str | None = None
    authorization_uri: str | None = None
    # When the grant itself ends (the refresh token's life, from `refresh_token_expires_in`), if the utility
    # says; past it the customer must authorize again. None: the utility sets no end.
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True)
class ServiceAddress:
    street_1: str
    city: str
    state_or_province_code: str
    postal_code: str
    country_code: str = "US"
    street_2: str | None = None


@dataclass(frozen=True)
class ServicePoint:
    """One ESPI UsagePoint (a metered service point) with what we need to create a meter from it."""

    usage_point_id: str
    address: ServiceAddress
    customer_classification: str  # RESIDENTIAL | COMMERCIAL (ESPI ServiceCategory/customer kind mapped)
    account_number: str | None = None  # the utility's service agreement / account number
    meter_serial_number: str | None = None
    tariff: str | None = None
    customer_name: str | None = None


@dataclass(frozen=True)
class IntervalReading:
    """One reading at the utility's own interval length (never split into finer slots).

    `consumed_kwh` is energy delivered to the customer, `generated_kwh` energy received from them (ESPI
    flowDirection 1 and 19); a reading carries what the utility sent, the other side is None.
    """

    start: datetime  # UTC
    duration_seconds: int
    consumed_kwh: float | None = None
    generated_kwh: float | None = None


class UtilityAdapter(Protocol):
    """OAuth 2 authorization code flow with PKCE (S256) plus the Green Button resources."""

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        """Where to send the customer's browser (the utility's login/consent page)."""
        ...

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        """Code -> tokens. Raises UtilityError (invalid_grant: not retryable)."""
        ...

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """A fresh access token. Raises AuthorizationRevoked when the utility refuses the refresh token."""
        ...

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        """The customer's service points (UsagePoints with their ServiceLocation)."""
        ...

    def interval_data(
        self, tokens: TokenSet, usage_point_id: str, start: datetime, end: datetime
    ) -> list[IntervalReading]:
        """Readings whose start lies in [start, end), in the utility's own interval length."""
        ...

    def revoke(self, tokens: TokenSet) -> None:
        """Tell the utility to end the authorization (best effort is not enough: raises UtilityError)."""
        ...
