"""One local runner per test session, driven over real HTTP like a partner would; and the browser the browser
tests drive it with (Debian's chromium through chromium-driver, never a downloaded browser).

The runner is a subprocess started exactly as `make run` does (`python -m meterhub_dev.local run`), so these
tests also prove the command, its state file and its clean shutdown. Partners beyond the demo one are made
with the admin CLI pointed at the runner's moto, which proves that path too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless, and quiet on the network: this machine refuses chromium's background connections.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,1000",
)
DESKTOP = (1280, 1000)
PAGE_LOAD_TIMEOUT_SECONDS = 20


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    """The developer's AWS settings must not leak into the runner or the admin CLI."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")} | {
        "PYTHONUNBUFFERED": "1"
    }


@dataclass(frozen=True)
class LocalStack:
    url: str
    aws_endpoint_url: str
    partners_table: str
    meters_table: str
    usage_plan_id: str
    demo_partner_id: str
    demo_api_key: str
    log: Path
    sftp_port: int | None  # None when the template has no SFTP server (EnableSftp=false)
    env_file: Path  # the runner's shell state file (`source` it; meterhub-admin reads it)

    def printed(self) -> str:
        """What the runner printed so far (the banner a developer sees after `make run`)."""
        return _output(self.log)

    def admin(self, *args: str, usage_plan: bool = True) -> Any:
        """Run `python -m meterhub_dev.admin <args>` against the runner's moto; returns its JSON output. With
        `usage_plan=False` it is not told the usage plan (USAGE_PLAN_ID), as an operator might forget to."""
        env = _clean_env() | {
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PARTNERS_TABLE_NAME": self.partners_table,
            "METERS_TABLE_NAME": self.meters_table,
        }
        if usage_plan:
            env["USAGE_PLAN_ID"] = self.usage_plan_id
        result = subprocess.run(
            [sys.executable, "-m", "meterhub_dev.admin", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"meterhub_dev.admin {' '.join(args)} failed:\n{result.stderr}"
        return json.loads(result.stdout)

    def new_partner(self, name: str) -> tuple[str, str]:
        """A fresh partner and its first key (names must be unique within a session: accounts are)."""
        created = self.admin("create-partner", "--name", name)
        return str(created["partner_id"]), str(created["api_key"])

    def auth(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}


def _output(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else "(no output)"


@contextmanager
def running_stack(directory: Path, *parameters: str) -> Iterator[LocalStack]:
    """`python -m meterhub_dev.local run` in a subprocess, `--parameter NAME=VALUE` for each of `parameters`."""
    state_file = directory / "state.json"
    env_file = directory / "local.env"  # never the repository's .meterhub/local.env (a developer's `make run`)
    log = directory / "runner.log"
    port = _free_port()
    overrides = [argument for parameter in parameters for argument in ("--parameter", parameter)]
    with log.open("w", encoding="utf-8") as output:  # a file, not a pipe: a full pipe would block the runner
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meterhub_dev.local",
                "run",
                "--port",
                str(port),
                "--sftp-port",
                "0",  # any free port (the state file says which): never a developer's `make run` on 2222
                "--state-file",
                str(state_file),
                "--env-file",
                str(env_file),
                "--receiver-port",
                "0",  # a free port: never another run's receiver
                *overrides,
            ],
            cwd=ROOT,
            env=_clean_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not state_file.exists():
            if process.poll() is not None:
                pytest.fail(f"local runner exited with {process.returncode} before it was ready:\n{_output(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"local runner not ready after {START_TIMEOUT_SECONDS}s:\n{_output(log)}")
            time.sleep(0.1)
        state = json.loads(state_file.read_text(encoding="utf-8"))
        yield LocalStack(
            url=state["api_url"],
            aws_endpoint_url=state["aws_endpoint_url"],
            partners_table=state["partners_table"],
            meters_table=state["meters_table"],
            usage_plan_id=state["usage_plan_id"],
            demo_partner_id=state["demo_partner"]["partner_id"],
            demo_api_key=state["demo_partner"]["api_key"],
            log=log,
            sftp_port=state["sftp_port"],
            env_file=env_file,
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(f"local runner ignored SIGINT for {STOP_TIMEOUT_SECONDS}s:\n{_output(log)}")
    assert process.returncode == 0, f"local runner exited with {process.returncode}:\n{_output(log)}"
    assert "Traceback" not in _output(log).split("Stopping...")[-1], _output(log)
    assert not env_file.exists(), "the runner left its state file behind"


# The e2e files in the second group: the browser tests and the fuzzer, about half of the e2e time.
SECOND_RUNNER = frozenset({"test_connect_browser.py", "test_api_reference_browser.py", "test_api_fuzzing.py"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The e2e tests go to two xdist groups (`--dist loadgroup`): each group runs on one worker, which starts one
    runner for it. The e2e tests take about as long as everything else together, so one group alone made the
    worker that ran it the whole run's critical path; two groups balance the two cores."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            group = "local_runner_b" if item.path.name in SECOND_RUNNER else "local_runner"
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The runner as `make run` starts it (template defaults)."""
    with running_stack(tmp_path_factory.mktemp("local_runner")) as stack:
        yield stack


# ----- the browser ----------------------------------------------------------------------------------------


def _browser_required() -> bool:
    """CI sets MH_REQUIRE_BROWSER (via .ci/run): then a missing browser fails the run instead of skipping it."""
    return os.environ.get("MH_REQUIRE_BROWSER", "") not in ("", "0")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless chromium with a desktop viewport and its console log kept; both binaries are passed explicitly,
    so Selenium Manager is not involved."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        reason = f"Debian's chromium/chromium-driver not installed ({', '.join(missing)} missing): run `make browser`"
        if _browser_required():
            pytest.fail(f"MH_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(reason)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_SECONDS)
        size_viewport(driver, *DESKTOP)
        yield driver
    finally:
        driver.quit()


def size_viewport(driver: webdriver.Chrome, width: int, height: int) -> None:
    """Make the page's viewport (not the window around it) ``width`` x ``height`` CSS pixels."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - int(inner[0]), 2 * height - int(inner[1]))
