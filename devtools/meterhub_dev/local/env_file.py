"""The runner's shell state file: what the README's snippets and `meterhub-admin` need to find the local stack.

`make run` writes `.meterhub/local.env` beside template.yaml once it is ready, so a developer types
`source .meterhub/local.env` instead of copying a key, a moto port or a partner id out of the banner, and the
admin CLI reads the same file when it is given no table names (see meterhub_dev.admin). The file holds the demo
partner's API key, so it is created 0600 (in a 0700 folder, gitignored). It describes one running process: the
runner deletes it when it stops, and a file left by a runner that was killed names a pid that no longer runs,
which `read_running` refuses, rather than sending a command to a moto that is gone.

Partner-facing names (API, KEY, MH_API_URL, ...) are the ones the README uses; the admin's are prefixed
MH_LOCAL_, never the names a deployed stage is configured with (PARTNERS_TABLE_NAME, AWS_ENDPOINT_URL, ...):
a shell that sourced the file must not point the developer's `aws` command at moto, nor make the admin CLI
believe it was configured for a stage.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_FILE_VARIABLE = "MH_LOCAL_ENV_FILE"
RELATIVE_PATH = Path(".meterhub") / "local.env"
PID_VARIABLE = "MH_LOCAL_RUNNER_PID"


class StaleEnvFile(Exception):
    """The file names a runner process that is no longer running."""


@dataclass(frozen=True)
class LocalStackEnv:
    """What one running runner exports: the API and its demo partner, and the AWS side the admin CLI uses."""

    api_url: str
    api_key: str
    partner_id: str
    partner_account: str
    aws_endpoint_url: str
    region: str
    partners_table: str
    meters_table: str
    data_bucket: str | None
    usage_plan_id: str | None
    sftp_port: int | None
    receiver_port: int
    runner_pid: int

    def exports(self, path: Path) -> dict[str, str]:
        values = {
            "API": self.api_url,
            "KEY": self.api_key,
            "MH_API_URL": self.api_url,
            "MH_API_KEY": self.api_key,
            "PARTNER_ID": self.partner_id,
            "PARTNER_ACCOUNT": self.partner_account,
            "DATA_BUCKET": self.data_bucket,
            "MOTO_URL": self.aws_endpoint_url,
            "SFTP_PORT": None if self.sftp_port is None else str(self.sftp_port),
            "RECEIVER_PORT": str(self.receiver_port),
            "MH_LOCAL_PARTNERS_TABLE": self.partners_table,
            "MH_LOCAL_METERS_TABLE": self.meters_table,
            "MH_LOCAL_USAGE_PLAN_ID": self.usage_plan_id,
            "MH_LOCAL_REGION": self.region,
            PID_VARIABLE: str(self.runner_pid),
            ENV_FILE_VARIABLE: str(path.resolve()),
        }
        return {name: value for name, value in values.items() if value is not None}


def default_path(template: Path) -> Path:
    """`$MH_LOCAL_ENV_FILE` when set (tests give each runner its own), else `.meterhub/local.env` beside the
    template, i.e. in the repository's root for `make run`."""
    configured = os.environ.get(ENV_FILE_VARIABLE)
    return Path(configured) if configured else template.parent / RELATIVE_PATH


def render(state: LocalStackEnv, path: Path) -> str:
    lines = [
        "# Written by the meterhub local runner (make run) while it runs; deleted when it stops.",
        "# `source` it in a shell for the README's snippets; meterhub-admin reads it by itself.",
        "# It holds the demo partner's API key: keep it to yourself.",
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in state.exports(path).items()]
    return "\n".join(lines) + "\n"


def write(path: Path, state: LocalStackEnv) -> None:
    """Atomically (a 0600 temp file renamed over it), so a reader never sees half of it or a wider mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as output:
        output.write(render(state, path))
    temporary.replace(path)


def parse(text: str) -> dict[str, str]:
    """The `export NAME=value` lines (values as `shlex.quote` wrote them); comments and anything else ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


def remove(path: Path, runner_pid: int) -> None:
    """Delete the file if it is still this runner's: a second runner may have written its own over it since."""
    try:
        if parse(path.read_text(encoding="utf-8")).get(PID_VARIABLE) == str(runner_pid):
            path.unlink()
    except FileNotFoundError:
        return


def locate(environ: Mapping[str, str], start: Path) -> Path | None:
    """`$MH_LOCAL_ENV_FILE` (set by sourcing the file, or by a test), else `.meterhub/local.env` in `start` or
    the nearest parent that has one (the admin CLI may be run from a sub-folder of the repository)."""
    configured = environ.get(ENV_FILE_VARIABLE)
    if configured:
        return Path(configured)
    for directory in (start, *start.parents):
        if (directory / RELATIVE_PATH).is_file():
            return directory / RELATIVE_PATH
    return None


def read_running(path: Path) -> dict[str, str]:
    """The file's exports, if the runner that wrote it still runs (FileNotFoundError, StaleEnvFile otherwise)."""
    values = parse(path.read_text(encoding="utf-8"))
    pid = values.get(PID_VARIABLE, "")
    if not pid.isdigit() or not _running(int(pid)):
        raise StaleEnvFile(f"{path} was written by a local runner (pid {pid or '?'}) that is no longer running")
    return values


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True
