"""The real GreenButtonAdapter against the real demo utility, served over HTTP on loopback.

A small threaded HTTP server turns each request into the API Gateway REST proxy event the local runner
would build (meterhub_dev.local.apigateway) and hands it to functions/demo_utility/app.py; the demo's store is
the ConnectTable on moto. The adapter talks to it with its production urllib3 client. The second half
drives the adapter against a fake HTTP port for the error mapping and the SSRF guard.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
import urllib3
from meterhub import wiring
from meterhub.catalog.enums import TransmissionRegion, UtilityName
from meterhub.demo_utility.rules.feeds import interval_block_feed
from meterhub.platform.settings import UtilityProviderSettings
from meterhub.utility_providers.adapters import secrets
from meterhub.utility_providers.adapters.factory import adapter_for
from meterhub.utility_providers.adapters.green_button import (
    GreenButtonAdapter,
    HttpClient,
    HttpResponse,
    HttpTransportError,
    ResponseTooLarge,
    Urllib3HttpClient,
    absolute_endpoint,
    is_under,
)
from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.errors import AccessTokenRejected, AuthorizationRevoked, UtilityError
from meterhub.utility_providers.records.readings import IntervalReading, TokenSet
from meterhub.utility_providers.records.registry import DEMO_UTILITY, UtilityConfig, UtilityRegistry
from meterhub.utility_providers.rules.pkce import pkce_pair
from meterhub_dev.local.apigateway import IncomingRequest, RouteTable, build_proxy_event, parse_proxy_result
from meterhub_dev.local.rest_apis import ApiSpec, Route

from tests.conftest import REGION, FakeLambdaContext, load_function_module, local_template

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The function's routes, as template.yaml must declare them (checked below when the template has them).
DEMO_ROUTES = (
    ("GET", "/demo-utility/oauth/authorize"),
    ("POST", "/demo-utility/oauth/authorize"),
    ("POST", "/demo-utility/oauth/token"),
    ("POST", "/demo-utility/oauth/revoke"),
    ("GET", "/demo-utility/espi/1_1/resource/Subscription/{subscription_id}/UsagePoint"),
    (
        "GET",
        "/demo-utility/espi/1_1/resource/Subscription/{subscription_id}/UsagePoint/{usage_point_id}"
        "/MeterReading/01/IntervalBlock",
    ),
)
_API = ApiSpec(
    logical_id="PartnerApi",
    stage_name="local",
    default_authorizer=None,
    authorizers={},
    gateway_responses={},
    binary_media_types=(),
)


# ----- the demo utility over HTTP --------------------------------------------------------------------------------


class DemoUtilityServer:
    """functions/demo_utility/app.py behind a loopback HTTP server, as API Gateway (REST proxy) would call it."""

    def __init__(self) -> None:
        self.module = load_function_module("functions/demo_utility/app.py")
        self.routes = RouteTable(
            [Route("PartnerApi", method, path, "DemoUtilityFunction", None, path) for method, path in DEMO_ROUTES]
        )
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.requests: list[tuple[str, str]] = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="demo-utility", daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = IncomingRequest(
                    method=self.command,
                    path=parts.path,
                    query_string=parts.query,
                    headers=list(self.headers.items()),
                    body=self.rfile.read(length) if length else b"",
                )
                server.requests.append((self.command, parts.path))
                match = server.routes.match(self.command, parts.path)
                if match is None:
                    self.send_response(403)
                    self.end_headers()
                    return
                event = build_proxy_event(match, _API, request, domain_name=self.headers.get("Host") or "127.0.0.1")
                result = server.module.lambda_handler(event, FakeLambdaContext(aws_request_id=str(uuid.uuid4())))
                response = parse_proxy_result(result)
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = _serve  # noqa: N815 - http.server's naming
            do_POST = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def demo_http(aws: DynamoDBClient) -> Iterator[DemoUtilityServer]:
    server = DemoUtilityServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser() -> urllib3.PoolManager:
    """What the customer's browser does, minus following redirects (the test follows them itself)."""
    return urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=10))


