"""The demo utility's OAuth server and Green Button feeds, on the in-memory store with a controlled clock."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from meterhub.demo_utility.api_models import DemoAuthorizeView
from meterhub.demo_utility.use_cases import SCENARIOS, DemoUtility, JsonResult, OAuthError, ResourceError, customer_for
from meterhub.platform.hashing import secret_hash
from meterhub.utility_providers.records.registry import DEMO_CLIENT_ID
from meterhub.utility_providers.rules.greenbutton import parse_interval_blocks, parse_usage_points
from meterhub.utility_providers.rules.pkce import pkce_pair

from tests.fakes.demo_utility import InMemoryDemoStore

BASE = "http://127.0.0.1:3000"
CALLBACK = f"{BASE}/connect/callback"
NOW = datetime(2026, 6, 15, 12, 7, 30, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("no_network")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Harness:
    """A demo utility plus the client side of one authorization (verifier, state) for the tests."""

    def __init__(self) -> None:
        self.store = InMemoryDemoStore()
        self.clock = Clock()
        self.server = DemoUtility(self.store, base_url=BASE, clock=self.clock)
        self.verifier, self.challenge = pkce_pair()

    def params(self, **changes: str | None) -> dict[str, str]:
        values: dict[str, str | None] = {
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": CALLBACK,
            "scope": "FB=1_3_4",
            "state": "state-123",
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **changes,
        }
        return {k: v for k, v in values.items() if v is not None}

    def submit(self, scenario: str = "success", username: str = "alice", **changes: str | None) -> str:
        view = self.server.authorize_form(self.params(**changes))
        assert isinstance(view, DemoAuthorizeView), view
        form = {**dict(view.hidden_fields), "username": username, "password": "pw", "scenario": scenario}
        location = self.server.authorize_submit(form)
        assert isinstance(location, str), location
        return location

    def code(self, scenario: str = "success", username: str = "alice") -> str:
        query = parse_qs(urlsplit(self.submit(scenario, username)).query)
        assert query["state"] == ["state-123"]
        return query["code"][0]

    def exchange(self, code: str, **changes: str | None) -> JsonResult:
        form: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": self.verifier,
            "client_id": DEMO_CLIENT_ID,
            **changes,
        }
        return self.server.token({k: v for k, v in form.items() if v is not None})

    def tokens(self, username: str = "alice") -> dict[str, Any]:
        result = self.exchange(self.code(username=username))
        assert result.status == 200, result.body
        return result.body

    def refresh(self, refresh_token: str) -> JsonResult:
        return self.server.token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": DEMO_CLIENT_ID}
        )

    def points(self, body: dict[str, Any]) -> bytes:
        return self.server.usage_points(f"Bearer {body['access_token']}", subscription(body))


def subscription(body: dict[str, Any]) -> str:
    return str(body["resourceURI"]).rsplit("/", 1)[1]


@pytest.fixture
def demo() -> Harness:
    return Harness()


def _error(result: JsonResult) -> str:
    return str(result.body.get("error"))


# ----- authorize -----------------------------------------------------------------------------------------------


def test_the_sign_in_form_carries_the_oauth_request(demo: Harness) -> None:
    view = demo.server.authorize_form(demo.params())
    assert isinstance(view, DemoAuthorizeView)
    assert view.action_url == f"{BASE}/demo-utility/oauth/authorize"
    assert dict(view.hidden_fields) == demo.params()
    assert [value for value, _ in view.scenarios] == [
        "success",
        "decline",
        "utility_error",
        "expired_code",
        "no_address",
    ]
    assert view.scenarios == SCENARIOS


@pytest.mark.parametrize(
    "changes",
    [
        {"client_id": "someone-else"},
        {"client_id": None},
        {"redirect_uri": "https://attacker.example/connect/callback"},  # another origin
        {"redirect_uri": "http://127.0.0.1:3001/connect/callback"},  # another port
        {"redirect_uri": f"{BASE}/somewhere/else"},  # not the callback
        {"redirect_uri": f"{BASE}/connect/callback#fragment"},
        {"redirect_uri": "http://user@127.0.0.1:3000/connect/callback"},
        {"redirect_uri": "/connect/callback"},  # not absolute
        {"redirect_uri": "javascript:alert(1)//connect/callback"},
        {"redirect_uri": None},
    ],
)
def test_unknown_clients_and_unregistered_redirects_get_a_page_never_a_redirect(
    demo: Harness, changes: dict[str, str | None]
) -> None:
    outcome = demo.server.authorize_form(demo.params(**changes))
    assert isinstance(outcome, OAuthError)
    assert outcome.redirect_to is None and outcome.status == 400


def test_http_redirects_are_refused_unless_on_loopback() -> None:
    server = DemoUtility(InMemoryDemoStore(), base_url="http://api.example.com")
    _, challenge = pkce_pair()
    outcome = server.authorize_form(
        {
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": "http://api.example.com/connect/callback",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    assert isinstance(outcome, OAuthError) and outcome.redirect_to is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"state": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
    ],
)
def test_other_request_errors_go_back_to_the_client(demo: Harness, changes: dict[str, str | None], error: str) -> None:
    outcome = demo.server.authorize_form(demo.params(**changes))
    assert isinstance(outcome, OAuthError) and outcome.redirect_to is not None
    assert outcome.redirect_to.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(outcome.redirect_to).query)
    assert query["error"] == [error]
    if changes.get("state", "x") is not None:
        assert query["state"] == ["state-123"]


def test_success_issues_a_code_stored_only_as_its_hash(demo: Harness) -> None:
    code = demo.code()
    assert len(code) >= 40
    assert list(demo.store.codes) == [secret_hash(code)]
    assert code not in repr(demo.store.codes)


def test_decline_redirects_with_access_denied(demo: Harness) -> None:
    query = parse_qs(urlsplit(demo.submit("decline")).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["state-123"] and "code" not in query
    assert not demo.store.codes


def test_utility_error_redirects_with_server_error(demo: Harness) -> None:
    query = parse_qs(urlsplit(demo.submit("utility_error")).query)
    assert query["error"] == ["server_error"] and query["error_description"][0]
    assert query["state"] == ["state-123"]


def test_expired_code_scenario_fails_at_the_token_endpoint(demo: Harness) -> None:
    result = demo.exchange(demo.code("expired_code"))
    assert result.status == 400 and _error(result) == "invalid_grant"


def test_an_unknown_scenario_or_a_forged_form_gets_a_page(demo: Harness) -> None:
    view = demo.server.authorize_form(demo.params())
    assert isinstance(view, DemoAuthorizeView)
    form = {**dict(view.hidden_fields), "username": "a", "password": "b"}
    outcome = demo.server.authorize_submit({**form, "scenario": "steal"})
    assert isinstance(outcome, OAuthError) and outcome.redirect_to is None
    forged = demo.server.authorize_submit({**form, "scenario": "success", "redirect_uri": "https://evil.example/x"})
    assert isinstance(forged, OAuthError) and forged.redirect_to is None


def test_existing_query_parameters_on_the_redirect_uri_are_kept(demo: Harness) -> None:
    location = demo.submit(redirect_uri=f"{CALLBACK}?tenant=7")
    query = parse_qs(urlsplit(location).query)
    assert query["tenant"] == ["7"] and "code" in query


# ----- token -------------------------------------------------------------------------------------------------


def test_a_code_is_exchanged_for_tokens(demo: Harness) -> None:
    result = demo.exchange(demo.code())
    assert result.status == 200
    assert result.headers["Cache-Control"] == "no-store"
    body = result.body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "FB=1_3_4"
    assert body["access_token"] != body["refresh_token"]
    assert body["resourceURI"].startswith(f"{BASE}/demo-utility/espi/1_1/resource/Subscription/")
    assert body["authorizationURI"].startswith(f"{BASE}/demo-utility/espi/1_1/resource/Authorization/")
    assert secret_hash(body["access_token"]) in demo.store.access
    assert secret_hash(body["refresh_token"]) in demo.store.refresh


def test_pkce_mismatch_is_invalid_grant(demo: Harness) -> None:
    other_verifier, _ = pkce_pair()
    result = demo.exchange(demo.code(), code_verifier=other_verifier)
    assert result.status == 400 and _error(result) == "invalid_grant"


def test_a_code_is_single_use_and_its_replay_ends_the_grant(demo: Harness) -> None:
    code = demo.code()
    first = demo.exchange(code)
    assert first.status == 200
    replay = demo.exchange(code)
    assert replay.status == 400 and _error(replay) == "invalid_grant"
    with pytest.raises(ResourceError) as raised:
        demo.points(first.body)
    assert raised.value.status == 401
    assert _error(demo.refresh(first.body["refresh_token"])) == "invalid_grant"


def test_a_code_expires_after_60_seconds(demo: Harness) -> None:
    code = demo.code()
    demo.clock.now += timedelta(seconds=61)
    assert _error(demo.exchange(code)) == "invalid_grant"


def test_redirect_uri_must_match_the_authorize_request(demo: Harness) -> None:
    result = demo.exchange(demo.code(), redirect_uri=f"{BASE}/other/connect/callback")
    assert result.status == 400 and _error(result) == "invalid_grant"


def test_unknown_codes_are_invalid_grant(demo: Harness) -> None:
    assert _error(demo.exchange("not-a-code")) == "invalid_grant"


def test_a_wrong_client_is_refused(demo: Harness) -> None:
    result = demo.exchange(demo.code(), client_id="someone-else")
    assert result.status == 401 and _error(result) == "invalid_client"
    assert "WWW-Authenticate" in result.headers


def test_basic_client_authentication_is_accepted(demo: Harness) -> None:
    code = demo.code()
    basic = "Basic " + base64.b64encode(f"{DEMO_CLIENT_ID}:any-secret".encode()).decode()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": demo.verifier}
    assert demo.server.token(form, authorization=basic).status == 200
    mismatch = demo.server.token({**form, "client_id": "other"}, authorization=basic)
    assert mismatch.status == 400 and _error(mismatch) == "invalid_request"
    garbled = demo.server.token(form, authorization="Basic !!!")
    assert garbled.status == 401


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": DEMO_CLIENT_ID}, "invalid_request"),
        ({"client_id": DEMO_CLIENT_ID, "grant_type": "password"}, "unsupported_grant_type"),
        ({"client_id": DEMO_CLIENT_ID, "grant_type": "authorization_code", "code": "x"}, "invalid_request"),
        ({"client_id": DEMO_CLIENT_ID, "grant_type": "refresh_token"}, "invalid_request"),
    ],
)
def test_malformed_token_requests(demo: Harness, form: dict[str, str], error: str) -> None:
    result = demo.server.token(form)
    assert result.status == 400 and _error(result) == error


def test_refresh_rotates_both_tokens(demo: Harness) -> None:
    first = demo.tokens()
    refreshed = demo.refresh(first["refresh_token"])
    assert refreshed.status == 200
    second = refreshed.body
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert subscription(second) == subscription(first)
    assert parse_usage_points(demo.points(second))
    # The old refresh token is spent and the old access token is gone
    assert _error(demo.refresh(first["refresh_token"])) == "invalid_grant"
    with pytest.raises(ResourceError) as raised:
        demo.points(first)
    assert raised.value.status == 401


def test_refresh_tokens_expire_after_30_days(demo: Harness) -> None:
    body = demo.tokens()
    demo.clock.now += timedelta(days=30, seconds=1)
    assert _error(demo.refresh(body["refresh_token"])) == "invalid_grant"


def test_refresh_with_another_client_is_refused(demo: Harness) -> None:
    body = demo.tokens()
    result = demo.server.token(
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": "other"}
    )
    assert result.status == 401


# ----- revoke ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_either_token_ends_the_grant(demo: Harness, which: str) -> None:
    body = demo.tokens()
    result = demo.server.revoke({"token": body[which], "token_type_hint": which, "client_id": DEMO_CLIENT_ID})
    assert result.status == 200
    with pytest.raises(ResourceError) as raised:
        demo.points(body)
    assert raised.value.status == 401 and raised.value.error == "invalid_token"
    assert _error(demo.refresh(body["refresh_token"])) == "invalid_grant"
    assert not demo.store.access and not demo.store.refresh


def test_revoking_an_unknown_token_still_answers_200(demo: Harness) -> None:
    assert demo.server.revoke({"token": "nope", "client_id": DEMO_CLIENT_ID}).status == 200
    assert _error(demo.server.revoke({"client_id": DEMO_CLIENT_ID})) == "invalid_request"
    assert demo.server.revoke({"token": "nope", "client_id": "other"}).status == 401


# ----- feeds ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Basic abc", "Bearer", "Bearer not-a-token"])
def test_feeds_require_a_valid_bearer_token(demo: Harness, authorization: str | None) -> None:
    body = demo.tokens()
    with pytest.raises(ResourceError) as points:
        demo.server.usage_points(authorization, subscription(body))
    with pytest.raises(ResourceError) as intervals:
        demo.server.interval_blocks(authorization, subscription(body), "1", None, None)
    for raised in (points, intervals):
        assert raised.value.status == 401
        assert raised.value.www_authenticate is not None


def test_access_tokens_expire_after_an_hour(demo: Harness) -> None:
    body = demo.tokens()
    demo.clock.now += timedelta(hours=1)
    with pytest.raises(ResourceError) as raised:
        demo.points(body)
    assert raised.value.error == "invalid_token"


def test_a_token_only_covers_its_own_subscription(demo: Harness) -> None:
    body = demo.tokens()
    with pytest.raises(ResourceError) as raised:
        demo.server.usage_points(f"Bearer {body['access_token']}", "0000000000000000")
    assert raised.value.status == 403


@pytest.mark.parametrize(
    ("username", "count", "state", "classification"),
    [
        ("alice", 1, "CA", "RESIDENTIAL"),
        ("two-homes", 2, "CA", "RESIDENTIAL"),
        ("bob ny", 1, "NY", "RESIDENTIAL"),
        ("nyc-business-two", 2, "NY", "COMMERCIAL"),
        ("sunny", 1, "CA", "RESIDENTIAL"),  # "ny" must be a word
    ],
)
def test_customer_data_is_seeded_by_the_username(
    demo: Harness, username: str, count: int, state: str, classification: str
) -> None:
    points = parse_usage_points(demo.points(demo.tokens(username)))
    assert points == list(customer_for(username)) == list(customer_for(username.upper()))
    assert len(points) == count
    assert {p.address.state_or_province_code for p in points if p.address} == {state}
    assert all(p.address for p in points)
    assert {p.customer_classification for p in points} == {classification}
    assert len({p.usage_point_id for p in points}) == count
    # one customer account on the bill, a service agreement of its own per point
    assert len({p.bill_customer_account_number for p in points}) == 1 and points[0].bill_customer_account_number
    assert len({p.bill_service_agreement_number for p in points} - {None}) == count


def _intervals(demo: Harness, body: dict[str, Any], since: str | None, until: str | None) -> list[Any]:
    point = customer_for("alice")[0]
    document = demo.server.interval_blocks(
        f"Bearer {body['access_token']}", subscription(body), point.usage_point_id, since, until
    )
    return parse_interval_blocks(document)


def test_a_day_of_intervals_has_96_plausible_15_minute_readings(demo: Harness) -> None:
    body = demo.tokens()
    readings = _intervals(demo, body, "2026-06-13T00:00:00Z", "2026-06-14T00:00:00Z")
    assert len(readings) == 96
    assert all(r.duration_seconds == 900 and r.generated_kwh is None for r in readings)
    assert readings[0].start == datetime(2026, 6, 13, tzinfo=UTC)
    kwh = [r.consumed_kwh for r in readings]
    assert all(0.01 < k < 2.0 for k in kwh)
    assert 5 < sum(kwh) < 40  # a household's day
    # Local (Pacific) night 01:00-05:00 is 09:00-13:00 UTC; the evening 18:00-21:00 is 01:00-04:00 UTC
    night = sum(kwh[36:52]) / 16
    evening = sum(kwh[4:16]) / 12
    assert evening > 2 * night
    # Deterministic, and unix seconds work as well as ESPI dates
    assert _intervals(demo, body, "1781308800", "1781395200") == readings


def test_requests_are_limited_to_31_days_and_400_days_of_history(demo: Harness) -> None:
    body = demo.tokens()
    with pytest.raises(ResourceError) as too_long:
        _intervals(demo, body, "2026-05-01T00:00:00Z", "2026-06-02T00:00:00Z")
    assert too_long.value.status == 400
    old = _intervals(demo, body, "2025-05-01T00:00:00Z", "2025-05-20T00:00:00Z")
    assert old and min(r.start for r in old) == datetime(2025, 5, 11, tzinfo=UTC)  # 400 days before June 15
    recent = _intervals(demo, body, "2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z")
    assert max(r.start for r in recent) == datetime(2026, 6, 15, 11, 45, tzinfo=UTC)  # last complete interval
    assert len(_intervals(demo, body, None, None)) == 96  # default: the last day


@pytest.mark.parametrize(
    ("since", "until"),
    [("2026-06-14T00:00:00Z", "2026-06-13T00:00:00Z"), ("yesterday", None), ("2026-06-14T00:00:00Z", "x")],
)
def test_bad_windows_are_refused(demo: Harness, since: str | None, until: str | None) -> None:
    with pytest.raises(ResourceError) as raised:
        _intervals(demo, demo.tokens(), since, until)
    assert raised.value.status == 400


def test_an_unknown_usage_point_is_not_found(demo: Harness) -> None:
    body = demo.tokens()
    with pytest.raises(ResourceError) as raised:
        demo.server.interval_blocks(f"Bearer {body['access_token']}", subscription(body), "999", None, None)
    assert raised.value.status == 404


def test_the_no_address_scenario_serves_usage_points_without_a_service_address(demo: Harness) -> None:
    # Given a customer who approved sharing usage data only
    result = demo.exchange(demo.code("no_address", username="two points"))
    assert result.status == 200, result.body
    # Then the feed has the customer's usage points, without any ServiceLocation, and interval data as usual
    document = demo.points(result.body)
    assert b"ServiceLocation" not in document
    points = parse_usage_points(document)
    assert [p.usage_point_id for p in points] == [p.usage_point_id for p in customer_for("two points")]
    assert {p.address for p in points} == {None} and all(p.account_number for p in points)
    # And a refreshed grant keeps sharing the same (the subscription says what it shares)
    refreshed = demo.refresh(str(result.body["refresh_token"]))
    assert refreshed.status == 200 and {p.address for p in parse_usage_points(demo.points(refreshed.body))} == {None}
    # While the success scenario's feed carries the addresses
    assert all(p.address for p in parse_usage_points(demo.points(demo.tokens("two points"))))
