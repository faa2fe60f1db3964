"""The demo utility (non-production): OAuth 2 authorize/token/revoke and Green Button feeds under /demo-utility.

A thin translation layer: requests become calls on `meterhub.demo_utility.use_cases.DemoUtility` (all the
logic, tested without HTTP), results become pages, redirects, JSON or Atom. The public base URL comes from
the request context (`meterhub.platform.web.base_url`), so the same code serves the local runner and a stage.

Refuses to serve in production (STAGE=prod): every route answers a 404 page, even if the function is
deployed by mistake. None of these routes is part of the partner API's OpenAPI document.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.demo_utility.pages import demo_authorize_page, demo_error_page
from meterhub.demo_utility.use_cases import DemoUtility, JsonResult, OAuthError, ResourceError
from meterhub.platform.api.resolver import build_resolver
from meterhub.platform.observability import log_metrics, logger
from meterhub.platform.settings import ConnectTableSettings, PublicBaseUrlSettings, StageSettings
from meterhub.platform.web.base_url import public_base_url
from meterhub.platform.web.html import html_response, new_nonce, redirect_response, security_headers


class Settings(StageSettings, ConnectTableSettings, PublicBaseUrlSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


app = build_resolver()

MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 64
_FORM_TYPE = "application/x-www-form-urlencoded"
_ATOM_TYPE = "application/atom+xml"


def error_page(title: str, message: str, status: int) -> Response[str]:
    nonce = new_nonce()
    return html_response(demo_error_page(title, message, nonce=nonce), status=status, nonce=nonce)


def refuse_in_production(resolver: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """The demo must never answer in production: nothing it issues may be mistaken for a real utility's."""
    if Settings.load().is_production:
        logger.warning("Demo utility called in production: refused")
        return error_page("Page not found", "This page does not exist.", 404)
    return next_middleware(resolver)


app.use(middlewares=[refuse_in_production])


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return error_page("Page not found", "This page does not exist.", 404)


def sign_in_policy(nonce: str, *, allow_http: bool) -> str:
    """The sign-in page's CSP: the shared one, but with `form-action` open to any https (and, locally, http) URL.

    Why: browsers apply `form-action` to every redirect that follows a form post, and the sign-in post ends,
    through our callback's own redirects, at the partner's final page, on an origin the utility cannot know.
    A real utility's login page does not pin that chain either. Scripts, styles, framing and everything else
    stay as locked down as on the Connect pages.
    """
    policy = security_headers(nonce)["Content-Security-Policy"]
    sources = "'self' https:" + (" http:" if allow_http else "")
    return re.sub(r"form-action [^;]*", f"form-action {sources}", policy)


def _server() -> DemoUtility:
    event = app.current_event.raw_event
    settings = Settings.load()
    return DemoUtility(wiring.demo_store(settings), base_url=public_base_url(event, settings.public_base_url))


def _unique(pairs: Iterable[tuple[str, str]]) -> dict[str, str] | None:
    """Parameters as a dict; None when one is repeated (RFC 6749 §3.1: parameters MUST NOT repeat)."""
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            return None
        fields[name] = value
    return fields


def _header(name: str) -> str | None:
    headers = app.current_event.raw_event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), None)


def _query() -> dict[str, str] | None:
    multi = app.current_event.raw_event.get("multiValueQueryStringParameters") or {}
    if multi:
        return _unique((name, value) for name, values in multi.items() for value in values or [])
    single = app.current_event.raw_event.get("queryStringParameters") or {}
    return {str(k): str(v) for k, v in single.items()}


def _form() -> dict[str, str] | None:
    """An application/x-www-form-urlencoded body; None when it is not one, too large, or repeats a field."""
    if not (_header("content-type") or "").lower().startswith(_FORM_TYPE):
        return None
    event = app.current_event.raw_event
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
        if len(raw) > MAX_FORM_BYTES:
            return None
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return _unique(pairs)


