"""The local API: an HTTP server doing what API Gateway does in front of the template's functions.

Order of checks, as on API Gateway: payload size (413), route (the template's MISSING_AUTHENTICATION_TOKEN
response, before any authorizer runs), identity source and ValidationExpression (401 without invoking the
authorizer), the authorizer (raises "Unauthorized" -> 401, Deny -> 403, anything else -> 500), the usage
plan on routes that require an API key (no key in a plan -> 403 INVALID_API_KEY, over its throttle -> 429
THROTTLED; see usage_plans), then the function (raises or returns a malformed result -> 502). Unlike API
Gateway, authorizer results are never cached, so a revoked key is refused on the very next request.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from meterhub_dev.local.apigateway import (
    MAX_PAYLOAD_BYTES,
    AuthorizerConfigurationError,
    AuthorizerDecision,
    HttpResponse,
    IncomingRequest,
    MalformedProxyResponse,
    RouteMatch,
    RouteTable,
    build_proxy_event,
    evaluate_authorizer_result,
    gateway_response,
    internal_server_error,
    json_response,
    method_arn,
    parse_proxy_result,
    request_authorizer_event,
    token_authorizer_event,
)
from meterhub_dev.local.event_sources import SCHEDULES_PATH, ScheduleRelay
from meterhub_dev.local.lambda_runtime import HandlerUnavailable, InvocationFailed, LocalLambda, LocalLambdaError
from meterhub_dev.local.rest_apis import ApiSpec, AuthorizerSpec
from meterhub_dev.local.stack import LocalTemplate
from meterhub_dev.local.usage_plans import LocalUsagePlans

# Used for answers to requests that match no API (an unknown route when the template has no API at all).
_NO_API = ApiSpec(
    logical_id="ServerlessRestApi",
    stage_name="local",
    default_authorizer=None,
    authorizers={},
    gateway_responses={},
    binary_media_types=(),
)


def _console(message: str) -> None:
    print(f"[local] {message}", file=sys.stderr, flush=True)


_HSTS = "strict-transport-security"


class LocalApiGateway:
    """Request in, response out; no sockets, so it can be driven directly from a test. Without `usage_plans`
    (a gateway over a template and no AWS), API keys are not checked and nothing is throttled."""

    def __init__(
        self,
        template: LocalTemplate,
        lambdas: LocalLambda,
        usage_plans: LocalUsagePlans | None = None,
        schedules: Mapping[str, ScheduleRelay] | None = None,
    ) -> None:
        self.template = template
        self.lambdas = lambdas
        self.usage_plans = usage_plans
        self.schedules = schedules or {}
        self.routes = RouteTable(template.routes)
        # Unknown routes get the gateway responses of the API that serves the most routes.
        counts = {api_id: sum(r.api_id == api_id for r in template.routes) for api_id in template.apis}
        self.default_api = template.apis[max(counts, key=counts.__getitem__)] if counts else _NO_API

    def too_large(self, request_id: str) -> HttpResponse:
        return self._with_request_id(gateway_response(self.default_api, "REQUEST_TOO_LARGE", request_id), request_id)

    def handle(self, request: IncomingRequest) -> HttpResponse:
        return self._with_request_id(self._dispatch(request), request.request_id)

    def _dispatch(self, request: IncomingRequest) -> HttpResponse:
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return gateway_response(self.default_api, "REQUEST_TOO_LARGE", request.request_id)
        if request.path.startswith(SCHEDULES_PATH) and self.schedules:
            return self._fire_schedule(request)
        match = self.routes.match(request.method, request.path)
        if match is None:
            return gateway_response(self.default_api, "MISSING_AUTHENTICATION_TOKEN", request.request_id)
        api = self.template.api_for(match.route)
        authorizer_context: dict[str, Any] | None = None
        usage_key: str | None = None
        if match.route.authorizer is not None:
            outcome = self._authorize(api, api.authorizers[match.route.authorizer], match, request)
            if isinstance(outcome, HttpResponse):
                return outcome
            authorizer_context, usage_key = outcome.request_context(), outcome.usage_identifier_key
        if match.route.api_key_required and self.usage_plans is not None:
            key = usage_key if api.api_key_source == "AUTHORIZER" else request.header("x-api-key")
            refusal = self.usage_plans.refusal(api, key)
            if refusal is not None:
                return gateway_response(api, refusal, request.request_id)
        event = build_proxy_event(
            match,
            api,
            request,
            authorizer=authorizer_context,
            account_id=self.template.context.account_id,
            domain_name=request.header("host") or "127.0.0.1",
        )
        function_id = match.route.function_id
        try:
            result = self.lambdas.invoke(function_id, event)
        except HandlerUnavailable as error:
            _console(f"{request.method} {match.route.path} -> 502: {error}")
            return internal_server_error()
        except InvocationFailed as error:
            _console(f"{request.method} {match.route.path} -> 502: {function_id} raised:\n{error.details}")
            return internal_server_error()
        try:
            return parse_proxy_result(result)
        except MalformedProxyResponse as error:
            _console(f"{request.method} {match.route.path} -> 502: malformed Lambda proxy response: {error}")
            return internal_server_error()

    def _fire_schedule(self, request: IncomingRequest) -> HttpResponse:
        """The runner's on-demand trigger of a scheduled function (an EventBridge rule has no such thing; the
        runner's schedules otherwise fire on their rate). `?time=` sets the event's time, to see what a later run
        does; the answer is the function's result."""
        function_id = request.path.removeprefix(SCHEDULES_PATH)
        relay = self.schedules.get(function_id)
        if relay is None or request.method != "POST":
            known = ", ".join(sorted(self.schedules))
            return json_response(404, {"message": f"POST {SCHEDULES_PATH}<function>, one of: {known}"})
        times = parse_qs(request.query_string).get("time")
        try:
            at = datetime.fromisoformat(times[-1]) if times else None
        except ValueError:
            return json_response(400, {"message": "time must be an ISO 8601 date-time, e.g. 2027-06-01T00:00:00Z"})
        if at is not None and at.tzinfo is None:
            return json_response(400, {"message": "time needs a UTC offset, e.g. 2027-06-01T00:00:00Z"})
        try:
            return json_response(200, relay.fire(at))
        except LocalLambdaError as error:
            _console(f"POST {request.path} -> 502: {function_id} raised:\n{error.details}")
            return internal_server_error()

    def _authorize(
        self, api: ApiSpec, authorizer: AuthorizerSpec, match: RouteMatch, request: IncomingRequest
    ) -> AuthorizerDecision | HttpResponse:
        """The authorizer's decision to allow the request, or the response that ends it."""
        request_id = request.request_id
        arn = method_arn(api, request, self.template.context.region, self.template.context.account_id)
        if authorizer.payload_type == "TOKEN":
            token = request.header(authorizer.header or "Authorization")
            expression = authorizer.validation_expression
            if not token or (expression and re.fullmatch(expression, token) is None):
                return gateway_response(api, "UNAUTHORIZED", request_id)
            event = token_authorizer_event(token, arn)
        else:
            if any(not request.header(name) for name in authorizer.identity_headers):
                return gateway_response(api, "UNAUTHORIZED", request_id)
            proxy_event = build_proxy_event(match, api, request, account_id=self.template.context.account_id)
            query: Mapping[str, str] = proxy_event["queryStringParameters"] or {}
            if any(not query.get(name) for name in authorizer.identity_query_strings):
                return gateway_response(api, "UNAUTHORIZED", request_id)
            event = request_authorizer_event(proxy_event, arn)
        try:
            result = self.lambdas.invoke(authorizer.function_id, event)
        except InvocationFailed as error:
            if str(error.error) == "Unauthorized":  # the one exception API Gateway turns into a 401
                return gateway_response(api, "UNAUTHORIZED", request_id)
            _console(f"authorizer {authorizer.name} ({authorizer.function_id}) raised:\n{error.details}")
            return gateway_response(api, "AUTHORIZER_FAILURE", request_id)
        except LocalLambdaError as error:
            _console(f"authorizer {authorizer.name}: {error}")
            return gateway_response(api, "AUTHORIZER_FAILURE", request_id)
        try:
            decision = evaluate_authorizer_result(result, arn)
        except AuthorizerConfigurationError as error:
            _console(f"authorizer {authorizer.name} returned an unusable result: {error}")
            return gateway_response(api, "AUTHORIZER_CONFIGURATION_ERROR", request_id)
        if not decision.allowed:
            return gateway_response(api, "ACCESS_DENIED", request_id)
        return decision

    @staticmethod
    def _with_request_id(response: HttpResponse, request_id: str) -> HttpResponse:
        response.headers.append(("x-amzn-RequestId", request_id))
        return response


