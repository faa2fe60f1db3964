"""The Connect functions on moto (DynamoDB, real KMS emulation): pages, callback and the Connect API.

The utility itself is the one part replaced here (a real utility's login cannot exist in a test); the
browser e2e test drives the real demo utility over HTTP. Here: cookies and CSRF through real handler
events, tokens encrypted with KMS under an encryption context, never in logs or responses, security
headers on every page, and tenant isolation of the Connect API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from meterhub.partners.use_cases import IssuedKey
from meterhub.utility_providers.ports import UtilityAdapter
from meterhub.utility_providers.records.readings import IntervalReading, ServiceAddress, ServicePoint, TokenSet
from meterhub.utility_providers.records.registry import UtilityConfig, UtilityRegistry

from tests.conftest import (
    REGION,
    FakeLambdaContext,
    Invoke,
    api_event,
    function_environment,
    local_template,
    resource_for,
)

ACCESS_TOKEN = "at-5f0c2e-VERY-SECRET"
REFRESH_TOKEN = "rt-8b1d77-VERY-SECRET"
CODE = "code-0d9a1c-ONE-TIME"


class FakeUtility:
    def __init__(self) -> None:
        self.states: list[str] = []

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        self.states.append(state)
        query = urlencode({"state": state, "code_challenge": code_challenge, "redirect_uri": redirect_uri})
        return f"https://login.utility.example/authorize?{query}"

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        assert code == CODE
        return TokenSet(
            access_token=ACCESS_TOKEN,
            refresh_token=REFRESH_TOKEN,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            scope="FB=1_3_4",
        )

    def refresh(self, tokens: TokenSet) -> TokenSet:
        return tokens

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        return []

    def interval_data(
        self, tokens: TokenSet, usage_point_id: str, start: datetime, end: datetime
    ) -> list[IntervalReading]:
        return []

    def revoke(self, tokens: TokenSet) -> None:
        return None


class Browser:
    """Just enough of a browser: a cookie jar and the handlers behind the routes."""

    def __init__(self, modules: dict[str, ModuleType], context: FakeLambdaContext) -> None:
        self.modules = modules
        self.context = context
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, query: dict[str, str] | None = None, form: dict[str, str] | None = None
    ) -> dict[str, Any]:
        function_id = "ConnectCallbackFunction" if path == "/connect/callback" else "ConnectPagesFunction"
        routes = [(r.method, r.path) for r in local_template().routes if r.function_id == function_id]
        resource, params = resource_for(routes, method, path)
        event = api_event(
            method, resource, path, path_parameters=params, query=query, body=urlencode(form) if form else None
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Host": "127.0.0.1:3000"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        event["headers"] = headers
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
        event["requestContext"]["domainName"] = "127.0.0.1:3000"
        response: dict[str, Any] = self.modules[function_id].lambda_handler(event, self.context)
        for cookie in (response.get("multiValueHeaders") or {}).get("Set-Cookie", []) + response.get("cookies", []):
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name] = value
        return response


@pytest.fixture
def connect(
    aws: Any, partner: IssuedKey, lambda_context: FakeLambdaContext, load_function: Callable[[str], ModuleType]
) -> tuple[Browser, FakeUtility]:
    utility = FakeUtility()

    def adapter_for(config: UtilityConfig, base_url: str) -> UtilityAdapter:
        return utility

    pages = load_function("functions/connect_pages/app.py")
    callback = load_function("functions/connect_callback/app.py")
    # The modules' `adapter_for` is the one seam to the utility (a real utility's login cannot exist here).
    setattr(pages, "adapter_for", adapter_for)  # noqa: B010
    setattr(callback, "adapter_for", adapter_for)  # noqa: B010
    return Browser({"ConnectPagesFunction": pages, "ConnectCallbackFunction": callback}, lambda_context), utility


def _account(partner: IssuedKey) -> str:
    from meterhub.partners.adapters.dynamodb import dynamo_partner_repository

    found = dynamo_partner_repository(function_environment()["PARTNERS_TABLE_NAME"]).get_partner(partner.partner_id)
    assert found is not None
    return found.account


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def _complete_flow(browser: Browser, utility: FakeUtility, account: str, ref_id: str = "site-42") -> dict[str, Any]:
    page = browser.request(
        "GET", "/connect", query={"account": account, "transmissionRegion": "CAISO", "refId": ref_id}
    )
    assert page["statusCode"] == 200
    session_id = browser.cookies["meterhub_connect"]
    sent = browser.request(
        "POST",
        f"/connect/{account}/sessions/{session_id}/authorize",
        form={"csrf_token": _csrf(page["body"]), "consent": "yes", "utility_id": "demo"},
    )
    assert sent["statusCode"] == 303
    state = parse_qs(urlsplit(_headers(sent)["location"]).query)["state"][0]
    return browser.request("GET", "/connect/callback", query={"code": CODE, "state": state})


def _headers(response: dict[str, Any]) -> dict[str, str]:
    multi = {k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items() if v}
    return multi | {k.lower(): v for k, v in (response.get("headers") or {}).items()}


def test_the_page_sets_a_session_cookie_and_security_headers(
    connect: tuple[Browser, FakeUtility], partner: IssuedKey
) -> None:
    browser, _ = connect
    page = browser.request(
        "GET",
        "/connect",
        query={"account": _account(partner), "transmissionRegion": "CAISO", "refId": "<script>x</script>"},
    )
    headers = _headers(page)
    assert page["statusCode"] == 200 and headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    assert "<script>x</script>" not in page["body"] and "&lt;script&gt;" in page["body"]
    cookie = ((page.get("multiValueHeaders") or {}).get("Set-Cookie") or page.get("cookies") or [""])[0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_unknown_partner_is_an_error_page_not_a_stack_trace(connect: tuple[Browser, FakeUtility]) -> None:
    browser, _ = connect
    page = browser.request("GET", "/connect", query={"account": "nobody", "transmissionRegion": "CAISO"})
    assert page["statusCode"] == 404 and "<h1" in page["body"] and "Traceback" not in page["body"]
    assert "frame-ancestors 'none'" in _headers(page)["content-security-policy"]


@pytest.mark.pristine_aws  # it scans the whole Connect table
def test_tokens_are_kms_encrypted_and_never_logged_or_returned(
    connect: tuple[Browser, FakeUtility],
    partner: IssuedKey,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
    capsys: pytest.CaptureFixture[str],
) -> None:
    browser, utility = connect
    done = _complete_flow(browser, utility, _account(partner))
    assert done["statusCode"] == 200 and "all set" in done["body"].lower()
    env = function_environment()
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=env["CONNECT_TABLE_NAME"])["Items"]
    [auth_item] = [i for i in items if i["sk"]["S"].startswith("AUTH#")]
    raw = json.dumps(items, default=str)
    assert ACCESS_TOKEN not in raw and REFRESH_TOKEN not in raw and utility.states[0] not in raw
    doc = json.loads(auth_item["doc"]["S"])
    assert doc["status"] == "COMPLETED"
    kms = boto3.client("kms", region_name=REGION)
    context = {"partner_id": partner.partner_id, "authorization_id": doc["authorization_id"]}
    plaintext = kms.decrypt(CiphertextBlob=auth_item["tokens"]["B"], EncryptionContext=context)["Plaintext"]
    assert ACCESS_TOKEN.encode() in plaintext
    with pytest.raises(kms.exceptions.InvalidCiphertextException):  # bound to its own record
        kms.decrypt(CiphertextBlob=auth_item["tokens"]["B"], EncryptionContext={**context, "partner_id": "other"})
    api = load_function("functions/connect_api/app.py")
    routes = [(r.method, r.path) for r in local_template().routes if r.function_id == "ConnectApiFunction"]
    resource, _ = resource_for(routes, "GET", "/v1.1/connect/connections")
    listed = api.lambda_handler(
        api_event(
            "GET",
            resource,
            "/v1.1/connect/connections",
            query={"ref_id": "site-42"},
            authorizer={"partner_id": partner.partner_id},
        ),
        lambda_context,
    )
    body = json.loads(listed["body"])
    assert body["connections"][0]["authorizations"][0]["status"] == "COMPLETED"
    logged = capsys.readouterr()
    everything = logged.out + logged.err + listed["body"] + done["body"]
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, CODE, utility.states[0]):
        assert secret not in everything
    # nor the session cookie (it would let a log reader resume the customer's session)
    assert browser.cookies["meterhub_connect"] not in logged.out + logged.err


def test_a_redirect_url_in_the_query_string_is_ignored(
    connect: tuple[Browser, FakeUtility], partner: IssuedKey
) -> None:
    browser, _ = connect
    account = _account(partner)
    page = browser.request(
        "GET",
        "/connect",
        query={
            "account": account,
            "transmissionRegion": "CAISO",
            "refId": "r1",
            "redirect_uri": "https://evil.example",
        },
    )
    session_id = browser.cookies["meterhub_connect"]
    sent = browser.request(
        "POST",
        f"/connect/{account}/sessions/{session_id}/authorize",
        form={"csrf_token": _csrf(page["body"]), "consent": "yes", "utility_id": "demo"},
    )
    state = parse_qs(urlsplit(_headers(sent)["location"]).query)["state"][0]
    assert "evil" not in _headers(sent)["location"]
    done = browser.request(
        "GET",
        "/connect/callback",
        query={
            "code": CODE,
            "state": state,
            "redirect_uri": "https://evil.example/x",
            "final_redirect_url": "https://evil.example/y",
        },
    )
    assert done["statusCode"] == 200 and "evil.example" not in json.dumps(done)


def test_one_partner_cannot_see_or_revoke_anothers_connections(
    connect: tuple[Browser, FakeUtility],
    partner: IssuedKey,
    other_partner: IssuedKey,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
) -> None:
    browser, utility = connect
    _complete_flow(browser, utility, _account(partner))
    api = load_function("functions/connect_api/app.py")
    routes = [(r.method, r.path) for r in local_template().routes if r.function_id == "ConnectApiFunction"]

    def call(method: str, path: str, caller: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
        resource, params = resource_for(routes, method, path)
        event = api_event(
            method, resource, path, path_parameters=params, query=query, authorizer={"partner_id": caller}
        )
        response = api.lambda_handler(event, lambda_context)
        return int(response["statusCode"]), json.loads(response["body"])

    status, mine = call("GET", "/v1.1/connect/connections", partner.partner_id)
    assert status == 200 and [c["ref_id"] for c in mine["connections"]] == ["site-42"]
    authorization_id = mine["connections"][0]["authorizations"][0]["authorization_id"]
    status, theirs = call("GET", "/v1.1/connect/connections", other_partner.partner_id, {"ref_id": "site-42"})
    assert status == 200 and theirs["connections"] == []
    status, _ = call("POST", f"/v1.1/connect/authorizations/{authorization_id}/revoke", other_partner.partner_id)
    assert status == 404
    status, revoked = call("POST", f"/v1.1/connect/authorizations/{authorization_id}/revoke", partner.partner_id)
    assert status == 200 and revoked["status"] == "REVOKED"
    status, _ = call("POST", "/v1.1/connect/authorizations/not-a-uuid/revoke", partner.partner_id)
    assert status == 400


def test_the_forms_may_lead_to_the_utility_and_to_the_partners_final_page(
    connect: tuple[Browser, FakeUtility], partner: IssuedKey
) -> None:
    # Browsers apply CSP form-action to the redirects after a form post: "Continue" ends at the utility,
    # "No thanks" at the partner's final redirect URL, so both origins must be allowed (and nothing else).
    from meterhub.partners.adapters.dynamodb import dynamo_partner_repository

    repo = dynamo_partner_repository(function_environment()["PARTNERS_TABLE_NAME"])
    repo.set_connect_redirect_url(partner.partner_id, "https://acme.example:8443/connected")
    browser, _ = connect
    page = browser.request("GET", "/connect", query={"account": _account(partner), "transmissionRegion": "CAISO"})
    policy = _headers(page)["content-security-policy"]
    form_action = next(part for part in policy.split(";") if part.strip().startswith("form-action"))
    assert "https://acme.example:8443" in form_action and "http://127.0.0.1:3000" in form_action
    assert "*" not in form_action and "https:" not in form_action.split()


@pytest.mark.pristine_aws  # the refresh reads every authorization
def test_the_daily_refresh_queues_a_sync_for_every_live_authorization_only(
    connect: tuple[Browser, FakeUtility],
    partner: IssuedKey,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
) -> None:
    browser, utility = connect
    account = _account(partner)
    _complete_flow(browser, utility, account, ref_id="live-1")
    browser.cookies.clear()
    _complete_flow(browser, utility, account, ref_id="live-2")
    browser.cookies.clear()
    page = browser.request("GET", "/connect", query={"account": account, "transmissionRegion": "CAISO", "refId": "x"})
    browser.request(  # an INITIATED authorization that never comes back is not refreshed
        "POST",
        f"/connect/{account}/sessions/{browser.cookies['meterhub_connect']}/authorize",
        form={"csrf_token": _csrf(page["body"]), "consent": "yes", "utility_id": "demo"},
    )
    refresh = load_function("functions/connect_refresh/app.py")
    assert refresh.lambda_handler({"source": "aws.events", "detail": {}}, lambda_context) == {"queued": 2}
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = function_environment()["UTILITY_SYNC_QUEUE_URL"]
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert {b["partner_id"] for b in bodies} == {partner.partner_id} and len(bodies) == 2
    # Revoking takes an authorization out of the daily refresh
    from meterhub.connect.adapters.dynamodb import dynamo_connect_repository
    from meterhub.connect.use_cases import connections

    repo = dynamo_connect_repository(function_environment()["CONNECT_TABLE_NAME"])
    [(_, revoked_id), _other] = sorted(repo.active_authorizations())
    from meterhub.connect.adapters.token_vault import kms_token_vault
    from meterhub.meters.adapters.dynamodb import dynamo_meter_repository

    connections.revoke_authorization(
        repo,
        dynamo_meter_repository(function_environment()["METERS_TABLE_NAME"]),
        kms_token_vault(function_environment()["CONNECT_TOKENS_KEY_ID"]),
        lambda config, base: utility,
        partner.partner_id,
        revoked_id,
        lambda: datetime.now(UTC),
        utilities=UtilityRegistry(),
    )
    assert [aid for _, aid in repo.active_authorizations()] == [_other[1]]


@pytest.mark.pristine_aws  # it reads whole queues of every partner's events
def test_every_status_change_of_the_flow_becomes_one_event_and_completion_one_sync(
    connect: tuple[Browser, FakeUtility],
    partner: IssuedKey,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
) -> None:
    from meterhub_dev.local.event_sources import streams_client

    from tests.conftest import receive_all

    browser, utility = connect
    _complete_flow(browser, utility, _account(partner), ref_id="site-77")
    env = function_environment()
    arn = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=env["CONNECT_TABLE_NAME"])["Table"][
        "LatestStreamArn"
    ]
    streams = streams_client(None, REGION)
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records.extend(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])
    for record in records:
        record["dynamodb"].pop("ApproximateCreationDateTime", None)
    handler = load_function("functions/connect_events/app.py").lambda_handler
    assert handler({"Records": records}, lambda_context) == {"batchItemFailures": []}
    assert handler({"Records": records}, lambda_context) == {"batchItemFailures": []}  # a redelivered batch
    sqs = boto3.client("sqs", region_name=REGION)
    events = [json.loads(m["Body"]) for m in receive_all(sqs, env["WEBHOOK_EVENTS_QUEUE_URL"])]
    by_id = {e["webhook_event_id"]: e["payload"] for e in events}
    assert len(by_id) == 5  # the redelivery republished the same ids: receivers dedupe on them
    assert sorted((p["webhook_event_type"], p["status"]) for p in by_id.values()) == [
        ("connect_session.authorization_updated", "COMPLETED"),
        ("connect_session.authorization_updated", "INITIATED"),
        ("connect_session.updated", "COMPLETED"),
        ("connect_session.updated", "CREATED"),
        ("connect_session.updated", "UPDATED"),
    ]
    assert {p["partner_reference"] for p in by_id.values()} == {"site-77"}
    assert all(e["partner_id"] == partner.partner_id for e in events)
    syncs = {m["Body"] for m in receive_all(sqs, env["UTILITY_SYNC_QUEUE_URL"])}
    assert len(syncs) == 1 and partner.partner_id in next(iter(syncs))


# ----- partner-issued links: who may attach a utility account to the partner's meter ------------------------


class AccountsUtility(FakeUtility):
    """Each one-time code is a different person's login: the code names the utility account it unlocks."""

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        return TokenSet(access_token=f"at-{code}", expires_at=datetime.now(UTC) + timedelta(hours=1), scope="FB=1")

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        account = tokens.access_token.removeprefix("at-")
        address = ServiceAddress(street_1="1 Main St", city="Oakland", state_or_province_code="CA", postal_code="94612")
        return [
            ServicePoint(
                usage_point_id=f"up-{account}",
                address=address,
                customer_classification="RESIDENTIAL",
                account_number=account,
                meter_serial_number=f"serial-{account}",
                tariff=f"tariff-{account}",
            )
        ]


