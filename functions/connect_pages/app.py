"""The public Connect pages: a customer opens a partner's link, chooses their utility, consents, and is sent
to the utility's login (or declines). No API key: the partner is named by its account in the link.

The session id travels in an HttpOnly, SameSite=Lax cookie (Lax so it comes back on the utility's top-level
redirect to the callback); every form carries the session's CSRF token. A partner-issued link's `linkToken`
is a secret: it is never logged (the log line names the link by its id).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.connect.pages.resolver import build_page_resolver
from meterhub.connect.pages.views import (
    ChooseUtilityView,
    OutcomeView,
    UtilityChoice,
    choose_utility_page,
    outcome_page,
)
from meterhub.connect.use_cases import flow as connect_flow
from meterhub.connect.use_cases.flow import LINK_TOKEN_PARAMETER, REGION_LABELS, LinkParameters, OpenedSession
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import (
    ConnectTableSettings,
    PartnersTableSettings,
    PublicBaseUrlSettings,
    StageSettings,
    UtilityProviderSettings,
)
from meterhub.platform.web.base_url import public_base_url
from meterhub.platform.web.html import html_response, new_nonce, origin_of, redirect_response
from meterhub.platform.web.request import CONNECT_COOKIE, cookie, form_fields


class Settings(
    StageSettings, PartnersTableSettings, ConnectTableSettings, PublicBaseUrlSettings, UtilityProviderSettings
):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


# The one seam to the utilities (tests replace it: a real utility's login cannot run here).
adapter_for = wiring.utility_adapter_for


app = build_page_resolver()


def _repos() -> tuple[Any, Any]:
    settings = Settings.load()
    return wiring.partner_repository(settings), wiring.connect_repository(settings)


def _base_url(event: dict[str, Any]) -> str:
    return public_base_url(event, Settings.load().public_base_url)


def log_reference(session_id: str) -> str:
    """What logs carry instead of the session id: the id is the browser's cookie, and a log reader holding it
    could resume someone's session; a short digest still correlates one session's lines."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


def session_cookie(session_id: str) -> str:
    secure = "" if Settings.load().is_local else "; Secure"
    return f"{CONNECT_COOKIE}={session_id}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax{secure}"


def _choose_page(opened: OpenedSession, base: str) -> Response[str]:
    session = opened.session
    actions = f"{base}/connect/{opened.partner.account}/sessions/{session.session_id}"
    view = ChooseUtilityView(
        partner_name=opened.partner.name,
        region_label=REGION_LABELS.get(session.transmission_region, session.transmission_region.value),
        ref_id=session.ref_id,
        utilities=tuple(UtilityChoice(u.utility_id, u.display_name) for u in opened.utilities),
        preselected_utility_id=session.direct_utility_id,
        authorize_action=f"{actions}/authorize",
        decline_action=f"{actions}/decline",
        csrf_token=session.csrf_token,
    )
    # Chrome applies form-action to the redirect that follows the POST: allow the utilities' origins (consent)
    # and the partner's final redirect URL's origin ("No thanks" ends there).
    targets = {origin_of(_absolute(u.authorize_url, base)) for u in opened.utilities}
    if opened.partner.connect_redirect_url:
        targets.add(origin_of(opened.partner.connect_redirect_url))
    origins = tuple(sorted(targets))
    nonce = new_nonce()
    return html_response(
        choose_utility_page(view, nonce=nonce),
        nonce=nonce,
        form_action=origins,
        cookies=[session_cookie(session.session_id)],
    )


def _absolute(url: str, base: str) -> str:
    return url if "://" in url else base + url


def _open(link: LinkParameters) -> Response[str]:
    partners, repo = _repos()
    opened = connect_flow.open_link(
        partners,
        repo,
        link,
        cookie(app.current_event.raw_event, CONNECT_COOKIE),
        utilities=wiring.utility_registry(Settings.load()),
        include_demo=not Settings.load().is_production,
        now=datetime.now(UTC),
    )
    logger.info(
        "Connect session opened" if opened.is_new else "Connect session resumed",
        extra={
            "partner_id": opened.partner.partner_id,
            "session": log_reference(opened.session.session_id),
            "link_id": opened.session.link_id,
        },
    )
    return _choose_page(opened, _base_url(app.current_event.raw_event))


@app.get("/connect", include_in_schema=False)
def open_link() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return _open(
        LinkParameters(
            account=query.get("account", ""),
            transmission_region=query.get("transmissionRegion"),
            ref_id=query.get("refId"),
            variant=query.get("variant"),
            link_token=query.get(LINK_TOKEN_PARAMETER),
        )
    )


@app.get("/connect/<account>/<utility_id>/getting-started", include_in_schema=False)
def open_direct_link(account: str, utility_id: str) -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return _open(
        LinkParameters(
            account=account,
            transmission_region=query.get("transmissionRegion"),
            ref_id=query.get("refId"),
            variant=query.get("variant"),
            link_token=query.get(LINK_TOKEN_PARAMETER),
            utility_id=utility_id,
        )
    )


@app.post("/connect/<account>/sessions/<session_id>/authorize", include_in_schema=False)
def authorize(account: str, session_id: str) -> Response[str]:
    partners, repo = _repos()
    event = app.current_event.raw_event
    location = connect_flow.start_authorization(
        partners,
        repo,
        account=account,
        session_id=session_id,
        cookie_session_id=cookie(event, CONNECT_COOKIE),
        form=form_fields(event),
        base_url=_base_url(event),
        utilities=wiring.utility_registry(Settings.load()),
        include_demo=not Settings.load().is_production,
        adapter_for=adapter_for,
        now=datetime.now(UTC),
    )
    logger.info("Connect authorization initiated", extra={"session": log_reference(session_id)})
    return redirect_response(location)


@app.post("/connect/<account>/sessions/<session_id>/decline", include_in_schema=False)
def decline(account: str, session_id: str) -> Response[str]:
    partners, repo = _repos()
    event = app.current_event.raw_event
    partner = connect_flow.decline(
        partners,
        repo,
        account=account,
        session_id=session_id,
        cookie_session_id=cookie(event, CONNECT_COOKIE),
        form=form_fields(event),
        now=datetime.now(UTC),
    )
    session = repo.get_session(partner.partner_id, session_id)
    target = connect_flow.final_redirect(partner, session.ref_id if session else None, "declined", None)
    if target:
        return redirect_response(target)
    nonce = new_nonce()
    retry = None
    if session is not None:
        retry = connect_flow.restart_link(_base_url(event), partner, session.transmission_region.value, session.ref_id)
    view = OutcomeView(partner_name=partner.name, outcome="declined", utility_name=None, retry_url=retry)
    return html_response(outcome_page(view, nonce=nonce), nonce=nonce)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
