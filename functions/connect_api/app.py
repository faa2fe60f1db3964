"""Partner Connect API: issuing a Connect link for a refId, the connections made through Connect links (one
per refId), and revoking an authorization. Leap publishes no path for its Connect API (domain brief §4.4), so
these are ours, under /v1.1/connect; webhooks (connect_session.*) remain the recommended way to follow a
connection. An issued link's URL carries a secret token: it is answered once and never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.connect.records import LINK_LIFETIME
from meterhub.connect.use_cases import connections
from meterhub.connect.use_cases import links as connect_links
from meterhub.connect.use_cases.connections import ConnectionFilter, ConnectionsResponse, RevokeResponse
from meterhub.connect.use_cases.flow import MAX_REF_ID_LENGTH
from meterhub.connect.use_cases.links import ConnectLinkRequest, ConnectLinkResponse
from meterhub.platform.api.envelopes import ErrorResponse, serialize
from meterhub.platform.api.params import PageToken, uuid_path
from meterhub.platform.api.resolver import build_resolver, caller_partner_id, documented, json_body_errors
from meterhub.platform.ids import parse_id
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import (
    ConnectTableSettings,
    ConnectTokensKeySettings,
    MetersTableSettings,
    PartnersTableSettings,
    PublicBaseUrlSettings,
    StageSettings,
    UtilityProviderSettings,
)
from meterhub.platform.web.base_url import public_base_url


class Settings(
    StageSettings,
    PartnersTableSettings,
    ConnectTableSettings,
    MetersTableSettings,
    ConnectTokensKeySettings,
    PublicBaseUrlSettings,
    UtilityProviderSettings,
):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


# The one seam to the utilities (tests replace it: a real utility's login cannot run here).
adapter_for = wiring.utility_adapter_for


app = build_resolver()

Moment = Annotated[datetime | None, Query(description="RFC 3339 time (exclusive bound)")]
RefId = Annotated[
    str | None,
    Query(description="Only the connection of this refId", json_schema_extra={"maxLength": MAX_REF_ID_LENGTH}),
]
"""The length a link's refId may have, documented only: a longer one names no connection, and the list answers
it with none, as it always has, rather than a new 400."""
AuthorizationId = Annotated[str, uuid_path("The authorization's UUID")]
"""Documented as a UUID, refused by `parse_id` below (Leap's 400 "Authorization id is not a UUID", which reads
every spelling uuid.UUID reads)."""


@app.post(
    "/v1.1/connect/links",
    summary="Issue a Connect link for a refId: the customer's utility data may then merge into your meter",
    description=(
        "A plain Connect link only ever creates new utility meters. A link issued here also lets the utility "
        "data be merged into the meter you created with customer.partner_customer_reference = ref_id. It "
        f"lives {LINK_LIFETIME.total_seconds() / 3600:g} hours and belongs to the first browser that opens it. "
        "The url's linkToken is shown only here."
    ),
    operation_id="createConnectLink",
    tags=["Connect"],
    status_code=201,
    responses={
        201: documented(ConnectLinkResponse, "The link to send the customer"),
        400: documented(ErrorResponse, "Invalid ref_id, transmission_region, variant or utility_id"),
        **json_body_errors(),
    },
)
def create_link(request: Annotated[ConnectLinkRequest, Body()]) -> Response[str]:
    settings = Settings.load()
    issued = connect_links.issue_link(
        wiring.partner_repository(settings),
        wiring.connect_repository(settings),
        caller_partner_id(app),
        request,
        base_url=public_base_url(app.current_event.raw_event, settings.public_base_url),
        utilities=wiring.utility_registry(settings),
        include_demo=not settings.is_production,
        now=datetime.now(UTC),
    )
    logger.info("Connect link issued", extra={"link_id": issued.link_id, "expires_at": issued.expires_at})
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=serialize(issued.model_dump(mode="json"))
    )


@app.get(
    "/v1.1/connect/connections",
    summary="List Connect connections: by refId, or by session start / last interaction time",
    operation_id="getConnections",
    tags=["Connect"],
    responses={
        200: documented(ConnectionsResponse, "Connections, newest first"),
        400: documented(ErrorResponse, "Invalid filter or page token"),
    },
)
def list_connections(
    ref_id: RefId = None,
    started_after: Moment = None,
    started_before: Moment = None,
    last_interaction_after: Moment = None,
    last_interaction_before: Moment = None,
    page_size: Annotated[
        int, Query(ge=1, le=connections.MAX_PAGE_SIZE, description="1 to 500, default 50")
    ] = connections.DEFAULT_PAGE_SIZE,
    page_token: PageToken = None,
) -> ConnectionsResponse:
    filters = ConnectionFilter(
        ref_id=ref_id,
        started_after=started_after,
        started_before=started_before,
        last_interaction_after=last_interaction_after,
        last_interaction_before=last_interaction_before,
        page_size=page_size,
        page_token=page_token,
    )
    settings = Settings.load()
    return connections.list_connections(
        wiring.connect_repository(settings),
        caller_partner_id(app),
        filters,
        datetime.now(UTC),
        meters=wiring.meter_repository(settings),
    )


@app.post(
    "/v1.1/connect/authorizations/<authorization_id>/revoke",
    summary="Revoke a utility authorization; its meters stay and show the IS_AUTHORIZED required action",
    operation_id="revokeAuthorization",
    tags=["Connect"],
    responses={
        200: documented(RevokeResponse, "Authorization revoked"),
        400: documented(ErrorResponse, "Authorization id is not a UUID"),
        404: documented(ErrorResponse, "No such authorization for this partner"),
        409: documented(ErrorResponse, "The authorization is not COMPLETED"),
    },
)
def revoke_authorization(
    authorization_id: AuthorizationId,
) -> RevokeResponse:
    settings = Settings.load()
    partner_id = caller_partner_id(app)
    result = connections.revoke_authorization(
        wiring.connect_repository(settings),
        wiring.meter_repository(settings),
        wiring.token_vault(settings),
        adapter_for,
        partner_id,
        parse_id(authorization_id, "authorization_id"),
        lambda: datetime.now(UTC),
        utilities=wiring.utility_registry(settings),
    )
    logger.info("Authorization revoked", extra={"authorization_id": authorization_id, "meters": result.meters_marked})
    return result


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
