"""The README's tour pastes: every ```bash block of its tour sections runs as written, in order, in one bash
session, against a local runner started as `make run` starts it.

A developer reads the README top to bottom in one terminal after `make run`, so that is what this does: the
blocks go to a single `bash` (`set -euo pipefail`) in a scratch folder that looks like the repository's root to
them (`.meterhub/local.env` is this runner's state file, `.venv` the project's venv), so `source
.meterhub/local.env`, `.venv/bin/python` and the files the snippets write work as they do for the developer.
`curl` and `jq` are wrapped so that a 5xx, a refused connection or a body that is not JSON fails the run even
where bash's `set -e` cannot see it (inside `$(...)` in an argument). A block that cannot run unattended (a
browser, an interactive `sftp`, a deploy) is preceded by `<!-- not run: <reason> -->`; the test lists those
and requires the reason.

One substitution, stated here: the 50 MB interval file is written with 0.1 MB (`make test-big-upload` covers
the 50 MB upload through the presigned URL); nothing else of the README is rewritten.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, LocalStack, running_stack

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
# The tour: from the Python client to the end of the API tour (interval data, webhooks, Connect, limits...),
# and the operator's commands of "Partners and API keys".
TOUR_SECTIONS = ("## Python client and CLI", "## API tour (curl)", "## Partners and API keys")
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>[^>]*\S[^>]*) -->")
BIG_FILE = ("while out.tell() < 50_000_000:", "while out.tell() < 100_000:")
RUN_TIMEOUT_SECONDS = 240

# Defined before the README's blocks. Failures are also appended to $MH_SNIPPET_FAILURES, because bash ignores
# a failing command substitution used as an argument (`curl .../$(jq -r .job_id x.json)`).
PRELUDE = r"""
set -euo pipefail
trap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT
snippet_failed() { echo "$*" >> "$MH_SNIPPET_FAILURES"; echo "snippet failure: $*" >&2; }
curl() {
  local headers status rc=0
  headers=$(mktemp)
  command curl --dump-header "$headers" "$@" || rc=$?
  status=$(grep -a '^HTTP/' "$headers" | tail -n 1 | cut -d ' ' -f 2 || true)
  rm -f "$headers"
  if [ "$rc" -ne 0 ]; then snippet_failed "curl exited $rc: curl $*"; return "$rc"; fi
  if [ "${status:-0}" -ge 500 ]; then snippet_failed "HTTP $status: curl $*"; return 1; fi
}
jq() {
  local rc=0
  command jq "$@" || rc=$?
  if [ "$rc" -ge 2 ]; then snippet_failed "jq exited $rc (not JSON?): jq $*"; fi
  return "$rc"
}
"""


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    section: str
    code: str
    not_run: str | None  # the stated reason, when the block is marked


def tour_blocks(text: str) -> list[Block]:
    """The ```bash blocks of the tour sections, in order, each with the `<!-- not run: ... -->` reason that
    directly precedes it, if any."""
    blocks: list[Block] = []
    section = ""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("## "):
            section = line
        if line.startswith("```"):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            if line == "```bash" and section in TOUR_SECTIONS:
                previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
                marked = NOT_RUN.fullmatch(previous.strip())
                code = "\n".join(lines[index + 1 : end]) + "\n"
                blocks.append(Block(index + 1, section, code, marked["reason"] if marked else None))
            index = end
        index += 1
    return blocks


def script(blocks: list[Block]) -> str:
    parts = [PRELUDE]
    runnable = [block for block in blocks if block.not_run is None]
    for number, block in enumerate(runnable, 1):
        marker = f"::snippet {number} README.md:{block.line}"
        # a block's output may end without a newline (`curl ... | tee x.json`): the marker starts a line of its own
        parts.append(f'printf "\\n%s\\n" {marker!r}; echo {marker!r}" at ${{SECONDS}}s" >&2\n{block.code}')
    text = "\n".join(parts)
    assert text.count(BIG_FILE[0]) == 1, f"the README's 50 MB file snippet changed: {BIG_FILE[0]!r} not found once"
    return text.replace(*BIG_FILE)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    failures: str
    seconds: float

    def section(self, readme_line: int) -> str:
        """What one block printed (stdout), found by its marker."""
        parts = re.split(r"^::snippet \d+ README\.md:(\d+)$", self.stdout, flags=re.MULTILINE)
        outputs = dict(zip(parts[1::2], parts[2::2], strict=True))
        return outputs[str(readme_line)]


@pytest.fixture(scope="module")
def readme_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A runner of its own: the tour runs against a fresh demo partner, exactly what `make run` gives."""
    with running_stack(tmp_path_factory.mktemp("readme_runner")) as stack:
        yield stack


def _scratch_repo(directory: Path, stack: LocalStack) -> None:
    """What the snippets expect of the repository's root: the runner's state file and the venv."""
    (directory / ".meterhub").mkdir()
    (directory / ".meterhub" / "local.env").symlink_to(stack.env_file)
    (directory / ".venv").symlink_to(Path(sys.executable).parent.parent)


def _environment(directory: Path) -> dict[str, str]:
    """The developer's settings must not steer the snippets: no AWS, meterhub or stage variables, a HOME of
    its own (the CLI's config file), temp files in the scratch folder."""
    dropped = ("AWS_", "MH_", "METERHUB_")
    kept = {name: value for name, value in os.environ.items() if not name.startswith(dropped)}
    for name in ("PARTNERS_TABLE_NAME", "METERS_TABLE_NAME", "USAGE_PLAN_ID", "SFTP_HOST", "SFTP_PORT", "PORT"):
        kept.pop(name, None)
    home = directory / "home"
    home.mkdir()
    return kept | {"HOME": str(home), "TMPDIR": str(directory), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def tour(readme_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Run:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    assert not missing, f"the README's snippets need {', '.join(missing)}"
    directory = tmp_path_factory.mktemp("readme_tour")
    _scratch_repo(directory, readme_stack)
    failures = directory / "snippet-failures.txt"
    failures.touch()
    (directory / "tour.sh").write_text(script(tour_blocks(README.read_text(encoding="utf-8"))), encoding="utf-8")
    stdout, stderr = directory / "stdout.txt", directory / "stderr.txt"
    started = time.monotonic()
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            ["bash", "tour.sh"],
            cwd=directory,
            env=_environment(directory) | {"MH_SNIPPET_FAILURES": str(failures)},
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: whatever a snippet leaves running is stopped below
        )
        try:
            returncode = process.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            returncode = -1
        finally:
            with contextlib.suppress(ProcessLookupError):  # unless bash and all it started have exited
                os.killpg(process.pid, signal.SIGTERM)
            process.wait()
    return Run(
        returncode=returncode,
        stdout=stdout.read_text(encoding="utf-8", errors="replace"),
        stderr=stderr.read_text(encoding="utf-8", errors="replace"),
        failures=failures.read_text(encoding="utf-8"),
        seconds=time.monotonic() - started,
    )


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _block_with(blocks: list[Block], needle: str) -> Block:
    [block] = [block for block in blocks if needle in block.code and block.not_run is None]
    return block


BLOCKS = tour_blocks(README.read_text(encoding="utf-8"))


def test_every_tour_block_runs_as_written(tour: Run, readme_stack: LocalStack) -> None:
    assert tour.returncode == 0 and not tour.failures, (
        f"the README tour failed (exit {tour.returncode}, {tour.seconds:.0f} s)\n{tour.failures}\n"
        f"--- stderr (last lines; '::snippet N README.md:L' marks each block)\n{_tail(tour.stderr)}\n"
        f"--- stdout\n{_tail(tour.stdout)}\n--- runner\n{_tail(readme_stack.printed(), 30)}"
    )


def test_the_tour_prints_what_the_readme_promises(tour: Run) -> None:
    created = tour.section(_block_with(BLOCKS, "tee created.json").line)
    assert '"status": "COMPLETED"' in created and '"METER_CREATED"' in created, created
    duplicate = tour.section(_block_with(BLOCKS, "{provisional_asset: .data}").line)
    assert '"status": "DUPLICATE"' in duplicate, duplicate
    cli_upload = tour.section(_block_with(BLOCKS, "meterhub intervals upload big.csv").line)
    assert "COMPLETED" in cli_upload, cli_upload
    cli_failed = tour.section(_block_with(BLOCKS, "meterhub --json intervals upload bad.csv").line)
    assert "FAILED" in cli_failed and "exit 3" in cli_failed, cli_failed
    day = tour.section(_block_with(BLOCKS, "cat > day.csv").line)
    assert '"status": "COMPLETED"' in day and '"rows_valid": 4' in day, day
    bad = tour.section(_block_with(BLOCKS, "file_name=bad.csv").line)
    assert '"status": "FAILED"' in bad and "MTR_0002" in bad, bad
    walk = tour.section(_block_with(BLOCKS, "meterhub-admin record-program-step").line)
    assert walk.rstrip().endswith('"ACTIVE"'), walk
    assert "signature OK" in tour.stdout  # the development receiver got the signed test delivery


def test_only_blocks_that_cannot_run_unattended_are_skipped_and_each_says_why() -> None:
    skipped = {block.line: block.not_run for block in BLOCKS if block.not_run is not None}
    assert len(skipped) <= 6, skipped  # a small, honest set: a browser, an interactive sftp, a deploy...
    assert len(BLOCKS) - len(skipped) >= 25
    text = "".join(block.code for block in BLOCKS if block.not_run is None)
    for placeholder in ("<moto-port>", "<partner_id>", "<partner id>", "mh_...", "<admin env", "/tmp/"):
        assert placeholder not in text, f"a runnable block still says {placeholder!r}"


class _Answers(BaseHTTPRequestHandler):
    """/boom answers 500, anything else 200 with a body that is not JSON."""

    def do_GET(self) -> None:
        self.send_response(500 if self.path == "/boom" else 200)
        self.end_headers()
        self.wfile.write(b"<html>not json</html>")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.mark.parametrize(
    ("snippet", "failure"),
    [
        ('echo "$(curl -s $URL/boom)"', "HTTP 500"),  # a 5xx, even inside $(...) where set -e does not look
        ("curl -s http://127.0.0.1:$CLOSED/ | cat", "curl exited 7"),  # nothing listening
        ('echo "id: $(curl -s $URL/page | jq -r .job_id)"', "jq exited"),  # a body that is not JSON
    ],
)
def test_the_harness_fails_what_bash_alone_would_let_pass(snippet: str, failure: str, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)  # closed at once: nothing listens on its port
    closed_port = closed.server_address[1]
    closed.server_close()
    failures = tmp_path / "failures.txt"
    failures.touch()
    (tmp_path / "run.sh").write_text(f"{PRELUDE}\n{snippet}\n", encoding="utf-8")
    try:
        result = subprocess.run(
            ["bash", "run.sh"],
            cwd=tmp_path,
            env=os.environ
            | {"MH_SNIPPET_FAILURES": str(failures), "URL": server_url(server), "CLOSED": str(closed_port)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert failure in failures.read_text(encoding="utf-8"), (result.returncode, result.stderr)


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"
