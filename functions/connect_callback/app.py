"""The utility sends the customer back here (`GET /connect/callback?code&state` or `?error&state`).

Its own function, as the architecture card has it: it alone may encrypt tokens with the Connect key. The
query string carries a one-time code and state: neither is logged, and the page we answer with sets
`Referrer-Policy: no-referrer`. The customer then goes to the partner's configured final redirect URL (never
one from the query string) or sees our "you're done" page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.connect.pages.resolver import build_page_resolver
from meterhub.connect.pages.views import OutcomeView, outcome_page
from meterhub.connect.use_cases import flow as connect_flow
from meterhub.platform.observability import CONNECT_SESSIONS, log_metrics, logger, record_metric
from meterhub.platform.settings import (
    ConnectTableSettings,
    ConnectTokensKeySettings,
    PartnersTableSettings,
    PublicBaseUrlSettings,
    UtilityProviderSettings,
)
from meterhub.platform.web.base_url import public_base_url
from meterhub.platform.web.html import html_response, new_nonce, redirect_response
from meterhub.platform.web.request import CONNECT_COOKIE, cookie


class Settings(
    PartnersTableSettings,
    ConnectTableSettings,
    ConnectTokensKeySettings,
    PublicBaseUrlSettings,
    UtilityProviderSettings,
):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


# The one seam to the utilities (tests replace it: a real utility's login cannot run here).
adapter_for = wiring.utility_adapter_for


app = build_page_resolver()


@app.get("/connect/callback", include_in_schema=False)
def callback() -> Response[str]:
    settings = Settings.load()
    utilities = wiring.utility_registry(settings)
    event = app.current_event.raw_event
    result = connect_flow.handle_callback(
        wiring.partner_repository(settings),
        wiring.connect_repository(settings),
        wiring.token_vault(settings),
        params=dict(app.current_event.query_string_parameters or {}),
        cookie_session_id=cookie(event, CONNECT_COOKIE),
        utilities=utilities,
        adapter_for=adapter_for,
        now=datetime.now(UTC),
    )
    authorization = result.authorization
    record_metric(CONNECT_SESSIONS, Outcome=result.outcome, Utility=authorization.utility_name.value)
    logger.info(
        "Connect authorization %s",
        authorization.status.value,
        extra={
            "partner_id": authorization.partner_id,
            "authorization_id": authorization.authorization_id,
            "failure_reason": authorization.failure_reason,
        },
    )
    target = connect_flow.final_redirect(
        result.partner, authorization.ref_id, result.outcome, authorization.utility_name.value
    )
    if target:
        return redirect_response(target)
    utility = utilities.utility_by_id(authorization.utility_id)
    nonce = new_nonce()
    retry = connect_flow.restart_link(
        public_base_url(event, settings.public_base_url),
        result.partner,
        authorization.transmission_region.value,
        authorization.ref_id,
    )
    view = OutcomeView(
        partner_name=result.partner.name,
        outcome=result.outcome,
        utility_name=utility.display_name if utility else authorization.utility_name.value,
        message=result.message,
        retry_url=retry if result.outcome == "failed" else None,
    )
    return html_response(outcome_page(view, nonce=nonce), nonce=nonce)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