def _connect_and_sync(
    browser: Browser, utility: AccountsUtility, partner_id: str, url: str, code: str
) -> tuple[int, str | None]:
    """Open `url` in `browser`, consent, come back with `code`, then run the utility sync of the authorization
    the callback completed: (the page's status, the authorization id) — no id when the page refused."""
    from meterhub.connect.adapters.dynamodb import dynamo_connect_repository
    from meterhub.connect.adapters.token_vault import kms_token_vault
    from meterhub.connect.use_cases.sync import UtilitySync
    from meterhub.intervals.adapters.dynamodb import dynamo_interval_store
    from meterhub.meters.adapters.dynamodb import dynamo_meter_repository

    parts = urlsplit(url)
    path = parts.path.removeprefix("/local")
    page = browser.request("GET", path, query={k: v[0] for k, v in parse_qs(parts.query).items()})
    if page["statusCode"] != 200:
        return page["statusCode"], None
    session_id = browser.cookies["meterhub_connect"]
    account = path.split("/")[2] if path != "/connect" else parse_qs(parts.query)["account"][0]
    sent = browser.request(
        "POST",
        f"/connect/{account}/sessions/{session_id}/authorize",
        form={"csrf_token": _csrf(page["body"]), "consent": "yes", "utility_id": "demo"},
    )
    state = parse_qs(urlsplit(_headers(sent)["location"]).query)["state"][0]
    done = browser.request("GET", "/connect/callback", query={"code": code, "state": state})
    assert done["statusCode"] == 200, done["body"][:500]
    env = function_environment()
    connect_repo = dynamo_connect_repository(env["CONNECT_TABLE_NAME"])
    [authorization] = [a for a in connect_repo.authorizations(partner_id) if a.session_id == session_id]

    def adapter_for(config: UtilityConfig, base_url: str) -> UtilityAdapter:
        return utility

    UtilitySync(
        connect_repo,
        dynamo_meter_repository(env["METERS_TABLE_NAME"]),
        dynamo_interval_store(env["INTERVALS_TABLE_NAME"]),
        kms_token_vault(env["CONNECT_TOKENS_KEY_ID"]),
        adapter_for,
        lambda: datetime.now(UTC),
        utilities=UtilityRegistry(),
    ).run(authorization.partner_id, authorization.authorization_id)
    return 200, authorization.authorization_id


