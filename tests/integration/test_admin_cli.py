"""meterhub_dev.admin on moto: partners and keys from the operator's command line."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from meterhub.partners import use_cases as partners
from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
from meterhub.platform.errors import Forbidden
from meterhub.platform.settings import PartnersTableSettings
from meterhub_dev import admin

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = admin.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def create_partner(capsys: pytest.CaptureFixture[str], name: str = "Acme Solar") -> dict[str, Any]:
    code, out, _ = run(capsys, "create-partner", "--name", name)
    assert code == 0
    created: dict[str, Any] = json.loads(out)
    return created


@pytest.fixture
def usage_plan(aws: DynamoDBClient, monkeypatch: pytest.MonkeyPatch) -> str:
    """The partners' usage plan on moto, named by USAGE_PLAN_ID as the stack output would be."""
    plan_id = str(boto3.client("apigateway", region_name="us-east-1").create_usage_plan(name="partners")["id"])
    monkeypatch.setenv("USAGE_PLAN_ID", plan_id)
    return plan_id


def plan_key_values(plan_id: str) -> list[str]:
    items = boto3.client("apigateway", region_name="us-east-1").get_usage_plan_keys(usagePlanId=plan_id)["items"]
    return sorted(str(item["value"]) for item in items)


def test_create_partner_prints_the_key_once_and_it_authenticates(
    usage_plan: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When an operator creates a partner
    code, out, err = run(capsys, "create-partner", "--name", "Acme Solar")

    # Then the output shows the partner, its account and its key exactly once, and the key works
    assert (code, err) == (0, "")
    created = json.loads(out)
    assert (created["name"], created["account"]) == ("Acme Solar", "acme-solar")
    assert out.count(created["api_key"]) == 1
    repo = dynamo_partner_repository(PartnersTableSettings.load().partners_table_name)
    assert partners.authenticate(repo, f"Bearer {created['api_key']}") == created["partner_id"]
    # And the partner's usage key (the value its authorizer names) is in the usage plan
    assert created["usage_key_id"]
    assert plan_key_values(usage_plan) == [f"meterhub-partner-{created['partner_id']}"]


def test_issue_key_and_enable_usage_leave_one_usage_key_per_partner(
    usage_plan: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a partner
    created = create_partner(capsys)
    # When it gets a second key, and an operator runs enable-usage twice
    code, out, _ = run(capsys, "issue-key", "--partner-id", created["partner_id"])
    assert code == 0 and json.loads(out)["usage_key_id"] == created["usage_key_id"]
    for _ in range(2):
        code, out, _ = run(capsys, "enable-usage", "--partner-id", created["partner_id"])
        assert code == 0 and json.loads(out)["usage_key_id"] == created["usage_key_id"]
    # Then all of the partner's keys share one usage key in the plan (fair use is per partner)
    assert plan_key_values(usage_plan) == [f"meterhub-partner-{created['partner_id']}"]


def test_without_a_usage_plan_create_partner_warns_and_enable_usage_refuses(
    aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # When an operator creates a partner without naming the usage plan
    code, out, err = run(capsys, "create-partner", "--name", "Acme Solar")
    # Then the partner exists, and the operator is told it will get 403s and what to run
    assert code == 0
    created = json.loads(out)
    assert created["usage_key_id"] is None
    assert "403" in err and f"enable-usage --partner-id {created['partner_id']}" in err
    # And enable-usage without a plan is a usage error
    code, _, err = run(capsys, "enable-usage", "--partner-id", created["partner_id"])
    assert code == 2 and "USAGE_PLAN_ID" in err


def test_enable_usage_for_an_unknown_partner_fails_cleanly(usage_plan: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "enable-usage", "--partner-id", "no-such-partner")
    assert (code, out) == (1, "")
    assert err.startswith("error: Partner not found")
    assert plan_key_values(usage_plan) == []


def test_create_partner_with_an_explicit_account(aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]) -> None:
    # When an operator picks the account
    code, out, _ = run(capsys, "create-partner", "--name", "Acme Solar", "--account", "acme")

    # Then it is used
    assert code == 0
    assert json.loads(out)["account"] == "acme"


def test_create_partner_with_a_taken_account_fails_cleanly(
    aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a partner with account acme-solar
    create_partner(capsys)

    # When another partner would take the same account
    code, out, err = run(capsys, "create-partner", "--name", "ACME Solar")

    # Then the command fails with a message, not a traceback
    assert (code, out) == (1, "")
    assert err.startswith("error: Account 'acme-solar' already exists")
    assert "Traceback" not in err


def test_list_keys_never_prints_the_key_or_its_hash(aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a partner with a key
    created = create_partner(capsys)

    # When its keys are listed
    code, out, _ = run(capsys, "list-keys", "--partner-id", created["partner_id"])

    # Then the key id, prefix and status are shown, and neither the key nor its hash
    assert code == 0
    [listed] = json.loads(out)
    assert (listed["key_id"], listed["status"]) == (created["key_id"], "ACTIVE")
    assert created["api_key"].startswith(listed["prefix"])
    assert created["api_key"] not in out
    assert hashlib.sha256(created["api_key"].encode()).hexdigest() not in out
    assert "key_hash" not in listed


def test_revoke_key_makes_authentication_forbidden(aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a partner with a key
    created = create_partner(capsys)

    # When the key is revoked
    code, out, _ = run(capsys, "revoke-key", "--partner-id", created["partner_id"], "--key-id", created["key_id"])

    # Then the command confirms, the list shows it revoked and the key no longer authenticates
    assert code == 0
    assert json.loads(out)["status"] == "REVOKED"
    _, listing, _ = run(capsys, "list-keys", "--partner-id", created["partner_id"])
    assert [k["status"] for k in json.loads(listing)] == ["REVOKED"]
    repo = dynamo_partner_repository(PartnersTableSettings.load().partners_table_name)
    with pytest.raises(Forbidden):
        partners.authenticate(repo, f"Bearer {created['api_key']}")


def test_revoke_unknown_key_fails_cleanly(aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a partner
    created = create_partner(capsys)

    # When a key it does not have is revoked
    code, _, err = run(capsys, "revoke-key", "--partner-id", created["partner_id"], "--key-id", "nope")

    # Then the command fails naming the key
    assert code == 1
    assert err.startswith("error: API key not found")


def test_issue_key_adds_a_second_working_key(aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a partner with a key
    created = create_partner(capsys)

    # When another key is issued
    code, out, _ = run(capsys, "issue-key", "--partner-id", created["partner_id"])

    # Then both keys authenticate as the partner
    assert code == 0
    second = json.loads(out)["api_key"]
    assert second != created["api_key"]
    repo = dynamo_partner_repository(PartnersTableSettings.load().partners_table_name)
    for key in (created["api_key"], second):
        assert partners.authenticate(repo, f"Bearer {key}") == created["partner_id"]


def test_issue_key_for_an_unknown_partner_fails_cleanly(
    aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a key is issued for a partner that does not exist
    code, out, err = run(capsys, "issue-key", "--partner-id", "ghost")

    # Then the command fails without printing a key
    assert (code, out) == (1, "")
    assert err.startswith("error: Unknown partner")


def test_missing_table_is_a_usage_error(
    aws: DynamoDBClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no table configured
    monkeypatch.delenv("PARTNERS_TABLE_NAME")

    # When a command runs
    code, _, err = run(capsys, "list-keys", "--partner-id", "p")

    # Then it stops with exit code 2 and says what to set
    assert code == 2
    assert "PARTNERS_TABLE_NAME" in err


@pytest.mark.parametrize("account", ["Not A Slug", "acme_solar", "UPPER", "acme-"])
def test_create_partner_with_an_invalid_account_fails_cleanly(
    aws: DynamoDBClient, capsys: pytest.CaptureFixture[str], account: str
) -> None:
    # When an operator picks an account that is not a URL slug
    code, out, err = run(capsys, "create-partner", "--name", "Acme Solar", "--account", account)

    # Then the command fails with a message and prints no key
    assert (code, out) == (1, "")
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_sftp_login_shows_host_port_and_account_but_never_a_key(
    aws: DynamoDBClient, capsys: pytest.CaptureFixture[str]
) -> None:
    created = create_partner(capsys)

    # When an operator looks up the partner's SFTP login
    code, out, err = run(
        capsys,
        "sftp-login",
        "--partner-id",
        created["partner_id"],
        "--sftp-host",
        "sftp.example",
        "--sftp-port",
        "2222",
    )

    # Then it names the host, the port and the username (the account), and the key only by its prefix
    assert (code, err) == (0, "")
    login = json.loads(out)
    assert (login["host"], login["port"], login["username"]) == ("sftp.example", 2222, "acme-solar")
    assert login["command"] == "sftp -P 2222 acme-solar@sftp.example"
    assert login["active_key_prefixes"] == [created["api_key"][:7]]
    assert created["api_key"] not in out
    # And without a host it refuses rather than print half a login
    code, _, err = run(capsys, "sftp-login", "--partner-id", created["partner_id"])
    assert code == 2 and "SFTP_HOST" in err
