"""Connect in a real browser: a customer opens a partner's link in Debian's chromium (driven by Selenium
through chromium-driver), picks the demo utility, consents, signs in there and lands on the partner's page;
then the partner API shows the connection, the meter and its intervals. Declines too, escaping, and who may
attach a utility account to the partner's own meter (only the customer with the partner-issued link).

Every page is saved as a screenshot under test-output/connect-browser/<test>/<step>.png (paths printed) so
a person can look at what a customer sees. The browser is never downloaded: both binaries are passed
explicitly, so Selenium Manager is not involved. Without them the tests skip, unless MH_REQUIRE_BROWSER is
set (CI sets it via .ci/run): then a missing browser fails the run.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "connect-browser"
PHONE = (390, 844)
PAGE_TIMEOUT_SECONDS = 20
SYNC_TIMEOUT_SECONDS = 60
PARTNER_NAME = "Acme Solar"
T = TypeVar("T")


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str

    def admin(self, *args: str) -> Any: ...

    def auth(self, api_key: str) -> dict[str, str]: ...

    def printed(self) -> str: ...


# ----- the partner's side: its account, and its final redirect page ------------------------------------------


@dataclass(frozen=True)
class Partner:
    partner_id: str
    account: str
    api_key: str


def new_partner(stack: LocalStack, redirect_url: str | None) -> Partner:
    """A fresh partner called "Acme Solar" (the account is what must be unique), optionally with its
    final redirect URL set through the admin CLI, as an operator would."""
    account = f"acme-solar-{uuid.uuid4().hex[:8]}"
    created = stack.admin("create-partner", "--name", PARTNER_NAME, "--account", account)
    partner = Partner(str(created["partner_id"]), str(created["account"]), str(created["api_key"]))
    if redirect_url:
        set_url = stack.admin(
            "set-connect-redirect", "--partner-id", partner.partner_id, "--url", redirect_url, "--allow-loopback-http"
        )
        assert set_url["connect_redirect_url"] == redirect_url, set_url
    return partner


class PartnerSite:
    """The partner's own "thanks" page on another loopback origin; remembers every query it was called with."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/done":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                query = parse_qs(parts.query)
                site.queries.append(query)
                body = site.page(query).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/done"
        self.thread = threading.Thread(target=self.server.serve_forever, name="partner-site", daemon=True)

    @staticmethod
    def page(query: dict[str, list[str]]) -> str:
        outcome = query.get("outcome", ["?"])[0]
        message = {
            "completed": "Your utility account is connected. We'll email you when your enrollment is confirmed.",
            "declined": "No problem: nothing was shared. You can connect your utility later from your dashboard.",
        }.get(outcome, "We couldn't connect your utility this time. Nothing was shared; you can try again later.")
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Thanks — Acme Solar</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            '<body style="font:16px/1.5 system-ui,sans-serif;background:#fff8ef;color:#2b2118;margin:0">'
            '<header style="background:#e8590c;color:#fff;padding:14px 24px;font-weight:700">Acme Solar</header>'
            '<main style="max-width:600px;margin:40px auto;padding:0 20px">'
            "<h1>Thanks — Acme Solar</h1>"
            f'<p id="message">{html.escape(message)}</p>'
            f'<p style="color:#7a6a5a;font-size:.85rem">Outcome: <code id="outcome">{html.escape(outcome)}</code>'
            "</p></main></body></html>"
        )

    def visit_for(self, ref_id: str) -> dict[str, list[str]] | None:
        return next((q for q in self.queries if q.get("refId") == [ref_id]), None)


@pytest.fixture(scope="module")
def partner_site() -> Iterator[PartnerSite]:
    site = PartnerSite()
    site.thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


# ----- the browser ----------------------------------------------------------------------------------------