def _issue_link(
    lambda_context: FakeLambdaContext, load_function: Callable[[str], ModuleType], partner_id: str, body: Any
) -> dict[str, Any]:
    api = load_function("functions/connect_api/app.py")
    routes = [(r.method, r.path) for r in local_template().routes if r.function_id == "ConnectApiFunction"]
    resource, _ = resource_for(routes, "POST", "/v1.1/connect/links")
    event = api_event(
        "POST", resource, "/v1.1/connect/links", body=json.dumps(body), authorizer={"partner_id": partner_id}
    )
    event["requestContext"]["domainName"] = "127.0.0.1:3000"
    response: dict[str, Any] = api.lambda_handler(event, lambda_context)
    return response


def test_an_outsider_with_the_refid_cannot_attach_a_meter_but_the_partners_issued_link_merges(
    aws: Any,
    partner: IssuedKey,
    invoke: Invoke,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
    from meterhub.meters.ports import MeterQuery

    from tests.conftest import build_asset

    utility = AccountsUtility()

    def adapter_for(config: UtilityConfig, base_url: str) -> UtilityAdapter:
        return utility

    pages = load_function("functions/connect_pages/app.py")
    callback = load_function("functions/connect_callback/app.py")
    setattr(pages, "adapter_for", adapter_for)  # noqa: B010
    setattr(callback, "adapter_for", adapter_for)  # noqa: B010

    def browser() -> Browser:
        return Browser({"ConnectPagesFunction": pages, "ConnectCallbackFunction": callback}, lambda_context)

    def connect_and_sync(person: Browser, url: str, code: str) -> tuple[int, str | None]:
        return _connect_and_sync(person, utility, partner.partner_id, url, code)

    # The partner created its customer's meter; the refId of the customer is "site-42".
    customer = {"street_1": "1 Main St", "postal_code": "94612", "city": "Oakland", "state_or_province_code": "CA"}
    asset = build_asset("acme-site-42", region="CAISO", customer={**customer, "partner_customer_reference": "site-42"})
    status, created = invoke("POST", "/v1.1/meters", {"provisional_asset": asset})
    assert status == 200, created
    meters = dynamo_meter_repository(function_environment()["METERS_TABLE_NAME"])
    [partner_meter] = list(meters.search(partner.partner_id, MeterQuery(), 10, None).meters)
    account = _account(partner)

    # An outsider who knows the refId writes the plain link and signs in with their own utility login.
    plain_query = urlencode({"account": account, "transmissionRegion": "CAISO", "refId": "site-42"})
    plain = f"http://127.0.0.1:3000/connect?{plain_query}"
    outsider = browser()
    status, outsider_authorization = connect_and_sync(outsider, plain, "outsider-acct")
    assert status == 200
    assert meters.get(partner.partner_id, partner_meter.meter_id) == partner_meter  # untouched
    by_account = {
        (m.data.get("utility") or {}).get("electric_service_account_number"): m
        for m in meters.search(partner.partner_id, MeterQuery(), 10, None).meters
    }
    assert by_account["outsider-acct"].meter_id != partner_meter.meter_id  # a new meter of its own

    # The partner issues a link for its customer; the customer connects: the data merges into its meter.
    answer = _issue_link(
        lambda_context, load_function, partner.partner_id, {"ref_id": "site-42", "transmission_region": "CAISO"}
    )
    assert answer["statusCode"] == 201, answer["body"]
    issued = json.loads(answer["body"])
    token = parse_qs(urlsplit(issued["url"]).query)["linkToken"][0]
    assert issued["url"].startswith(f"http://127.0.0.1:3000/connect?account={account}&")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=function_environment()["CONNECT_TABLE_NAME"])
    assert token not in json.dumps(items["Items"], default=str)  # stored only as its SHA-256
    real = browser()
    status, authorization_id = connect_and_sync(real, issued["url"], "customer-acct")
    assert status == 200
    merged = meters.get(partner.partner_id, partner_meter.meter_id)
    assert merged is not None and merged.utility_link is not None
    assert merged.utility_link.authorization_id == authorization_id
    assert merged.data["utility"]["electric_service_account_number"] == "customer-acct"

    # The outsider cannot use the issued link once the customer's browser opened it.
    assert connect_and_sync(outsider, issued["url"], "outsider-acct")[0] == 410
    assert connect_and_sync(browser(), issued["url"], "outsider-acct")[0] == 410
    # The Connect API shows which authorization came through the issued link.
    listed = _connections(lambda_context, load_function, partner.partner_id)
    links = {a["authorization_id"]: a.get("link_id") for a in listed["connections"][0]["authorizations"]}
    assert links == {authorization_id: issued["link_id"], outsider_authorization: None}
    logged = capsys.readouterr()
    assert token not in logged.out + logged.err