class _Form(HTMLParser):
    """The sign-in page's form: its action and every named input (hidden ones with their values)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.radios: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("name"):
            if values.get("type") == "radio":
                self.radios.append(values.get("value", ""))
            elif values.get("type") == "hidden":
                self.fields[values["name"]] = values.get("value", "")


@dataclass
class Authorized:
    location: str
    query: dict[str, list[str]]
    verifier: str
    redirect_uri: str
    state: str


def _authorize(
    adapter: UtilityAdapter,
    browser: urllib3.PoolManager,
    base_url: str,
    *,
    scenario: str = "success",
    username: str = "alice two",
) -> Authorized:
    """Open the adapter's authorize URL, submit the sign-in form with `scenario`, return where it redirects."""
    verifier, challenge = pkce_pair()
    state = f"state-{uuid.uuid4().hex}"
    redirect_uri = f"{base_url}/connect/callback"
    page = browser.request(
        "GET", adapter.authorize_url(state=state, code_challenge=challenge, redirect_uri=redirect_uri)
    )
    assert page.status == 200, page.data[:500]
    assert page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    # The post's redirect chain ends at the partner's page (unknown origin): form-action cannot pin it
    assert "form-action 'self' https: http:" in policy
    form = _Form()
    form.feed(page.data.decode("utf-8"))
    assert form.action == f"{base_url}/demo-utility/oauth/authorize"
    assert form.fields["state"] == state and form.fields["code_challenge"] == challenge
    assert scenario in form.radios
    body = urlencode(
        {**form.fields, "username": username, "password": "secret", "scenario": scenario, "submit": "approve"}
    )
    answer = browser.request(
        "POST", form.action, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, redirect=False
    )
    assert answer.status == 303, answer.data[:500]
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    return Authorized(location, query, verifier, redirect_uri, state)


def _exchange(adapter: UtilityAdapter, authorized: Authorized) -> TokenSet:
    return adapter.exchange_code(
        code=authorized.query["code"][0], code_verifier=authorized.verifier, redirect_uri=authorized.redirect_uri
    )


def test_the_template_routes_match_the_function(aws: DynamoDBClient) -> None:
    declared = {(r.method, r.path) for r in local_template().routes if r.function_id == "DemoUtilityFunction"}
    if not declared:
        pytest.skip("template.yaml does not declare DemoUtilityFunction yet")
    assert declared == set(DEMO_ROUTES)


