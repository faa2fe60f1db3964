"""What a utility returns for an authorized customer: tokens, service points and their interval readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    address: ServiceAddress | None  # None: the utility sent no complete service address (the meter awaits one)
    customer_classification: str  # RESIDENTIAL | COMMERCIAL (ESPI ServiceCategory/customer kind mapped)
    account_number: str | None = None  # the utility's service agreement / account number
    meter_serial_number: str | None = None
    tariff: str | None = None
    customer_name: str | None = None
    # The numbers printed on the customer's bill, when the utility sends its customer resources (Leap's
    # bill_customer_account_number and bill_service_agreement_number): the customer account, which may hold
    # several service agreements, and the agreement this point is billed under.
    bill_customer_account_number: str | None = None
    bill_service_agreement_number: str | None = None


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
