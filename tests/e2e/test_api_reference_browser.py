"""The API reference in a real browser: Debian's chromium (the `browser` fixture of tests/e2e/conftest.py) opens
GET /docs on the local runner, offline (no CDN: Swagger UI comes from the layer), and finds every operation of
openapi.json listed, under the page's Content-Security-Policy, with nothing in the console. "Try it out" then
calls the API through the page with the demo partner's key: the page targets the API it is served by. A runner
started with PublicApiDocs=false (as prod is by default) has no such routes: 404, API key or not.

A screenshot of the page is saved under test-output/api-reference/ for a person to look at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.e2e.conftest import running_stack
from tests.e2e.test_connect_browser import assert_clean_console, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "api-reference"

_LISTED_OPERATIONS = """
return Array.from(document.querySelectorAll('.opblock')).map(block => [
  block.querySelector('.opblock-summary-method').textContent.trim(),
  block.querySelector('.opblock-summary-path').getAttribute('data-path'),
]);
"""


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str
    demo_api_key: str


def documented_operations() -> set[tuple[str, str]]:
    document: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


def listed_operations(driver: webdriver.Chrome) -> set[tuple[str, str]]:
    return {(str(method), str(path)) for method, path in driver.execute_script(_LISTED_OPERATIONS)}


def test_the_docs_page_lists_every_operation_of_openapi_json(
    local_stack: LocalStack, browser: webdriver.Chrome
) -> None:
    expected = documented_operations()
    # When a reader opens /docs
    browser.get(f"{local_stack.url}/docs")
    wait_until(browser, lambda driver: listed_operations(driver) >= expected, "every documented operation")
    # Then every operation of the document is listed, and nothing else
    assert listed_operations(browser) == expected
    assert "meterhub partner API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "docs.png"))
    # And the page ran under its CSP (scripts and styles from the API only) without a single complaint
    assert_clean_console(browser, "API reference")


def test_try_it_out_calls_this_api_with_the_readers_key(local_stack: LocalStack, browser: webdriver.Chrome) -> None:
    browser.get(f"{local_stack.url}/docs#/Programs/listPrograms")
    wait_until(browser, lambda driver: bool(driver.find_elements(By.CSS_SELECTOR, ".btn.authorize")), "Authorize")
    # Given the reader's API key, typed into "Authorize"
    browser.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    wait_until(browser, lambda driver: bool(driver.find_elements(By.CSS_SELECTOR, ".modal-ux input")), "the key box")
    browser.find_element(By.CSS_SELECTOR, ".modal-ux input").send_keys(local_stack.demo_api_key)
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper .authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .btn-done").click()
    # When they try GET /v1.1/programs from the page
    operation = browser.find_element(By.CSS_SELECTOR, ".opblock.is-open")
    operation.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    operation.find_element(By.CSS_SELECTOR, ".execute").click()
    # Then the page called this API (not the document's origin without the stage) and shows its 200
    wait_until(
        browser,
        lambda driver: bool(
            driver.find_elements(By.CSS_SELECTOR, ".opblock.is-open .live-responses-table tbody .response-col_status")
        ),
        "the live response",
    )
    status = operation.find_element(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status").text.strip()
    url = operation.find_element(By.CSS_SELECTOR, ".request-url pre").text.strip()
    assert (status, url) == ("200", f"{local_stack.url}/v1.1/programs"), operation.text[:2000]
    assert_clean_console(browser, "API reference, after Try it out")


def test_with_public_api_docs_off_the_reference_is_not_there(tmp_path: Path) -> None:
    # Given the runner started as a stage with PublicApiDocs=false
    with running_stack(tmp_path, "PublicApiDocs=false") as stack:
        key = {"Authorization": f"Bearer {stack.demo_api_key}"}
        for path in ("/openapi.json", "/docs", "/docs/swagger-ui-bundle.js"):
            # When anyone asks for the reference, with a partner's key or without
            for headers in ({}, key):
                answer = requests.get(f"{stack.url}{path}", headers=headers, timeout=10)
                # Then the route does not exist
                assert answer.status_code == 404, (path, answer.text)
                assert answer.json()["title"] == "Route not found"
        assert "API reference" not in stack.printed()