def test_the_full_flow_against_the_demo_utility(demo_http: DemoUtilityServer, browser: urllib3.PoolManager) -> None:
    base = demo_http.base_url
    adapter = adapter_for(DEMO_UTILITY, base)
    before = datetime.now(UTC)

    # The customer signs in and approves; the callback receives a code, which we exchange
    authorized = _authorize(adapter, browser, base)
    tokens = _exchange(adapter, authorized)
    assert tokens.resource_uri is not None
    assert tokens.resource_uri.startswith(f"{base}/demo-utility/espi/1_1/resource/Subscription/")
    assert tokens.authorization_uri and tokens.refresh_token and tokens.token_type == "Bearer"
    assert before + timedelta(minutes=59) < tokens.expires_at < before + timedelta(minutes=61)
    # The grant's own end (refresh_token_expires_in) becomes the authorization's expiry
    assert tokens.refresh_expires_at is not None
    assert before + timedelta(days=29) < tokens.refresh_expires_at < before + timedelta(days=31)

    # Two service points ("two" in the username), in California
    points = adapter.service_points(tokens)
    assert len(points) == 2
    assert all(p.address and p.address.state_or_province_code == "CA" for p in points)
    assert all(p.customer_classification == "RESIDENTIAL" for p in points)
    assert all(p.account_number and p.meter_serial_number and p.tariff for p in points)

    # Two full days of intervals: 96 readings a day, 15 minutes each, plausible energy
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=3)
    readings = adapter.interval_data(tokens, points[0].usage_point_id, start, start + timedelta(days=2))
    assert len(readings) == 192
    assert all(r.duration_seconds == 900 and r.consumed_kwh is not None for r in readings)
    assert [r.start for r in readings] == [start + timedelta(minutes=15 * i) for i in range(192)]
    for day in (readings[:96], readings[96:]):
        daily = sum(r.consumed_kwh or 0 for r in day)
        assert 5 < daily < 40
        assert all(0 < (r.consumed_kwh or 0) < 2 for r in day)

    # A 40-day range is split into requests of at most 31 days; the demo holds 400 days (13 months and a margin)
    long = adapter.interval_data(tokens, points[1].usage_point_id, today - timedelta(days=40), today)
    assert len(long) == 40 * 96
    oldest = adapter.interval_data(
        tokens, points[1].usage_point_id, today - timedelta(days=410), today - timedelta(days=380)
    )
    assert len(oldest) == 20 * 96 and min(r.start for r in oldest) == today - timedelta(days=400)
    interval_calls = [path for method, path in demo_http.requests if path.endswith("/IntervalBlock")]
    assert len(interval_calls) == 1 + 2 + 1

    # Refresh: new tokens work, the old access token no longer does
    refreshed = adapter.refresh(tokens)
    assert refreshed.access_token != tokens.access_token and refreshed.refresh_token != tokens.refresh_token
    assert refreshed.resource_uri == tokens.resource_uri
    assert adapter.service_points(refreshed) == points
    with pytest.raises(AccessTokenRejected) as stale:
        adapter.service_points(tokens)
    assert stale.value.retryable

    # Revoke: the data is gone and so is the refresh token
    adapter.revoke(refreshed)
    with pytest.raises(UtilityError):
        adapter.service_points(refreshed)
    with pytest.raises(AuthorizationRevoked) as revoked:
        adapter.refresh(refreshed)
    assert not revoked.value.retryable


@pytest.mark.pristine_aws  # it scans the whole Connect table
def test_the_demo_stores_only_hashes(
    demo_http: DemoUtilityServer, browser: urllib3.PoolManager, aws: DynamoDBClient
) -> None:
    adapter = adapter_for(DEMO_UTILITY, demo_http.base_url)
    authorized = _authorize(adapter, browser, demo_http.base_url)
    code = authorized.query["code"][0]
    tokens = _exchange(adapter, authorized)
    items = aws.scan(TableName="ConnectTable")["Items"]
    dumped = json.dumps(items)
    assert {item["sk"]["S"] for item in items} == {"CODE", "TOKEN", "REFRESH"}
    assert all(item["pk"]["S"].startswith("DEMO#") and "expires_at_epoch" in item for item in items)
    for secret in (code, tokens.access_token, tokens.refresh_token or ""):
        assert secret not in dumped


def test_declined_and_failed_sign_ins_come_back_as_oauth_errors(
    demo_http: DemoUtilityServer, browser: urllib3.PoolManager
) -> None:
    adapter = adapter_for(DEMO_UTILITY, demo_http.base_url)
    declined = _authorize(adapter, browser, demo_http.base_url, scenario="decline")
    assert declined.query["error"] == ["access_denied"] and "code" not in declined.query
    failed = _authorize(adapter, browser, demo_http.base_url, scenario="utility_error")
    assert failed.query["error"] == ["server_error"]


def test_an_expired_or_replayed_code_is_refused_for_good(
    demo_http: DemoUtilityServer, browser: urllib3.PoolManager
) -> None:
    adapter = adapter_for(DEMO_UTILITY, demo_http.base_url)
    expired = _authorize(adapter, browser, demo_http.base_url, scenario="expired_code")
    with pytest.raises(UtilityError) as raised:
        _exchange(adapter, expired)
    assert "invalid_grant" in raised.value.reason and not raised.value.retryable

    authorized = _authorize(adapter, browser, demo_http.base_url)
    tokens = _exchange(adapter, authorized)
    with pytest.raises(UtilityError) as replay:
        _exchange(adapter, authorized)
    assert "invalid_grant" in replay.value.reason
    with pytest.raises(AccessTokenRejected):  # the replay ended the grant it had been exchanged for
        adapter.service_points(tokens)