def _connections(lambda_context: FakeLambdaContext, load_function: Callable[[str], ModuleType], partner_id: str) -> Any:
    api = load_function("functions/connect_api/app.py")
    routes = [(r.method, r.path) for r in local_template().routes if r.function_id == "ConnectApiFunction"]
    resource, _ = resource_for(routes, "GET", "/v1.1/connect/connections")
    event = api_event(
        "GET", resource, "/v1.1/connect/connections", query={"ref_id": "site-42"}, authorizer={"partner_id": partner_id}
    )
    return json.loads(api.lambda_handler(event, lambda_context)["body"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"transmission_region": "CAISO"}, "ref_id"),
        ({"ref_id": "r", "transmission_region": "ERCOT"}, "transmission_region"),
        ({"ref_id": "r", "transmission_region": "CAISO", "utility_id": "nope"}, "utility_id"),
        ({"ref_id": "x" * 129, "transmission_region": "CAISO"}, "ref_id"),
    ],
)
def test_a_bad_link_request_is_a_400_naming_the_field(
    aws: Any,
    partner: IssuedKey,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
    body: dict[str, Any],
    field: str,
) -> None:
    answer = _issue_link(lambda_context, load_function, partner.partner_id, body)
    problem = json.loads(answer["body"])
    assert answer["statusCode"] == 400 and field in problem["details"], problem