class Screenshots:
    """test-output/connect-browser/<test>/<nn>-<step>.png, the whole page (not only the first screenful)."""

    def __init__(self, driver: webdriver.Chrome, directory: Path) -> None:
        self.driver = driver
        self.directory = directory
        self.taken: list[Path] = []

    def take(self, step: str) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{step}.png"
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        self.taken.append(path)
        print(f"screenshot: {path}")
        return path

    def take_phone(self, step: str) -> Path:
        """The same page as a 390x844 phone shows it (at 2x pixels)."""
        width, height = PHONE
        metrics = {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        try:
            return self.take(step)
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture
def screenshots(browser: webdriver.Chrome, request: pytest.FixtureRequest) -> Iterator[Screenshots]:
    """Also keeps what the browser showed when a test failed (``at-failure``), for the person reading it."""
    directory = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    shots = Screenshots(browser, directory)
    failed_before = request.session.testsfailed
    yield shots
    if request.session.testsfailed > failed_before:
        try:
            shots.take("at-failure")
        except WebDriverException as error:
            print(f"no at-failure screenshot: {error}")


def console_problems(driver: webdriver.Chrome) -> list[str]:
    """Browser console errors since the last call (CSP violations, failed loads), favicon misses aside."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [
        str(entry.get("message"))
        for entry in entries
        if entry.get("level") == "SEVERE" and "favicon.ico" not in str(entry.get("message"))
    ]


def describe(driver: webdriver.Chrome) -> str:
    """What the browser shows, for a failure message."""
    try:
        text = driver.find_element(By.TAG_NAME, "body").text
    except WebDriverException as error:  # only diagnostics: the page may be gone
        text = f"(no body: {error})"
    return f"url={driver.current_url}\ntitle={driver.title!r}\nconsole={console_problems(driver)}\n---\n{text[:2000]}"


def wait_until(driver: webdriver.Chrome, condition: Callable[[webdriver.Chrome], bool], what: str) -> None:
    # A page that navigates between finding an element and reading it leaves a stale reference: look again.
    try:
        WebDriverWait(driver, PAGE_TIMEOUT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)).until(
            condition
        )
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}:\n{describe(driver)}") from None


def on_path(path: str) -> Callable[[webdriver.Chrome], bool]:
    def check(driver: webdriver.Chrome) -> bool:
        return urlsplit(driver.current_url).path.endswith(path) and driver.execute_script(
            "return document.readyState === 'complete'"
        )

    return check


def heading(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text.strip()


def assert_clean_console(driver: webdriver.Chrome, page: str) -> None:
    problems = console_problems(driver)
    assert not problems, f"the browser reported problems on the {page} page: {problems}"


# ----- the customer's steps ---------------------------------------------------------------------------------


def connect_link(stack: LocalStack, partner: Partner, ref_id: str) -> str:
    query = urlencode({"account": partner.account, "transmissionRegion": "CAISO", "refId": ref_id})
    return f"{stack.url}/connect?{query}"


def open_link(driver: webdriver.Chrome, stack: LocalStack, partner: Partner, ref_id: str) -> None:
    driver.get(connect_link(stack, partner, ref_id))
    wait_until(driver, on_path("/connect"), "the choose-utility page")
    assert heading(driver) == f"Share your electricity data with {PARTNER_NAME}", describe(driver)


def choose_demo_and_consent(driver: webdriver.Chrome) -> None:
    demo = driver.find_element(By.CSS_SELECTOR, "input[name='utility_id'][value='demo']")
    label = driver.find_element(By.CSS_SELECTOR, f"label[for='{demo.get_attribute('id')}']")
    assert label.text.strip() == "Demo Utility", label.text
    demo.click()
    consent = driver.find_element(By.CSS_SELECTOR, "input[type='checkbox'][name='consent']")
    if not consent.is_selected():
        consent.click()
    assert demo.is_selected() and consent.is_selected()


def press(driver: webdriver.Chrome, label: str) -> None:
    driver.find_element(By.XPATH, f"//button[normalize-space()={label!r}]").click()


def sign_in_at_demo_utility(
    driver: webdriver.Chrome, shots: Screenshots, scenario: str, username: str = "alex.rivera"
) -> None:
    wait_until(driver, on_path("/demo-utility/oauth/authorize"), "the demo utility's sign-in page")
    assert heading(driver) == "Sign in to your account", describe(driver)
    # The utility's OAuth client is meterhub (not the partner): that is what the utility names.
    assert "meterhub" in driver.find_element(By.CSS_SELECTOR, ".request").text, describe(driver)
    assert_clean_console(driver, "demo utility sign-in")
    shots.take("demo-utility-sign-in")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys("correct horse battery staple")
    driver.find_element(By.CSS_SELECTOR, f"input[name='scenario'][value='{scenario}']").click()
    press(driver, "Sign in and share my data")


def land_on_partner_page(driver: webdriver.Chrome, site: PartnerSite, ref_id: str) -> dict[str, list[str]]:
    wait_until(driver, lambda d: d.current_url.startswith(site.url), "the partner's final redirect page")
    wait_until(driver, lambda d: heading(d) == "Thanks — Acme Solar", "the partner page to render")
    query = parse_qs(urlsplit(driver.current_url).query)
    assert query.get("refId") == [ref_id], query
    assert site.visit_for(ref_id) == query, site.queries
    return query


# ----- the partner API --------------------------------------------------------------------------------------


class Api:
    def __init__(self, stack: LocalStack, partner: Partner) -> None:
        self.url = stack.url
        self.headers = stack.auth(partner.api_key)

    def get(self, path: str, **params: str) -> Any:
        response = requests.get(f"{self.url}{path}", params=params, headers=self.headers, timeout=30)
        assert response.status_code == 200, f"GET {path} -> {response.status_code}: {response.text}"
        return response.json()

    def post(self, path: str, body: Any, expected: int = 200) -> Any:
        response = requests.post(f"{self.url}{path}", json=body, headers=self.headers, timeout=30)
        assert response.status_code == expected, f"POST {path} -> {response.status_code}: {response.text}"
        return response.json()

    def connection(self, ref_id: str) -> dict[str, Any] | None:
        found = self.get("/v1.1/connect/connections", ref_id=ref_id)["connections"]
        matching: list[dict[str, Any]] = [c for c in found if c["ref_id"] == ref_id]
        assert len(matching) <= 1, found
        return matching[0] if matching else None

    def wait_for_connection(
        self, ref_id: str, ready: Callable[[dict[str, Any]], bool], what: str, stack: LocalStack
    ) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            connection = self.connection(ref_id)
            return connection if connection is not None and ready(connection) else None

        return poll(settled, what, lambda: f"last seen: {self.connection(ref_id)}\n{tail(stack.printed())}")


def poll(fetch: Callable[[], T | None], what: str, diagnose: Callable[[], str]) -> T:
    deadline = time.monotonic() + SYNC_TIMEOUT_SECONDS
    while True:
        value = fetch()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen within {SYNC_TIMEOUT_SECONDS}s; {diagnose()}")
        time.sleep(0.5)


def tail(text: str, lines: int = 60) -> str:
    return "runner output (tail):\n" + "\n".join(text.splitlines()[-lines:])


def new_ref() -> str:
    return f"cust-{uuid.uuid4().hex[:10]}"


# ----- the tests --------------------------------------------------------------------------------------------


def test_customer_connects_the_demo_utility_and_the_partner_gets_the_meter(
    browser: webdriver.Chrome, local_stack: LocalStack, partner_site: PartnerSite, screenshots: Screenshots
) -> None:
    # Given a partner whose final redirect page is its own "thanks" page
    partner = new_partner(local_stack, partner_site.url)
    ref_id = new_ref()

    # When the customer opens the partner's Connect link
    open_link(browser, local_stack, partner, ref_id)
    assert_clean_console(browser, "choose-utility")
    screenshots.take("choose-utility")
    screenshots.take_phone("choose-utility-phone")
    # ... picks the demo utility, consents and continues
    choose_demo_and_consent(browser)
    screenshots.take("choose-utility-filled")
    press(browser, "Continue to my utility")
    # ... signs in at the utility and approves
    sign_in_at_demo_utility(browser, screenshots, "success")

    # Then they land on the partner's page, which learns the refId, the outcome and the utility
    query = land_on_partner_page(browser, partner_site, ref_id)
    screenshots.take("partner-thanks")
    assert query.get("outcome") == ["completed"], query
    assert query.get("utility") == ["DEMO"], query

    # And the API shows the connection completed and, once the utility sync ran, its meter
    api = Api(local_stack, partner)
    connection = api.wait_for_connection(
        ref_id,
        lambda c: c["session_status"] == "COMPLETED" and bool(c["meter_ids"]),
        "a COMPLETED connection with meters",
        local_stack,
    )
    [authorization] = connection["authorizations"]
    assert authorization["status"] == "COMPLETED", authorization
    assert authorization["utility_name"] == "DEMO", authorization
    assert authorization.get("failure_reason") is None, authorization
    meter_id = connection["meter_ids"][0]
    meter = api.get(f"/v2/meters/{meter_id}")
    assert meter["meter_id"] == meter_id
    assert meter["audit"]["created_by"] == "UTILITY", meter
    assert meter["meter_type"] == "UTILITY_METER", meter
    assert meter["partner_reference"].startswith(f"{ref_id}:DEMO:"), meter
    assert meter["connection_references"] == [ref_id], meter

    # And its 15-minute intervals for the last days (the sync stores them right after creating the meter)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=3)
    window = {"start": start.isoformat(), "end": end.isoformat()}

    def intervals() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = api.get(f"/v2/meters/{meter_id}/intervals", **window)["intervals"]
        return found or None

    stored = poll(intervals, "the meter's intervals", lambda: tail(local_stack.printed()))
    for interval in stored:
        began = datetime.fromisoformat(interval["interval_start_time_utc"])
        ended = datetime.fromisoformat(interval["interval_end_time_utc"])
        assert ended - began == timedelta(minutes=15), interval
        assert start <= began < end, interval
    starts = [datetime.fromisoformat(i["interval_start_time_utc"]) for i in stored]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_customer_declines_at_the_utility(
    browser: webdriver.Chrome, local_stack: LocalStack, partner_site: PartnerSite, screenshots: Screenshots
) -> None:
    # Given a partner with a final redirect page, and a customer on its link
    partner = new_partner(local_stack, partner_site.url)
    ref_id = new_ref()
    open_link(browser, local_stack, partner, ref_id)
    choose_demo_and_consent(browser)
    press(browser, "Continue to my utility")

    # When they decline at their utility
    sign_in_at_demo_utility(browser, screenshots, "decline")

    # Then the partner's page learns the attempt failed
    query = land_on_partner_page(browser, partner_site, ref_id)
    screenshots.take("partner-page")
    assert query.get("outcome") == ["failed"], query
    # And the API says why: the customer denied access at the utility
    connection = Api(local_stack, partner).wait_for_connection(
        ref_id, lambda c: bool(c["authorizations"]), "the connection's authorization", local_stack
    )
    [authorization] = connection["authorizations"]
    assert authorization["status"] == "FAILED", authorization
    assert authorization["failure_reason"] == "DENIED", authorization
    assert connection["meter_ids"] == [], connection


def test_no_thanks_without_a_partner_page_shows_our_declined_page(
    browser: webdriver.Chrome, local_stack: LocalStack, screenshots: Screenshots
) -> None:
    # Given a partner without a final redirect URL, and a customer on its link
    partner = new_partner(local_stack, None)
    ref_id = new_ref()
    open_link(browser, local_stack, partner, ref_id)

    # When they answer "No thanks"
    press(browser, "No thanks")

    # Then our own page confirms nothing will be shared
    wait_until(browser, on_path("/decline"), "the declined page")
    assert heading(browser) == "No data will be shared", describe(browser)
    assert PARTNER_NAME in browser.find_element(By.TAG_NAME, "main").text
    assert_clean_console(browser, "declined")
    screenshots.take("declined")
    screenshots.take_phone("declined-phone")
    # And the API shows the session closed, without any authorization
    connection = Api(local_stack, partner).wait_for_connection(
        ref_id, lambda c: c["session_status"] == "CLOSED", "a CLOSED session", local_stack
    )
    assert connection["authorizations"] == [], connection


def test_no_thanks_sends_the_customer_to_the_partner_page(
    browser: webdriver.Chrome, local_stack: LocalStack, partner_site: PartnerSite, screenshots: Screenshots
) -> None:
    # Given a partner with a final redirect page (on another origin), and a customer on its link
    partner = new_partner(local_stack, partner_site.url)
    ref_id = new_ref()
    open_link(browser, local_stack, partner, ref_id)

    # When they answer "No thanks"
    press(browser, "No thanks")

    # Then the partner's page learns they declined (the page's CSP must let the form's redirect through)
    query = land_on_partner_page(browser, partner_site, ref_id)
    screenshots.take("partner-page")
    assert query.get("outcome") == ["declined"], query
    connection = Api(local_stack, partner).wait_for_connection(
        ref_id, lambda c: c["session_status"] == "CLOSED", "a CLOSED session", local_stack
    )
    assert connection["authorizations"] == [], connection


def test_without_a_partner_page_success_ends_on_our_all_set_page(
    browser: webdriver.Chrome, local_stack: LocalStack, screenshots: Screenshots
) -> None:
    # Given a partner without a final redirect URL
    partner = new_partner(local_stack, None)
    ref_id = new_ref()

    # When the customer connects the demo utility
    open_link(browser, local_stack, partner, ref_id)
    choose_demo_and_consent(browser)
    press(browser, "Continue to my utility")
    sign_in_at_demo_utility(browser, screenshots, "success")

    # Then they end on our "You're all set" page, naming the utility and the partner
    wait_until(browser, on_path("/connect/callback"), "the all-set page")
    api = Api(local_stack, partner)
    assert heading(browser) == "You're all set", f"{describe(browser)}\nAPI: {api.connection(ref_id)}"
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "Demo Utility" in main and PARTNER_NAME in main, main
    assert "code=" not in main and "state=" not in main, main
    assert_clean_console(browser, "all set")
    screenshots.take("all-set")
    screenshots.take_phone("all-set-phone")
    connection = api.wait_for_connection(
        ref_id, lambda c: c["session_status"] == "COMPLETED", "a COMPLETED connection", local_stack
    )
    assert [a["status"] for a in connection["authorizations"]] == ["COMPLETED"], connection


def test_a_hostile_ref_id_renders_as_text_under_a_strict_policy(
    browser: webdriver.Chrome, local_stack: LocalStack, screenshots: Screenshots
) -> None:
    # Given a link whose refId is markup
    partner = new_partner(local_stack, None)
    ref_id = "<script>window.__xss=1</script>"

    # When the customer opens it
    open_link(browser, local_stack, partner, ref_id)
    screenshots.take("choose-utility-hostile-ref")

    # Then the markup is shown as text and nothing ran
    assert browser.execute_script("return window.__xss") is None
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert ref_id in browser.find_element(By.CSS_SELECTOR, ".ref").text, describe(browser)
    assert_clean_console(browser, "choose-utility (hostile refId)")

    # And the page is served with a policy that forbids scripts and framing
    response = requests.get(connect_link(local_stack, partner, ref_id), timeout=30)
    assert response.status_code == 200, response.text
    policy = response.headers["Content-Security-Policy"]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";") if d.strip()}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", policy
    assert directives.get("default-src") == "default-src 'none'", policy
    assert "script-src" not in directives and "unsafe-inline" not in policy, policy
    assert response.headers.get("X-Frame-Options") == "DENY", response.headers
    assert "<script>" not in response.text and html.escape(ref_id) in response.text


def test_a_stranger_with_the_ref_id_gets_no_hold_on_the_partners_meter_but_the_issued_link_merges(
    browser: webdriver.Chrome, local_stack: LocalStack, screenshots: Screenshots
) -> None:
    # Given a partner that created its customer's meter, with the customer's refId
    partner = new_partner(local_stack, None)
    api = Api(local_stack, partner)
    ref_id = new_ref()
    asset = {
        "partner_reference": f"acme-{ref_id}",
        "transmission_region": "CAISO",
        "customer_classification": "RESIDENTIAL",
        "load_types": ["BATTERY_STORAGE"],
        "meter_type": "DEVICE",
        "customer": {
            "street_1": "1 Main St",
            "postal_code": "94612",
            "city": "Oakland",
            "state_or_province_code": "CA",
            "partner_customer_reference": ref_id,
        },
    }
    partner_meter_id = api.post("/v1.1/meters", {"provisional_asset": asset})["meter_id"]

    # When a stranger who knows the refId completes the plain link with their own utility login
    open_link(browser, local_stack, partner, ref_id)
    choose_demo_and_consent(browser)
    press(browser, "Continue to my utility")
    sign_in_at_demo_utility(browser, screenshots, "success", username="sam.stranger")
    wait_until(browser, lambda d: heading(d) == "You're all set", "our all-set page")
    stranger = api.wait_for_connection(
        ref_id, lambda c: bool(c["meter_ids"]), "the stranger's connection with its meter", local_stack
    )

    # Then the stranger's utility account became a meter of its own; the partner's meter is untouched
    assert partner_meter_id not in stranger["meter_ids"], stranger
    [stranger_meter_id] = stranger["meter_ids"]
    assert api.get(f"/v2/meters/{stranger_meter_id}")["audit"]["created_by"] == "UTILITY"
    untouched = api.get(f"/v2/meters/{partner_meter_id}")
    assert "electric_service_account_number" not in (untouched.get("utility") or {}), untouched

    # When the partner issues a link for its customer, and the customer completes it in their browser
    issued = api.post("/v1.1/connect/links", {"ref_id": ref_id, "transmission_region": "CAISO"}, expected=201)
    assert parse_qs(urlsplit(issued["url"]).query)["refId"] == [ref_id], issued
    browser.delete_all_cookies()  # another person's browser
    browser.get(issued["url"])
    wait_until(browser, on_path("/connect"), "the choose-utility page of the issued link")
    assert heading(browser) == f"Share your electricity data with {PARTNER_NAME}", describe(browser)
    assert_clean_console(browser, "choose-utility (issued link)")
    choose_demo_and_consent(browser)
    press(browser, "Continue to my utility")
    sign_in_at_demo_utility(browser, screenshots, "success", username="alex.rivera")
    wait_until(browser, lambda d: heading(d) == "You're all set", "our all-set page")

    # Then the customer's utility data is merged into the partner's own meter
    connection = api.wait_for_connection(
        ref_id, lambda c: partner_meter_id in c["meter_ids"], "the partner's meter in the connection", local_stack
    )
    by_link = {a.get("link_id"): a for a in connection["authorizations"]}
    assert set(by_link) == {None, issued["link_id"]}, connection
    assert by_link[issued["link_id"]]["meter_ids"] == [partner_meter_id], connection
    merged = api.get(f"/v2/meters/{partner_meter_id}")
    assert merged["audit"]["created_by"] == "PARTNER", merged
    assert merged["utility"]["electric_service_account_number"], merged

    # And the issued link does not open for anyone else
    browser.delete_all_cookies()
    browser.get(issued["url"])
    wait_until(browser, lambda d: heading(d) == "This link was already used", "the already-used page")
    assert PARTNER_NAME in browser.find_element(By.CSS_SELECTOR, ".lead").text, describe(browser)
    problems = console_problems(browser)  # the page's own 410 status is all the browser may report
    assert all("status of 410" in problem for problem in problems), problems
    screenshots.take("issued-link-already-used")


def test_a_feed_without_an_address_still_gives_the_partner_a_meter_awaiting_it(
    browser: webdriver.Chrome, local_stack: LocalStack, partner_site: PartnerSite, screenshots: Screenshots
) -> None:
    # Given a customer whose utility shares usage data only (the demo's no_address scenario: no ServiceLocation)
    partner = new_partner(local_stack, partner_site.url)
    ref_id = new_ref()
    open_link(browser, local_stack, partner, ref_id)
    choose_demo_and_consent(browser)
    press(browser, "Continue to my utility")
    sign_in_at_demo_utility(browser, screenshots, "no_address")
    assert land_on_partner_page(browser, partner_site, ref_id).get("outcome") == ["completed"]

    # Then the Connect API lists the meter and says it awaits its address
    api = Api(local_stack, partner)
    connection = api.wait_for_connection(
        ref_id, lambda c: bool(c.get("meters")), "a connection with its meter", local_stack
    )
    [listed] = connection["meters"]
    assert listed["awaiting_address"] is True, connection
    meter_id = listed["meter_id"]
    meter = api.get(f"/v2/meters/{meter_id}")
    assert "street_1" not in meter["customer"] and meter["utility"]["electric_service_account_number"], meter
    enrollment = api.get(f"/v2/meters/{meter_id}/enrollments")
    assert enrollment["global_enrollment_status"] == "PENDING", enrollment
    assert {a["action_type"] for a in enrollment["required_actions"]["partner"]} == {
        "ADDRESS",
        "NOT_ENROLLED_IN_CONFLICTING_PROGRAM",  # the CAISO programs exclude each other: the others wait on one
    }, enrollment

    # When the partner supplies the address by overwriting the meter under its partner_reference
    address = {"street_1": "12 Oak Street", "city": "Oakland", "state_or_province_code": "CA", "postal_code": "94610"}
    asset = {
        "partner_reference": meter["partner_reference"],
        "transmission_region": "CAISO",
        "customer_classification": meter["customer_classification"],
        "load_types": ["HVAC"],
        "meter_type": "UTILITY_METER",
        "customer": {**meter["customer"], **address},
    }
    outcome = api.post("/v1.1/meters?update_existing=true", {"provisional_asset": asset})
    assert outcome["status_detail"]["name"] == "METER_UPDATED" and outcome["meter_id"] == meter_id, outcome

    # Then the meter is complete: no longer awaiting, no ADDRESS action
    assert api.connection(ref_id)["meters"] == [{"meter_id": meter_id, "awaiting_address": False}]  # type: ignore[index]
    actions = api.get(f"/v2/meters/{meter_id}/enrollments")["required_actions"]["partner"]
    assert "ADDRESS" not in {a["action_type"] for a in actions}, actions