def test_an_unregistered_redirect_uri_gets_an_error_page(
    demo_http: DemoUtilityServer, browser: urllib3.PoolManager
) -> None:
    adapter = adapter_for(DEMO_UTILITY, demo_http.base_url)
    _, challenge = pkce_pair()
    url = adapter.authorize_url(
        state="s", code_challenge=challenge, redirect_uri="https://evil.example/connect/callback"
    )
    page = browser.request("GET", url, redirect=False)
    assert page.status == 400 and "Location" not in page.headers
    assert page.headers["Content-Type"].startswith("text/html")


def test_a_resource_uri_elsewhere_is_refused(demo_http: DemoUtilityServer, browser: urllib3.PoolManager) -> None:
    base = demo_http.base_url
    port = int(base.rsplit(":", 1)[1])
    for elsewhere in (
        "http://169.254.169.254/latest/meta-data/iam",
        f"http://127.0.0.1:{port}/other/espi/1_1/resource/Subscription/1",
        f"http://127.0.0.1:{port + 1}/demo-utility/espi/1_1/resource/Subscription/1",
        f"http://localhost:{port}/demo-utility/espi/1_1/resource/Subscription/1",
        f"{base}/demo-utility/espi/1_1/resource/../../admin",
        f"{base}/demo-utility/espi/1_1/resource-evil/Subscription/1",
    ):
        tampering = TamperingHttp(Urllib3HttpClient(), {"resourceURI": elsewhere})
        adapter = adapter_for(DEMO_UTILITY, base, http=tampering)
        authorized = _authorize(adapter, browser, base)
        with pytest.raises(UtilityError) as raised:
            _exchange(adapter, authorized)
        assert "outside its resource server" in raised.value.reason, elsewhere


def test_the_demo_refuses_to_serve_in_production(
    demo_http: DemoUtilityServer, browser: urllib3.PoolManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meterhub.platform.settings import forget_loaded_settings

    monkeypatch.setenv("STAGE", "prod")
    forget_loaded_settings()
    try:
        for method, path in (("GET", "/demo-utility/oauth/authorize"), ("POST", "/demo-utility/oauth/token")):
            answer = browser.request(method, f"{demo_http.base_url}{path}", redirect=False)
            assert answer.status == 404
            assert answer.headers["Content-Type"].startswith("text/html")
    finally:
        forget_loaded_settings()


def test_the_http_client_follows_no_redirect_caps_size_and_reports_transport_failures(
    demo_http: DemoUtilityServer,
) -> None:
    client = Urllib3HttpClient()
    # A 303 comes back as it is (the form post of the sign-in page redirects to the callback)
    form = {"client_id": "meterhub-demo-client", "redirect_uri": f"{demo_http.base_url}/elsewhere"}
    answer = client.request(
        "POST",
        f"{demo_http.base_url}/demo-utility/oauth/authorize",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(form).encode(),
    )
    assert answer.status == 400 and answer.headers["content-type"].startswith("text/html")
    redirected = client.request(
        "GET",
        f"{demo_http.base_url}/demo-utility/oauth/authorize?"
        + urlencode({**form, "redirect_uri": f"{demo_http.base_url}/connect/callback", "response_type": "token"}),
        headers={},
    )
    assert redirected.status == 302 and redirected.headers["location"].startswith(demo_http.base_url)
    with pytest.raises(ResponseTooLarge):
        Urllib3HttpClient(max_body_bytes=100).request(
            "GET", f"{demo_http.base_url}/demo-utility/oauth/authorize", headers={}
        )
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    with pytest.raises(HttpTransportError):
        client.request("GET", f"http://127.0.0.1:{port}/", headers={})


# ----- the adapter against a fake HTTP port ---------------------------------------------------------------------


class TamperingHttp:
    """Passes requests on, then rewrites fields of a JSON (token) answer: a compromised token endpoint."""

    def __init__(self, inner: HttpClient, changes: Mapping[str, Any]) -> None:
        self.inner = inner
        self.changes = changes

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None) -> HttpResponse:
        response = self.inner.request(method, url, headers=headers, body=body)
        if response.status == 200 and response.headers.get("content-type", "").startswith("application/json"):
            payload = {**json.loads(response.body), **self.changes}
            return HttpResponse(response.status, response.headers, json.dumps(payload).encode())
        return response