# ----- parameter shapes declared on the Connect API's routes (openapi.json carries them) -----------------------
def _call_connect_api(
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
    partner_id: str,
    method: str,
    path: str,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    api = load_function("functions/connect_api/app.py")
    routes = [(r.method, r.path) for r in local_template().routes if r.function_id == "ConnectApiFunction"]
    resource, params = resource_for(routes, method, path)
    event = api_event(
        method, resource, path, path_parameters=params, query=query, authorizer={"partner_id": partner_id}
    )
    response = api.lambda_handler(event, lambda_context)
    return int(response["statusCode"]), json.loads(response["body"])


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ({"page_size": "1"}, None),
        ({"page_size": "500"}, None),
        ({"page_size": "0"}, {"page_size": "must be at least 1"}),
        ({"page_size": "501"}, {"page_size": "must be at most 500"}),
        ({"page_token": "A" * 2049}, {"page_token": "must be at most 2048 characters"}),
        ({"ref_id": "x" * 129}, None),  # longer than any refId: documented, answered with no connection as before
    ],
)
def test_the_connection_list_bounds_its_paging(
    aws: Any,
    partner: IssuedKey,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
    query: dict[str, str],
    refusal: dict[str, str] | None,
) -> None:
    answer = _call_connect_api(
        lambda_context, load_function, partner.partner_id, "GET", "/v1.1/connect/connections", query
    )
    if refusal is None:
        assert answer == (200, {"connections": []})
    else:
        assert answer == (400, {"title": "Invalid request", "status": 400, "details": refusal})


