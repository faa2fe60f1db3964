"""The one interface every utility is reached through.

Why one interface: the Connect flow, the callback and the sync only speak to `UtilityAdapter`, so a new
utility is a configuration entry (see `records/registry.py`), not new code. Green Button Connect My Data (NAESB
REQ.21 ESPI) is what US utilities expose, so `GreenButtonAdapter` is the implementation; the demo utility
speaks the same protocol, which is what lets tests and `make run` exercise the real adapter end to end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from meterhub.utility_providers.records.readings import IntervalReading, ServicePoint, TokenSet


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