@dataclass
class FakeHttp:
    """Answers from a queue and records every request."""

    answers: list[HttpResponse | Exception] = field(default_factory=list)
    sent: list[tuple[str, str, dict[str, str], bytes | None]] = field(default_factory=list)

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None) -> HttpResponse:
        self.sent.append((method, url, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


RESOURCE = "https://utility.example/espi/1_1/resource"
REAL = UtilityConfig(
    utility_id="example",
    utility_name=UtilityName.OTHER,
    display_name="Example Utility",
    transmission_regions=(TransmissionRegion.CAISO,),
    authorize_url="https://login.utility.example/oauth/authorize?brand=x",
    token_url="https://utility.example/oauth/token",
    resource_base_url=RESOURCE,
    revoke_url="https://utility.example/oauth/revoke",
    client_id="client one",
    client_secret_arn=None,
    scope="FB=1_3;IntervalDuration=900",
)
FIXED_NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _json(status: int, payload: Any) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())


def _tokens(**changes: Any) -> TokenSet:
    values: dict[str, Any] = {
        "access_token": "at",
        "expires_at": FIXED_NOW + timedelta(hours=1),
        "scope": "s",
        "refresh_token": "rt",
        "resource_uri": f"{RESOURCE}/Subscription/9",
        **changes,
    }
    return TokenSet(**values)


def _adapter(http: FakeHttp, secret: str | None = None, config: UtilityConfig = REAL) -> GreenButtonAdapter:
    return GreenButtonAdapter(
        config, "https://api.example/dev", client_secret=secret, http=http, clock=lambda: FIXED_NOW
    )


def test_authorize_url_carries_pkce_and_keeps_the_endpoints_query() -> None:
    url = _adapter(FakeHttp()).authorize_url(state="st", code_challenge="ch", redirect_uri="https://a.example/cb")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://login.utility.example/oauth/authorize"
    query = parse_qs(parts.query)
    assert query == {
        "brand": ["x"],
        "response_type": ["code"],
        "client_id": ["client one"],
        "redirect_uri": ["https://a.example/cb"],
        "scope": ["FB=1_3;IntervalDuration=900"],
        "state": ["st"],
        "code_challenge": ["ch"],
        "code_challenge_method": ["S256"],
    }


def test_a_confidential_client_uses_basic_auth_and_a_public_one_sends_its_id() -> None:
    answer = _json(200, {"access_token": "a", "token_type": "bearer", "expires_in": "120"})
    confidential = FakeHttp([answer])
    tokens = _adapter(confidential, secret="s3cr:t").exchange_code(code="c", code_verifier="v", redirect_uri="r")
    _, url, headers, body = confidential.sent[0]
    assert url == "https://utility.example/oauth/token"
    assert headers["Authorization"] == "Basic Y2xpZW50K29uZTpzM2NyJTNBdA=="  # form-encoded id:secret
    assert "client_id" not in parse_qs((body or b"").decode())
    assert tokens.expires_at == FIXED_NOW + timedelta(seconds=120) and tokens.scope == REAL.scope

    public = FakeHttp([answer])
    _adapter(public).exchange_code(code="c", code_verifier="v", redirect_uri="r")
    _, _, headers, body = public.sent[0]
    assert "Authorization" not in headers
    assert parse_qs((body or b"").decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["c"],
        "redirect_uri": ["r"],
        "code_verifier": ["v"],
        "client_id": ["client one"],
    }


@pytest.mark.parametrize(
    ("answer", "retryable", "fragment"),
    [
        (_json(400, {"error": "invalid_grant", "error_description": "code=abc expired"}), False, "invalid_grant"),
        (_json(401, {"error": "invalid_client"}), False, "invalid_client"),
        (_json(400, {"error": "<script>"}), False, "(error,"),
        (HttpResponse(503, {}, b"busy"), True, "503"),
        (HttpResponse(429, {}, b""), True, "429"),
        (HttpResponse(302, {"location": "https://elsewhere.example"}, b""), False, "redirect"),
        (HttpResponse(200, {}, b"<html>"), False, "not JSON"),
        (_json(200, {"token_type": "bearer"}), False, "no access_token"),
        (_json(200, {"access_token": "a", "token_type": "mac"}), False, "Bearer"),
        (HttpTransportError("TimeoutError"), True, "could not be reached"),
    ],
)
def test_token_endpoint_failures(answer: HttpResponse | Exception, retryable: bool, fragment: str) -> None:
    with pytest.raises(UtilityError) as raised:
        _adapter(FakeHttp([answer])).exchange_code(code="c", code_verifier="v", redirect_uri="r")
    assert raised.value.retryable is retryable
    assert fragment in raised.value.reason
    assert "abc" not in raised.value.reason  # the utility's description is not echoed


def test_a_refused_refresh_means_the_authorization_is_gone() -> None:
    with pytest.raises(AuthorizationRevoked):
        _adapter(FakeHttp([_json(400, {"error": "invalid_grant"})])).refresh(_tokens())
    with pytest.raises(AuthorizationRevoked):
        _adapter(FakeHttp()).refresh(_tokens(refresh_token=None))


def test_refresh_keeps_what_the_utility_does_not_resend() -> None:
    http = FakeHttp([_json(200, {"access_token": "new", "token_type": "Bearer", "expires_in": 60})])
    refreshed = _adapter(http).refresh(_tokens())
    assert refreshed.access_token == "new" and refreshed.refresh_token == "rt" and refreshed.scope == "s"
    assert refreshed.resource_uri == f"{RESOURCE}/Subscription/9"


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (401, AccessTokenRejected, True),
        (403, AccessTokenRejected, True),
        (500, UtilityError, True),
        (404, UtilityError, False),
        (301, UtilityError, False),
    ],
)
def test_resource_failures(status: int, kind: type[UtilityError], retryable: bool) -> None:
    with pytest.raises(kind) as raised:
        _adapter(FakeHttp([HttpResponse(status, {}, b"")])).service_points(_tokens())
    assert raised.value.retryable is retryable