def test_the_longest_page_token_reaches_the_use_case(
    aws: Any, partner: IssuedKey, lambda_context: FakeLambdaContext, load_function: Callable[[str], ModuleType]
) -> None:
    status, body = _call_connect_api(
        lambda_context,
        load_function,
        partner.partner_id,
        "GET",
        "/v1.1/connect/connections",
        {"page_token": "A" * 2048},
    )
    assert (status, body["title"]) == (400, "page_token is not a token this API issued")


@pytest.mark.parametrize(
    ("authorization_id", "status"), [("not-a-uuid", 400), ("6F1C1F4E-2D0B-4C57-9A53-6A0C2B9F8E10", 404)]
)
def test_the_authorization_id_is_a_documented_uuid_parsed_by_the_use_case(
    aws: Any,
    partner: IssuedKey,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
    authorization_id: str,
    status: int,
) -> None:
    # A malformed id keeps its worded 400; any spelling uuid.UUID reads passes the route (and names nothing here)
    path = f"/v1.1/connect/authorizations/{authorization_id}/revoke"
    answer = _call_connect_api(lambda_context, load_function, partner.partner_id, "POST", path)
    assert answer[0] == status, answer
    if status == 400:
        assert answer[1] == {
            "title": "Authorization id is not a UUID",
            "status": 400,
            "details": {"authorization_id": authorization_id},
        }


