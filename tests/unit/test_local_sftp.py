"""The local SFTP drop's reading of the template and of an identity provider's answer, and its policy evaluator.

The server itself is driven over SSH in tests/e2e/test_sftp_drop.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from meterhub.intervals.rules.sftp_home import home_directory_mappings, session_policy
from meterhub_dev.local.intrinsics import LocalContext
from meterhub_dev.local.session_policy import SessionPolicy, UnsupportedPolicy
from meterhub_dev.local.sftp import login_from_response
from meterhub_dev.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
PARTNER = "0f0e0d0c-0b0a-4909-8807-060504030201"


@pytest.mark.parametrize(("enabled", "expected"), [("true", {"SftpServer": "SftpIdentityFunction"}), ("false", {})])
def test_the_sftp_server_and_its_identity_function_exist_only_with_enable_sftp(
    enabled: str, expected: dict[str, str]
) -> None:
    context = LocalContext(parameter_overrides={"StageName": "local", "EnableSftp": enabled})
    template = load_template(ROOT / "template.yaml", context)
    assert dict(template.sftp_servers) == expected
    assert ("SftpIdentityFunction" in template.functions) is (enabled == "true")
    if expected:
        role = template.functions["SftpIdentityFunction"].environment["SFTP_USER_ROLE_ARN"]
        assert role == "arn:aws:iam::123456789012:role/SftpUserRole"


def test_an_answer_without_a_role_is_a_denial_and_a_grant_is_read_whole() -> None:
    assert login_from_response({}) is None
    assert login_from_response(None) is None
    answer = {
        "Role": "arn:aws:iam::123456789012:role/SftpUserRole",
        "HomeDirectoryType": "LOGICAL",
        "HomeDirectoryDetails": json.dumps(home_directory_mappings("bucket", PARTNER)),
        "Policy": json.dumps(session_policy("bucket", PARTNER)),
    }
    login = login_from_response(answer)
    assert login is not None
    assert (login.bucket, login.entry, login.prefix) == (
        "bucket",
        "/interval-data",
        f"partners/{PARTNER}/interval-data",
    )
    # A PATH home would give the partner the bucket's real layout: refused rather than served differently
    with pytest.raises(ValueError, match="LOGICAL"):
        login_from_response({**answer, "HomeDirectoryType": "PATH"})


def test_policy_evaluation_explicit_deny_wins_and_conditions_need_their_key() -> None:
    policy = SessionPolicy(
        {
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::b/p/*"},
                {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/p/out/*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": "arn:aws:s3:::b",
                    "Condition": {"StringLike": {"s3:prefix": "p/*"}},
                },
            ]
        }
    )
    assert policy.allows("s3:PutObject", "arn:aws:s3:::b/p/x.csv")
    assert policy.allows("S3:GetObject", "arn:aws:s3:::b/p/out/x.csv")  # actions are case-insensitive
    assert not policy.allows("s3:PutObject", "arn:aws:s3:::b/p/out/x.csv")
    assert not policy.allows("s3:PutObject", "arn:aws:s3:::b/q/x.csv")
    assert policy.allows("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "p/"})
    assert not policy.allows("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "q/"})
    assert not policy.allows("s3:ListBucket", "arn:aws:s3:::b")
    with pytest.raises(UnsupportedPolicy):
        SessionPolicy(
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {}}}]}
        )
