"""functions/authorizer/app.py on moto with API Gateway TOKEN events."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from meterhub.partners import use_cases as partners
from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
from meterhub.platform.settings import PartnersTableSettings

from tests.conftest import function_environment

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey
    from mypy_boto3_dynamodb import DynamoDBClient

    from tests.emf import EmfCapture

API_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/local"
METHOD_ARN = f"{API_ARN}/POST/v1.1/meters"


@pytest.fixture
def authorizer(aws: DynamoDBClient, load_function: Callable[[str], ModuleType]) -> ModuleType:
    return load_function("functions/authorizer/app.py")


def token_event(token: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": METHOD_ARN}


def statement(policy: dict[str, Any]) -> dict[str, Any]:
    [only] = policy["policyDocument"]["Statement"]
    return dict(only)


def test_valid_key_is_allowed_with_the_partner_in_the_context(
    authorizer: ModuleType, partner: IssuedKey, lambda_context: Any
) -> None:
    # When a request carries a valid key
    policy = authorizer.lambda_handler(token_event(f"Bearer {partner.api_key}"), lambda_context)

    # Then the whole API is allowed and the partner id is handed to the functions
    assert policy["principalId"] == partner.partner_id
    assert policy["context"] == {"partner_id": partner.partner_id}
    # And the partner's usage-plan key is named, so API Gateway throttles the partner on its own
    assert policy["usageIdentifierKey"] == f"meterhub-partner-{partner.partner_id}"
    allow = statement(policy)
    assert allow["Effect"] == "Allow"
    assert allow["Action"] == "execute-api:Invoke"
    assert allow["Resource"] == [f"{API_ARN}/*/*"]


def test_unknown_key_is_denied(authorizer: ModuleType, partner: IssuedKey, lambda_context: Any) -> None:
    # When a well-formed key that was never issued is sent
    policy = authorizer.lambda_handler(token_event("Bearer mh_thisKeyWasNeverIssued"), lambda_context)

    # Then the policy denies and names no partner
    assert statement(policy)["Effect"] == "Deny"
    assert policy["principalId"] == "anonymous"
    assert "partner_id" not in (policy.get("context") or {})


def test_revoked_key_is_denied(authorizer: ModuleType, partner: IssuedKey, lambda_context: Any) -> None:
    # Given the partner's key is revoked
    repo = dynamo_partner_repository(PartnersTableSettings.load().partners_table_name)
    partners.revoke_api_key(repo, partner.partner_id, partner.key_id)

    # When it is used
    policy = authorizer.lambda_handler(token_event(f"Bearer {partner.api_key}"), lambda_context)

    # Then the policy denies
    assert statement(policy)["Effect"] == "Deny"
    assert "partner_id" not in (policy.get("context") or {})


def test_other_key_of_the_partner_still_works_after_a_revocation(
    authorizer: ModuleType, partner: IssuedKey, lambda_context: Any
) -> None:
    # Given a second key and the first one revoked
    repo = dynamo_partner_repository(PartnersTableSettings.load().partners_table_name)
    second = partners.issue_api_key(repo, partner.partner_id)
    partners.revoke_api_key(repo, partner.partner_id, partner.key_id)

    # When the second key is used
    policy = authorizer.lambda_handler(token_event(f"Bearer {second.api_key}"), lambda_context)

    # Then it is allowed
    assert statement(policy)["Effect"] == "Allow"
    assert policy["context"] == {"partner_id": partner.partner_id}


@pytest.mark.parametrize("token", ["Basic x", "", "Bearer ", "mh_noScheme"])
def test_malformed_header_raises_unauthorized(
    authorizer: ModuleType, partner: IssuedKey, lambda_context: Any, token: str
) -> None:
    # When the header is not a bearer token
    with pytest.raises(Exception, match=r"^Unauthorized$") as raised:
        authorizer.lambda_handler(token_event(token), lambda_context)

    # Then the authorizer raises the plain "Unauthorized" API Gateway turns into a 401
    assert type(raised.value) is Exception


def test_each_invocation_prints_its_denials_by_reason(
    authorizer: ModuleType, partner: IssuedKey, lambda_context: Any, emf: EmfCapture
) -> None:
    # When a valid key, an unknown key and a malformed header arrive
    authorizer.lambda_handler(token_event(f"Bearer {partner.api_key}"), lambda_context)
    authorizer.lambda_handler(token_event("Bearer mh_thisKeyWasNeverIssued"), lambda_context)
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.lambda_handler(token_event("Basic abc"), lambda_context)

    # Then the invocations themselves printed one denial of each kind (log_metrics), and the allowed one nothing
    printed = emf.printed()
    assert [(m.name, m.dimensions, m.values) for m in printed] == [
        ("AuthorizerDenials", {"Reason": "unknown_key"}, [1.0]),
        ("AuthorizerDenials", {"Reason": "malformed_token"}, [1.0]),
    ]
    # And in the stage's namespace, as template.yaml's Globals name it (meterhub-<StageName>)
    stage_namespace = function_environment()["POWERTOOLS_METRICS_NAMESPACE"]
    assert stage_namespace.startswith("meterhub-") and {m.namespace for m in printed} == {stage_namespace}