class AddresslessUtility(AccountsUtility):
    """Sends its service points without an address until `addresses` is set (customer data arrives later)."""

    addresses = False

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        points = super().service_points(tokens)
        return points if self.addresses else [replace(point, address=None) for point in points]


def test_a_service_point_without_an_address_gives_a_meter_that_awaits_it_until_a_later_sync(
    aws: Any,
    partner: IssuedKey,
    invoke: Invoke,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
) -> None:
    from meterhub.connect.adapters.dynamodb import dynamo_connect_repository
    from meterhub.connect.adapters.token_vault import kms_token_vault
    from meterhub.connect.use_cases.sync import UtilitySync
    from meterhub.intervals.adapters.dynamodb import dynamo_interval_store
    from meterhub.meters.adapters.dynamodb import dynamo_meter_repository

    utility = AddresslessUtility()

    def adapter_for(config: UtilityConfig, base_url: str) -> UtilityAdapter:
        return utility

    pages = load_function("functions/connect_pages/app.py")
    callback = load_function("functions/connect_callback/app.py")
    setattr(pages, "adapter_for", adapter_for)  # noqa: B010
    setattr(callback, "adapter_for", adapter_for)  # noqa: B010
    browser = Browser({"ConnectPagesFunction": pages, "ConnectCallbackFunction": callback}, lambda_context)
    query = urlencode({"account": _account(partner), "transmissionRegion": "CAISO", "refId": "site-42"})

    # Given a customer who completes Connect at a utility that sends no service address
    status, authorization_id = _connect_and_sync(
        browser, utility, partner.partner_id, f"http://127.0.0.1:3000/connect?{query}", "acct-7"
    )
    assert status == 200 and authorization_id is not None

    # Then the partner has the meter, listed as awaiting its address, PENDING with the ADDRESS action
    [connection] = _connections(lambda_context, load_function, partner.partner_id)["connections"]
    [listed] = connection["meters"]
    assert listed["awaiting_address"] is True and connection["meter_ids"] == [listed["meter_id"]]
    meter_id = listed["meter_id"]
    status, details = invoke("GET", f"/v2/meters/{meter_id}")
    assert status == 200, details
    assert details["customer"] == {"partner_customer_reference": "site-42"}
    assert details["utility"]["electric_service_account_number"] == "acct-7"
    status, enrollment = invoke("GET", f"/v2/meters/{meter_id}/enrollments")
    assert status == 200 and enrollment["global_enrollment_status"] == "PENDING"
    assert {a["action_type"] for a in enrollment["required_actions"]["partner"]} == {
        "ADDRESS",
        "NOT_ENROLLED_IN_CONFLICTING_PROGRAM",  # the CAISO programs exclude each other: the others wait on one
    }

    # When a later sync's feed carries the address
    env = function_environment()
    meters = dynamo_meter_repository(env["METERS_TABLE_NAME"])

    def sync() -> Any:
        return UtilitySync(
            dynamo_connect_repository(env["CONNECT_TABLE_NAME"]),
            meters,
            dynamo_interval_store(env["INTERVALS_TABLE_NAME"]),
            kms_token_vault(env["CONNECT_TOKENS_KEY_ID"]),
            adapter_for,
            lambda: datetime.now(UTC),
            utilities=UtilityRegistry(),
        ).run(partner.partner_id, authorization_id)

    utility.addresses = True
    assert sync().meters_completed == [meter_id]

    # Then the meter is complete: address stored, ADDRESS action gone, no longer listed as awaiting
    status, details = invoke("GET", f"/v2/meters/{meter_id}")
    assert details["customer"]["street_1"] == "1 Main St" and details["customer"]["postal_code"] == "94612"
    status, enrollment = invoke("GET", f"/v2/meters/{meter_id}/enrollments")
    # the partner's part is done: only the operator's market registration remains
    assert {a["action_type"] for a in enrollment["required_actions"]["leap"]} == {"HAS_MARKET_REGISTRATION"}
    assert [a for a in enrollment["required_actions"]["partner"] if a["action_type"] == "ADDRESS"] == []
    [connection] = _connections(lambda_context, load_function, partner.partner_id)["connections"]
    assert connection["meters"] == [{"meter_id": meter_id, "awaiting_address": False}]
    # And re-running the sync changes nothing more
    stored = meters.get(partner.partner_id, meter_id)
    again = sync()
    assert again.meters_completed == [] and again.meters_unchanged == [meter_id]
    assert meters.get(partner.partner_id, meter_id) == stored


