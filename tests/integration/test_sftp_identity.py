"""functions/sftp_identity/app.py on moto with AWS Transfer Family's identity-provider events.

The answer's session policy is also evaluated (with the local runner's evaluator, the one its SFTP server
enforces) to show what a login may and may not do in the bucket.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from meterhub.partners import use_cases as partners
from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
from meterhub.platform.settings import DataBucketSettings, PartnersTableSettings
from meterhub_dev.local.session_policy import SessionPolicy

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey
    from mypy_boto3_dynamodb import DynamoDBClient

ROLE_ARN = "arn:aws:iam::123456789012:role/SftpUserRole"


@pytest.fixture
def identity(
    aws: DynamoDBClient, monkeypatch: pytest.MonkeyPatch, load_function: Callable[[str], ModuleType]
) -> ModuleType:
    # The test stack's template has EnableSftp at its default (false), so this function's one own variable is set here.
    monkeypatch.setenv("SFTP_USER_ROLE_ARN", ROLE_ARN)
    return load_function("functions/sftp_identity/app.py")


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """Everything the function logs (Powertools' JSON lines), read from the logger's own handler."""
    from meterhub.platform.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def account_of(partner: IssuedKey) -> str:
    repo = dynamo_partner_repository(PartnersTableSettings.load().partners_table_name)
    found = repo.get_partner(partner.partner_id)
    assert found is not None
    return found.account


def login_event(username: str, password: str | None, protocol: str = "SFTP") -> dict[str, Any]:
    event = {"username": username, "protocol": protocol, "serverId": "s-1234567890abcdef0", "sourceIp": "203.0.113.9"}
    if password is not None:
        event["password"] = password
    return event


def test_a_valid_login_maps_the_home_to_the_partners_drop_folder(
    identity: ModuleType, partner: IssuedKey, lambda_context: Any
) -> None:
    # When the partner logs in with its account and API key
    answer = identity.lambda_handler(login_event(account_of(partner), partner.api_key), lambda_context)

    # Then Transfer Family gets the role, a LOGICAL home and a session policy (both as JSON strings)
    assert set(answer) == {"Role", "Policy", "HomeDirectoryType", "HomeDirectoryDetails"}
    assert answer["Role"] == ROLE_ARN
    assert answer["HomeDirectoryType"] == "LOGICAL"
    bucket = DataBucketSettings.load().data_bucket_name
    folder = f"partners/{partner.partner_id}/interval-data"
    assert json.loads(answer["HomeDirectoryDetails"]) == [{"Entry": "/interval-data", "Target": f"/{bucket}/{folder}"}]
    policy = SessionPolicy(json.loads(answer["Policy"]))

    # And the policy lets it list, upload and read in its own folder only, and never delete
    own = f"arn:aws:s3:::{bucket}/{folder}/day.csv"
    assert policy.allows("s3:PutObject", own)
    assert policy.allows("s3:GetObject", f"arn:aws:s3:::{bucket}/{folder}/accepted/day.csv/day.csv")
    assert policy.allows("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": f"{folder}/"})
    assert not policy.allows("s3:DeleteObject", own)
    assert not policy.allows("s3:PutObject", f"arn:aws:s3:::{bucket}/{folder}/accepted/day.csv/day.csv")
    assert not policy.allows("s3:PutObject", f"arn:aws:s3:::{bucket}/partners/{partner.partner_id}/jobs/x.json")
    other = "partners/00000000-0000-4000-8000-000000000000/interval-data"
    assert not policy.allows("s3:GetObject", f"arn:aws:s3:::{bucket}/{other}/day.csv")
    assert not policy.allows("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": f"{other}/"})
    assert not policy.allows("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": "partners/"})


@pytest.mark.parametrize(
    "case", ["wrong key", "unknown account", "another partner's key", "no password", "not SFTP", "key as username"]
)
def test_every_other_login_gets_the_empty_answer(
    identity: ModuleType,
    partner: IssuedKey,
    other_partner: IssuedKey,
    lambda_context: Any,
    case: str,
    logged: io.StringIO,
) -> None:
    account = account_of(partner)
    event = {
        "wrong key": login_event(account, partner.api_key + "x"),
        "unknown account": login_event("nobody-here", partner.api_key),
        "another partner's key": login_event(account, other_partner.api_key),
        "no password": login_event(account, None),
        "not SFTP": login_event(account, partner.api_key, protocol="FTPS"),
        "key as username": login_event(partner.api_key, partner.api_key),
    }[case]

    # Then the answer is empty (Transfer Family's deny)
    assert identity.lambda_handler(event, lambda_context) == {}
    # And the refusal is logged without any secret in it
    lines = logged.getvalue()
    assert "Denied" in lines
    assert partner.api_key not in lines and other_partner.api_key not in lines


def test_a_revoked_key_no_longer_logs_in_while_another_key_of_the_partner_does(
    identity: ModuleType, partner: IssuedKey, lambda_context: Any, logged: io.StringIO
) -> None:
    repo = dynamo_partner_repository(PartnersTableSettings.load().partners_table_name)
    second = partners.issue_api_key(repo, partner.partner_id)
    partners.revoke_api_key(repo, partner.partner_id, partner.key_id)
    account = account_of(partner)

    assert identity.lambda_handler(login_event(account, partner.api_key), lambda_context) == {}
    assert identity.lambda_handler(login_event(account, second.api_key), lambda_context)["Role"] == ROLE_ARN
    lines = logged.getvalue()
    assert partner.partner_id in lines  # the allowed login is logged with its partner
    assert second.api_key not in lines and partner.api_key not in lines