def test_data_requests_carry_the_bearer_token_and_the_espi_window() -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    feed = interval_block_feed(
        "UP/1",
        [IntervalReading(start + timedelta(minutes=15 * i), 900, consumed_kwh=0.2) for i in range(8)],
        base_url=f"{RESOURCE}/Subscription/9",
    )
    http = FakeHttp([HttpResponse(200, {}, feed)])
    readings = _adapter(http).interval_data(
        _tokens(), "UP 1", start + timedelta(minutes=30), start + timedelta(hours=1)
    )
    assert [r.start for r in readings] == [start + timedelta(minutes=30), start + timedelta(minutes=45)]
    method, url, headers, _ = http.sent[0]
    assert method == "GET" and headers["Authorization"] == "Bearer at"
    assert url == (
        f"{RESOURCE}/Subscription/9/UsagePoint/UP%201/MeterReading/01/IntervalBlock"
        "?published-min=2026-02-01T00%3A30%3A00Z&published-max=2026-02-01T01%3A00%3A00Z"
    )


def test_a_missing_reading_type_is_fetched_through_the_meter_reading() -> None:
    block = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"><entry><content>'
        b"<espi:IntervalBlock><espi:IntervalReading><espi:timePeriod><espi:duration>3600</espi:duration>"
        b"<espi:start>1769904000</espi:start></espi:timePeriod><espi:value>2</espi:value></espi:IntervalReading>"
        b"</espi:IntervalBlock></content></entry></feed>"
    )
    meter_reading = (
        b'<entry xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">'
        b'<link rel="related" href="https://utility.example/espi/1_1/resource/ReadingType/7"/>'
        b"<content><espi:MeterReading/></content></entry>"
    )
    reading_type = (
        b'<entry xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"><content><espi:ReadingType>'
        b"<espi:flowDirection>1</espi:flowDirection><espi:powerOfTenMultiplier>3</espi:powerOfTenMultiplier>"
        b"<espi:uom>72</espi:uom></espi:ReadingType></content></entry>"
    )
    http = FakeHttp([HttpResponse(200, {}, body) for body in (block, meter_reading, reading_type)])
    start = datetime(2026, 2, 1, tzinfo=UTC)
    [reading] = _adapter(http).interval_data(_tokens(), "1", start, start + timedelta(days=1))
    assert reading.consumed_kwh == 2.0 and reading.duration_seconds == 3600  # 2 kWh, hourly, not split
    assert [url for _, url, _, _ in http.sent][1:] == [
        f"{RESOURCE}/Subscription/9/UsagePoint/1/MeterReading/01",
        "https://utility.example/espi/1_1/resource/ReadingType/7",
    ]


