"""Partner-issued Connect links: what lets a customer's utility data be merged into the partner's own meter.

A plain Connect link (`/connect?account=…&transmissionRegion=…&refId=…`) is Leap-compatible and anyone can
write one, so a session opened with it only ever creates new utility meters. When the partner has already
created a meter for the customer (`customer.partner_customer_reference` = refId) and wants the utility data
merged into it, it asks our API for a link for that refId: the answer's URL carries a `linkToken` (256 random
bits) that only the partner's API key can obtain. The token is returned once and stored only as its SHA-256;
the link lives LINK_LIFETIME, and the first browser that opens it owns it (single use: that browser may open
it again, any other is refused). Issuing another link for the same refId is how a partner replaces one.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from pydantic import Field, field_validator

from meterhub.catalog.enums import TransmissionRegion
from meterhub.connect.ports import ConnectRepository
from meterhub.connect.records import LINK_LIFETIME, IssuedLink, LazyModel, Variant
from meterhub.connect.use_cases.flow import CONNECT_REGIONS, MAX_REF_ID_LENGTH, issued_link_url, secret_hash
from meterhub.partners.ports import PartnerRepository
from meterhub.platform.errors import InvalidInput, NotFound
from meterhub.utility_providers.records.registry import UtilityRegistry


class ConnectLinkRequest(LazyModel):
    ref_id: str = Field(
        min_length=1,
        max_length=MAX_REF_ID_LENGTH,
        description="The refId: equal to `customer.partner_customer_reference` of the meter to merge into",
    )
    transmission_region: TransmissionRegion = Field(description="CAISO or NYISO (customer-authorized regions)")
    variant: Variant = Field(Variant.RESIDENTIAL, description="RESIDENTIAL (default) or COMMERCIAL")
    utility_id: str | None = Field(
        None, description="Skip the utility choice: the direct-to-utility link (e.g. pge, sce, cecony)"
    )

    @field_validator("ref_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must contain only printable characters")
        return value

    @field_validator("transmission_region")
    @classmethod
    def _connect_region(cls, value: TransmissionRegion) -> TransmissionRegion:
        if value not in CONNECT_REGIONS:
            raise ValueError(f"must be one of {', '.join(r.value for r in CONNECT_REGIONS)} (Connect regions)")
        return value


class ConnectLinkResponse(LazyModel):
    link_id: str = Field(description="Shown on the authorizations made through this link (Connect API)")
    url: str = Field(description="Send this to the customer. Its linkToken is secret and is not shown again")
    ref_id: str
    transmission_region: TransmissionRegion
    variant: Variant
    utility_id: str | None = None
    expires_at: datetime = Field(description="After this the link is refused (issue a new one)")


def issue_link(
    partners: PartnerRepository,
    repo: ConnectRepository,
    partner_id: str,
    request: ConnectLinkRequest,
    *,
    base_url: str,
    utilities: UtilityRegistry,
    include_demo: bool,
    now: datetime,
) -> ConnectLinkResponse:
    partner = partners.get_partner(partner_id)
    if partner is None:
        raise NotFound("Partner not found", {"partner_id": partner_id})
    if request.utility_id is not None:
        utility = utilities.utility_by_id(request.utility_id)
        if utility is None or (utility.is_demo and not include_demo):
            raise InvalidInput("Invalid request", {"utility_id": "is not a utility we serve"})
        if request.transmission_region not in utility.transmission_regions:
            raise InvalidInput("Invalid request", {"utility_id": f"does not serve {request.transmission_region.value}"})
    token = secrets.token_urlsafe(32)
    link = IssuedLink(
        link_id=str(uuid.uuid4()),
        token_hash=secret_hash(token),
        partner_id=partner.partner_id,
        ref_id=request.ref_id,
        transmission_region=request.transmission_region,
        variant=request.variant,
        direct_utility_id=request.utility_id,
        created_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    repo.create_link(link)
    return ConnectLinkResponse(
        link_id=link.link_id,
        url=issued_link_url(base_url, partner.account, link, token),
        ref_id=link.ref_id,
        transmission_region=link.transmission_region,
        variant=link.variant,
        utility_id=link.direct_utility_id,
        expires_at=link.expires_at,
    )