class DemoFeedUtility(AccountsUtility):
    """Sends what the demo utility's Green Button feed says for the login the code names, read back by the parser
    a real utility's feed goes through: customer resources with the bill's account and agreements included."""

    def service_points(self, tokens: TokenSet) -> list[ServicePoint]:
        from meterhub.demo_utility.rules.feeds import usage_points_feed
        from meterhub.demo_utility.use_cases import customer_for
        from meterhub.utility_providers.rules.greenbutton import parse_usage_points

        login = tokens.access_token.removeprefix("at-")
        return parse_usage_points(usage_points_feed(list(customer_for(login)), "http://127.0.0.1:3000/Subscription/1"))


def test_the_bill_identifiers_the_utility_supplies_are_in_the_meter_details_and_the_search(
    aws: Any,
    partner: IssuedKey,
    invoke: Invoke,
    lambda_context: FakeLambdaContext,
    load_function: Callable[[str], ModuleType],
) -> None:
    from meterhub.demo_utility.use_cases import customer_for

    utility = DemoFeedUtility()
    pages = load_function("functions/connect_pages/app.py")
    callback = load_function("functions/connect_callback/app.py")
    setattr(pages, "adapter_for", lambda config, base_url: utility)  # noqa: B010
    setattr(callback, "adapter_for", lambda config, base_url: utility)  # noqa: B010
    browser = Browser({"ConnectPagesFunction": pages, "ConnectCallbackFunction": callback}, lambda_context)
    query = urlencode({"account": _account(partner), "transmissionRegion": "CAISO", "refId": "site-42"})

    # Given a customer with two homes on one utility account completes Connect
    status, _ = _connect_and_sync(
        browser, utility, partner.partner_id, f"http://127.0.0.1:3000/connect?{query}", "two-homes"
    )
    assert status == 200
    expected = {
        f"site-42:DEMO:{point.usage_point_id}": (
            point.bill_customer_account_number,
            point.bill_service_agreement_number,
        )
        for point in customer_for("two-homes")
    }
    [account] = {account for account, _ in expected.values()}
    assert account and len({agreement for _, agreement in expected.values()}) == 2

    # Then the search lists both meters with the bill's account and each its own service agreement
    status, page = invoke("POST", "/v2/meters/search", {"connection_reference_ids": ["site-42"]})
    assert status == 200, page
    found = {
        m["partner_reference"]: (
            m["utility"]["bill_customer_account_number"],
            m["utility"]["bill_service_agreement_number"],
        )
        for m in page["meters"]
    }
    assert found == expected
    # And the meter's details say the same, beside the utility fields the meter had before
    meter = page["meters"][0]
    status, details = invoke("GET", f"/v2/meters/{meter['meter_id']}")
    assert status == 200 and details["utility"] == meter["utility"]
    assert details["utility"]["utility_name"] == "DEMO" and details["utility"]["electric_service_account_number"]