def test_stored_tokens_pointing_elsewhere_are_not_used() -> None:
    http = FakeHttp()
    for bad_id in ("", "..", "a/../../admin"):
        with pytest.raises(UtilityError):
            _adapter(http).interval_data(_tokens(), bad_id, FIXED_NOW - timedelta(days=1), FIXED_NOW)
    with pytest.raises(UtilityError):
        _adapter(http).service_points(_tokens(resource_uri="https://evil.example/espi/1_1/resource/Subscription/9"))
    with pytest.raises(UtilityError):
        _adapter(http).service_points(_tokens(resource_uri=None))
    assert not http.sent


def test_revocation() -> None:
    http = FakeHttp([HttpResponse(200, {}, b"")])
    _adapter(http).revoke(_tokens())
    _, url, _, body = http.sent[0]
    assert url == REAL.revoke_url
    assert parse_qs((body or b"").decode())["token_type_hint"] == ["refresh_token"]
    with pytest.raises(UtilityError) as busy:
        _adapter(FakeHttp([HttpResponse(503, {}, b"")])).revoke(_tokens())
    assert busy.value.retryable
    without = UtilityConfig(**{**REAL.__dict__, "revoke_url": None})
    with pytest.raises(UtilityError):
        _adapter(FakeHttp(), config=without).revoke(_tokens())


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        (f"{RESOURCE}/Subscription/9", True),
        (RESOURCE, True),
        ("https://UTILITY.example:443/espi/1_1/resource/Subscription/9", True),
        ("http://utility.example/espi/1_1/resource/Subscription/9", False),  # scheme
        ("https://utility.example:8443/espi/1_1/resource/Subscription/9", False),  # port
        ("https://utility.example.evil/espi/1_1/resource/Subscription/9", False),  # host
        ("https://evil@utility.example/espi/1_1/resource/Subscription/9", False),  # userinfo
        ("https://utility.example/espi/1_1/resource-x/Subscription/9", False),  # sibling prefix
        ("https://utility.example/espi/1_1/resource/../../admin", False),  # dot segments
        ("https://utility.example/espi/1_1/resource/%2e%2e/admin", False),  # encoded dots
        ("https://utility.example/espi/1_1/resource/a%2fb", False),  # encoded slash
        ("https://utility.example/espi/1_1/resource/9?x=1", False),  # query
        ("https://utility.example/espi/1_1/resource/9#x", False),  # fragment
        ("https://utility.example/espi/1_1/resource\\..\\admin", False),  # backslash
        ("https://utility.example/espi/1_1/resource/9 x", False),  # whitespace
        ("https://utility.example:99999/espi/1_1/resource/9", False),  # invalid port
        ("//utility.example/espi/1_1/resource/9", False),  # no scheme
    ],
)
def test_the_resource_server_guard(url: str, inside: bool) -> None:
    assert is_under(url, RESOURCE) is inside


