"""What a partner sees before any business logic runs: authentication, authorization and routing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

from tests.declared_bodies import assert_declared

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py), not imported: `conftest` is not a unique module name."""

    url: str
    demo_api_key: str

    def admin(self, *args: str) -> Any: ...

    def new_partner(self, name: str) -> tuple[str, str]: ...

    def auth(self, api_key: str) -> dict[str, str]: ...


UNAUTHORIZED = {"title": "Unauthorized", "status": 401, "details": {}}
FORBIDDEN = {"title": "You do not have the necessary permissions for this operation", "status": 403, "details": {}}
PROGRAMS_HANDLER = ROOT / "functions" / "programs_api" / "app.py"


def _get(stack: LocalStack, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"{stack.url}{path}", headers=headers or {}, timeout=30)


def test_missing_authorization_is_401(local_stack: LocalStack) -> None:
    response = _get(local_stack, "/v1.1/programs")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["Content-Type"] == "application/json"
    # The template's gateway responses declare HSTS for https; this plain-http runner must not send it.
    assert "Strict-Transport-Security" not in response.headers


def test_non_bearer_authorization_is_401(local_stack: LocalStack) -> None:
    response = _get(local_stack, "/v1.1/programs", {"Authorization": "Basic x"})
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_unknown_key_is_403(local_stack: LocalStack) -> None:
    response = _get(local_stack, "/v1.1/programs", local_stack.auth("mh_" + uuid.uuid4().hex))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


def test_unknown_route_is_404_even_with_a_valid_key(local_stack: LocalStack) -> None:
    response = _get(local_stack, "/v1.1/no-such-thing", local_stack.auth(local_stack.demo_api_key))
    assert response.status_code == 404
    assert response.json() == {"title": "Route not found", "status": 404, "details": {}}
    wrong_method = requests.delete(
        f"{local_stack.url}/v1.1/programs", headers=local_stack.auth(local_stack.demo_api_key), timeout=30
    )
    assert wrong_method.status_code == 404


def test_api_gateway_answers_the_webhook_routes_in_its_envelope_and_the_document_says_so(
    local_stack: LocalStack,
) -> None:
    # The webhooks API answers in Leap's {error, message}, but API Gateway refuses a request before the function
    # runs, in the one body its gateway responses have for the whole API: openapi.json declares that
    webhooks = f"{local_stack.url}/v1.1/webhooks"
    unknown_key = local_stack.auth("mh_" + uuid.uuid4().hex)
    for headers, status in (({}, 401), (unknown_key, 403)):
        response = requests.get(webhooks, headers=headers, timeout=30)
        assert response.status_code == status, response.text
        assert_declared("GET", "/v1.1/webhooks", status, response.json(), "ErrorResponse")
    # Past the gateway, the function's own refusal is the webhooks API's shape
    hook = {"receiver_url": "https://hooks.example.com/x", "event_types": ["meter_job.completed"]}
    response = requests.put(
        f"{webhooks}/{uuid.uuid4()}", json=hook, headers=local_stack.auth(local_stack.demo_api_key), timeout=30
    )
    assert response.status_code == 404, response.text
    assert_declared("PUT", "/v1.1/webhooks/{webhook_id}", 404, response.json(), "WebhookErrorResponse")


def test_revoked_key_is_403(local_stack: LocalStack) -> None:
    partner_id, api_key = local_stack.new_partner(f"Revoked Partner {uuid.uuid4().hex[:8]}")
    (key,) = local_stack.admin("list-keys", "--partner-id", partner_id)
    revoked = local_stack.admin("revoke-key", "--partner-id", partner_id, "--key-id", key["key_id"])
    assert revoked["status"] == "REVOKED"
    response = _get(local_stack, "/v1.1/programs", local_stack.auth(api_key))
    assert response.status_code == 403
    assert response.json() == FORBIDDEN


@pytest.mark.skipif(not PROGRAMS_HANDLER.exists(), reason=f"{PROGRAMS_HANDLER} is not written yet")
def test_programs_with_the_demo_key(local_stack: LocalStack) -> None:
    response = _get(local_stack, "/v1.1/programs", local_stack.auth(local_stack.demo_api_key))
    assert response.status_code == 200, response.text
    assert "x-amzn-RequestId" in response.headers


def test_a_partner_made_with_the_admin_cli_can_call_the_api(local_stack: LocalStack) -> None:
    _, api_key = local_stack.new_partner(f"Fresh Partner {uuid.uuid4().hex[:8]}")
    response = _get(local_stack, "/v1.1/programs", local_stack.auth(api_key))
    assert response.status_code != 401 and response.status_code != 403, response.text
