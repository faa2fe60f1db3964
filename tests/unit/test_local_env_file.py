"""The local runner's shell state file (meterhub_dev.local.env_file) and how meterhub-admin finds the local stack
with it: what the README's `source .meterhub/local.env` and the admin CLI rely on."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from meterhub_dev import admin
from meterhub_dev.local import env_file

STATE = env_file.LocalStackEnv(
    api_url="http://127.0.0.1:3000",
    api_key="mh_secret-key",
    partner_id="7f93285d-8302-49d3-8754-82767ce999c2",
    partner_account="demo-partner",
    aws_endpoint_url="http://127.0.0.1:43747",
    region="us-east-1",
    partners_table="PartnersTable",
    meters_table="MetersTable",
    data_bucket="meterhub-local-data-123456789012",
    usage_plan_id="pw8qdrqvlc",
    sftp_port=2222,
    receiver_port=8765,
    runner_pid=os.getpid(),
)


def _gone_pid() -> int:
    """A pid no process can have: above the kernel's limit."""
    return int(Path("/proc/sys/kernel/pid_max").read_text(encoding="utf-8")) + 1


def test_the_file_exports_what_the_snippets_use_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    path = tmp_path / ".meterhub" / "local.env"

    env_file.write(path, replace(STATE, partner_account="it's spaced & quoted"))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the demo key is in it
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    values = env_file.parse(path.read_text(encoding="utf-8"))
    assert values["API"] == values["MH_API_URL"] == "http://127.0.0.1:3000"
    assert values["KEY"] == values["MH_API_KEY"] == "mh_secret-key"
    assert values["PARTNER_ACCOUNT"] == "it's spaced & quoted"  # shell-quoted, read back exactly
    assert (values["MOTO_URL"], values["DATA_BUCKET"], values["SFTP_PORT"]) == (
        "http://127.0.0.1:43747",
        "meterhub-local-data-123456789012",
        "2222",
    )
    assert values[env_file.ENV_FILE_VARIABLE] == str(path.resolve())
    # A sourced shell must not point the developer's aws command at moto, nor look configured for a stage
    assert not {"AWS_ENDPOINT_URL", "PARTNERS_TABLE_NAME", "METERS_TABLE_NAME", "USAGE_PLAN_ID"} & set(values)
    assert list(tmp_path.rglob("*.tmp")) == []


def test_a_template_without_sftp_exports_no_sftp_port(tmp_path: Path) -> None:
    path = tmp_path / "local.env"
    env_file.write(path, replace(STATE, sftp_port=None))
    assert "SFTP_PORT" not in env_file.parse(path.read_text(encoding="utf-8"))


def test_a_runner_removes_only_its_own_file(tmp_path: Path) -> None:
    path = tmp_path / "local.env"
    env_file.write(path, STATE)

    env_file.remove(path, runner_pid=STATE.runner_pid + 1)  # another runner wrote it: left alone
    assert path.exists()
    env_file.remove(path, runner_pid=STATE.runner_pid)
    assert not path.exists()
    env_file.remove(path, runner_pid=STATE.runner_pid)  # already gone: nothing to do


def test_the_file_is_found_from_a_sub_folder_or_where_the_variable_says(tmp_path: Path) -> None:
    repo_file = tmp_path / env_file.RELATIVE_PATH
    env_file.write(repo_file, STATE)
    sub_folder = tmp_path / "devtools" / "meterhub_dev"
    sub_folder.mkdir(parents=True)

    assert env_file.locate({}, sub_folder) == repo_file
    assert env_file.locate({env_file.ENV_FILE_VARIABLE: "/elsewhere/local.env"}, sub_folder) == Path(
        "/elsewhere/local.env"
    )
    assert env_file.locate({}, tmp_path.parent) is None


def test_a_file_whose_runner_has_stopped_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "local.env"
    env_file.write(path, STATE)
    assert env_file.read_running(path)["KEY"] == "mh_secret-key"

    env_file.write(path, replace(STATE, runner_pid=_gone_pid()))
    with pytest.raises(env_file.StaleEnvFile, match="no longer running"):
        env_file.read_running(path)


# ----- meterhub-admin without a stage's configuration -------------------------------------------------------


@pytest.fixture
def no_stage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No table named, real-looking AWS settings, and a working directory with no state file above it."""
    for name in ("PARTNERS_TABLE_NAME", "METERS_TABLE_NAME", "USAGE_PLAN_ID", "SFTP_HOST", "SFTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(env_file.ENV_FILE_VARIABLE, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://dynamodb.example")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-real-session")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_PROFILE", "operator")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_admin_uses_the_running_local_stack_when_no_table_is_named(no_stage: Path) -> None:
    env_file.write(no_stage / env_file.RELATIVE_PATH, STATE)
    args = admin._parser().parse_args(["sftp-login", "--partner-id", STATE.partner_id])

    assert admin._use_local_runner(args) is None

    assert (args.partners_table, args.meters_table, args.usage_plan_id) == (
        "PartnersTable",
        "MetersTable",
        "pw8qdrqvlc",
    )
    assert (args.sftp_host, args.sftp_port) == ("127.0.0.1", 2222)
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:43747"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "AWS_SESSION_TOKEN" not in os.environ  # the developer's credentials never go to moto


def test_admin_keeps_what_it_was_told_over_the_local_stack(no_stage: Path) -> None:
    env_file.write(no_stage / env_file.RELATIVE_PATH, STATE)
    args = admin._parser().parse_args(
        ["--usage-plan-id", "other", "sftp-login", "--partner-id", "p", "--sftp-port", "2300"]
    )
    assert admin._use_local_runner(args) is None
    assert (args.usage_plan_id, args.sftp_port) == ("other", 2300)


def test_admin_without_tables_or_a_runner_says_what_to_do(no_stage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.main(["list-keys", "--partner-id", "p"]) == 2
    assert "start `make run`, or name a stage's tables" in capsys.readouterr().err

    env_file.write(no_stage / env_file.RELATIVE_PATH, replace(STATE, runner_pid=_gone_pid()))
    assert admin.main(["list-keys", "--partner-id", "p"]) == 2
    assert "no longer running" in capsys.readouterr().err
    assert os.environ["AWS_ENDPOINT_URL"] == "https://dynamodb.example"  # a stale file changes nothing


def test_admin_given_a_stage_table_ignores_the_local_runner(
    no_stage: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file.write(no_stage / env_file.RELATIVE_PATH, STATE)
    monkeypatch.setenv("METERS_TABLE_NAME", "stage-meters")

    # the partners table is still missing: the error of a half-configured stage, as before the state file
    assert admin.main(["list-keys", "--partner-id", "p"]) == 2
    assert "set --partners-table or PARTNERS_TABLE_NAME" in capsys.readouterr().err
    assert os.environ["AWS_ENDPOINT_URL"] == "https://dynamodb.example"