def test_endpoints_are_joined_under_the_api_base_and_need_https() -> None:
    assert absolute_endpoint("/demo-utility/oauth/token", "https://x.execute-api.us-east-1.amazonaws.com/dev/") == (
        "https://x.execute-api.us-east-1.amazonaws.com/dev/demo-utility/oauth/token"
    )
    assert absolute_endpoint("/demo-utility/oauth/token", "http://127.0.0.1:3000") == (
        "http://127.0.0.1:3000/demo-utility/oauth/token"
    )
    for bad, base in (
        ("http://utility.example/token", "https://api.example"),
        ("/demo-utility/oauth/token", "http://api.example.com"),
        ("demo-utility/oauth/token", "https://api.example"),
        ("//evil.example/token", "https://api.example"),
        ("ftp://utility.example/token", "https://api.example"),
    ):
        with pytest.raises(ValueError):
            absolute_endpoint(bad, base)


# ----- registry: real utilities only when configured, secrets from Secrets Manager -----------------------------


def test_real_utilities_are_offered_only_with_their_secret() -> None:
    unconfigured = UtilityRegistry()
    assert [u.utility_id for u in unconfigured.utilities_for(TransmissionRegion.CAISO, include_demo=True)] == ["demo"]
    assert unconfigured.utilities_for(TransmissionRegion.CAISO, include_demo=False) == []
    assert unconfigured.utility_by_id("pge") is None

    # The variables reach the registry through a function's settings (UTILITY_SYNC_QUEUE_URL names no utility)
    environ = {
        "UTILITY_PGE_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:pge",
        "UTILITY_CECONY_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:coned",
        "UTILITY_CECONY_REVOKE_URL": "",
        "UTILITY_CECONY_SCOPE": "FB=4_5",
        "UTILITY_SYNC_QUEUE_URL": "https://sqs.example/queue",
        "METERS_TABLE_NAME": "not a utility setting",
    }
    configured = wiring.utility_registry(UtilityProviderSettings.from_environ(environ))
    caiso = configured.utilities_for(TransmissionRegion.CAISO, include_demo=False)
    assert [u.utility_id for u in caiso] == ["pge"]
    nyiso = configured.utilities_for(TransmissionRegion.NYISO, include_demo=True)
    assert [u.utility_id for u in nyiso] == ["cecony", "demo"]
    coned = configured.utility_by_id("cecony")
    assert coned is not None and coned.revoke_url is None and coned.scope == "FB=4_5"
    assert coned.client_secret_arn == "arn:aws:secretsmanager:us-east-1:1:secret:coned"
    assert configured.utilities_for(TransmissionRegion.ERCOT, include_demo=True) == []


def test_adapter_for_reads_the_client_credentials_from_secrets_manager(aws: DynamoDBClient) -> None:
    secrets.reset_secret_cache()
    secrets_client = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets_client.create_secret(
        Name="utility-pge", SecretString=json.dumps({"client_id": "pge-client", "client_secret": "pge-secret"})
    )["ARN"]
    config = UtilityRegistry({"UTILITY_PGE_CLIENT_SECRET_ARN": arn}).utility_by_id("pge")
    assert config is not None
    try:
        http = FakeHttp([_json(200, {"access_token": "a", "token_type": "Bearer"})] * 2)
        adapter = adapter_for(config, "https://api.example/dev", http=http)
        url = adapter.authorize_url(state="s", code_challenge="c", redirect_uri="https://api.example/dev/cb")
        assert parse_qs(urlsplit(url).query)["client_id"] == ["pge-client"]
        adapter.exchange_code(code="c", code_verifier="v", redirect_uri="r")
        assert http.sent[0][2]["Authorization"].startswith("Basic ")
        # Cached per ARN: a second adapter does not read the secret again, even if it is gone
        secrets_client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        adapter_for(config, "https://api.example/dev", http=http).exchange_code(
            code="c", code_verifier="v", redirect_uri="r"
        )
        secrets.reset_secret_cache()
        with pytest.raises(UtilityError) as raised:
            adapter_for(config, "https://api.example/dev", http=http)
        assert raised.value.retryable and arn not in raised.value.reason
    finally:
        secrets.reset_secret_cache()


def test_a_utility_without_a_client_id_cannot_be_used() -> None:
    unconfigured = UtilityConfig(**{**REAL.__dict__, "client_id": ""})
    with pytest.raises(UtilityError):
        adapter_for(unconfigured, "https://api.example", http=FakeHttp())