class ApiServer(ThreadingHTTPServer):
    """One thread per connection, each request's functions in execution environments of their own (LocalLambda).

    The listen backlog is what lets a burst of clients connect at once, as they can to API Gateway: with
    socketserver's default of 5, connections beyond it waited for a SYN retransmission or were reset."""

    daemon_threads = True
    request_queue_size = 1024  # the kernel caps it at net.core.somaxconn

    def __init__(self, gateway: LocalApiGateway, host: str = "127.0.0.1", port: int = 3000) -> None:
        super().__init__((host, port), _RequestHandler)
        self.gateway = gateway

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway; every response carries Content-Length
    server: ApiServer

    def _serve(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        method = self.command.upper()
        request_id: str | None = None
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                self.close_connection = True  # the body is not read, so the connection cannot be reused
                request = IncomingRequest(method, url.path or "/", url.query, [], b"")
                response = self.server.gateway.too_large(request.request_id)
            else:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = self._read_chunked()
                else:
                    body = self.rfile.read(length) if length else b""
                request = IncomingRequest(
                    method=method,
                    path=url.path or "/",
                    query_string=url.query,
                    headers=list(self.headers.items()),
                    body=body,
                    source_ip=self.client_address[0],
                )
                response = self.server.gateway.handle(request)
            request_id = request.request_id
            self._write(response, include_body=method != "HEAD")
        except (BrokenPipeError, ConnectionResetError) as error:
            _console(f"{method} {url.path}: client went away ({error})")
            self.close_connection = True
            return
        elapsed_ms = (time.monotonic() - started) * 1000
        print(
            f"{method} {url.path} {response.status} {elapsed_ms:.0f}ms (request {request_id})",
            file=sys.stderr,
            flush=True,
        )

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in {b"\r\n", b"\n", b""}:
                    continue  # trailers are not forwarded
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: HttpResponse, include_body: bool) -> None:
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            # This server speaks plain http, where RFC 6797 7.2 forbids HSTS: the template's gateway responses
            # declare it for API Gateway's https, and the functions add it only to https requests.
            if name.lower() not in {"content-length", "transfer-encoding", "connection", "date", _HSTS}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if include_body:
            self.wfile.write(response.body)
        self.wfile.flush()

    def __getattr__(self, name: str) -> Any:
        """BaseHTTPRequestHandler dispatches to `do_<METHOD>`: every method goes through the gateway."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: `_serve` logs one line per request with the status and latency instead."""