def _refusal(problem: OAuthError, *, redirect_status: int) -> Response[str]:
    if problem.redirect_to is not None:
        logger.info("Demo authorize refused, redirecting", extra={"error": problem.error})
        return redirect_response(problem.redirect_to, status=redirect_status)
    logger.info("Demo authorize refused with a page", extra={"error": problem.error})
    return error_page("The request cannot be completed", problem.description, problem.status)


def _json(result: JsonResult) -> Response[str]:
    return Response(
        status_code=result.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(result.body, separators=(",", ":")),
        headers=result.headers,
    )


def _resource_error(problem: ResourceError) -> Response[str]:
    headers = {"Cache-Control": "no-store"}
    if problem.www_authenticate:
        headers["WWW-Authenticate"] = problem.www_authenticate
    body = {"error": problem.error or "invalid_request", "error_description": problem.description}
    return Response(
        status_code=problem.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


def _atom(document: bytes) -> Response[str]:
    return Response(
        status_code=200,
        content_type=_ATOM_TYPE,
        body=document.decode("utf-8"),
        headers={"Cache-Control": "no-store"},
    )


@app.get("/demo-utility/oauth/authorize", include_in_schema=False)
def authorize_page() -> Response[str]:
    params = _query()
    if params is None:
        return error_page("The request cannot be completed", "A request parameter was repeated.", 400)
    outcome = _server().authorize_form(params)
    if isinstance(outcome, OAuthError):
        return _refusal(outcome, redirect_status=302)
    redirect_uri = dict(outcome.hidden_fields)["redirect_uri"]
    nonce = new_nonce()
    return html_response(
        demo_authorize_page(outcome, nonce=nonce),
        nonce=nonce,
        headers={"Content-Security-Policy": sign_in_policy(nonce, allow_http=redirect_uri.startswith("http:"))},
    )


@app.post("/demo-utility/oauth/authorize", include_in_schema=False)
def authorize_submit() -> Response[str]:
    form = _form()
    if form is None:
        return error_page("The request cannot be completed", "The sign-in form could not be read.", 400)
    outcome = _server().authorize_submit(form)
    if isinstance(outcome, OAuthError):
        return _refusal(outcome, redirect_status=303)
    logger.info("Demo authorize completed", extra={"scenario": form.get("scenario", "success")})
    return redirect_response(outcome, status=303)


@app.post("/demo-utility/oauth/token", include_in_schema=False)
def token() -> Response[str]:
    form = _form()
    if form is None:
        return _json(
            JsonResult(400, {"error": "invalid_request", "error_description": "Send a form-encoded body, once each"})
        )
    result = _server().token(form, authorization=_header("authorization"))
    logger.info("Demo token request", extra={"grant_type": form.get("grant_type"), "status": result.status})
    return _json(result)


@app.post("/demo-utility/oauth/revoke", include_in_schema=False)
def revoke() -> Response[str]:
    form = _form()
    if form is None:
        return _json(
            JsonResult(400, {"error": "invalid_request", "error_description": "Send a form-encoded body, once each"})
        )
    result = _server().revoke(form, authorization=_header("authorization"))
    logger.info("Demo revocation", extra={"status": result.status})
    return _json(result)


@app.get("/demo-utility/espi/1_1/resource/Subscription/<subscription_id>/UsagePoint", include_in_schema=False)
def usage_points(subscription_id: str) -> Response[str]:
    try:
        return _atom(_server().usage_points(_header("authorization"), subscription_id))
    except ResourceError as problem:
        return _resource_error(problem)


@app.get(
    "/demo-utility/espi/1_1/resource/Subscription/<subscription_id>/UsagePoint/<usage_point_id>"
    "/MeterReading/01/IntervalBlock",
    include_in_schema=False,
)
def interval_blocks(subscription_id: str, usage_point_id: str) -> Response[str]:
    params = _query()
    if params is None:
        return _resource_error(ResourceError(400, "invalid_request", "A query parameter was repeated"))
    try:
        document = _server().interval_blocks(
            _header("authorization"),
            subscription_id,
            usage_point_id,
            params.get("published-min"),
            params.get("published-max"),
        )
    except ResourceError as problem:
        return _resource_error(problem)
    return _atom(document)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
