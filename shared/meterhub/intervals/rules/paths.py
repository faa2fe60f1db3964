"""Where interval files live in the data bucket, and how partners see those places.

A partner's drop folder is `partners/<partner_id>/interval-data/` (what an SFTP front end such as AWS Transfer
Family maps the partner's home directory to); partners see it as `/interval-data/`. After ingestion the
original moves to `accepted/<file>/<file>` or `failed/<file>/<file>`, with `<job_id>.feedback` (every parsed
file) and `<job_id>.errors.csv` (failed files) beside it. Keys under `accepted/` and `failed/` are our own
outputs and never start an ingestion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DROP_FOLDER = "interval-data"
OUTCOME_FOLDERS = frozenset({"accepted", "failed"})
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$")
"""Names we accept for uploaded files: no slashes, no leading dot, at most 200 characters."""


def drop_folder(partner_id: str) -> str:
    """The partner's drop folder in the data bucket (no trailing slash): what SFTP shows as `/interval-data`."""
    return f"partners/{partner_id}/{DROP_FOLDER}"


_DROP = re.compile(r"^partners/(?P<partner>[0-9a-f-]{36})/interval-data/(?P<name>[^/]+)$")


@dataclass(frozen=True)
class Drop:
    partner_id: str
    file_name: str

    @property
    def key(self) -> str:
        return f"{drop_folder(self.partner_id)}/{self.file_name}"

    @property
    def partner_path(self) -> str:
        return f"/{DROP_FOLDER}/{self.file_name}"

    def outcome_folder(self, accepted: bool) -> str:
        return f"{drop_folder(self.partner_id)}/{'accepted' if accepted else 'failed'}/{self.file_name}"

    def moved_key(self, accepted: bool) -> str:
        return f"{self.outcome_folder(accepted)}/{self.file_name}"

    def report_key(self, accepted: bool, job_id: str, suffix: str) -> str:
        return f"{self.outcome_folder(accepted)}/{job_id}.{suffix}"


def parse_drop(key: str) -> Drop | None:
    """The drop a bucket key is, or None for anything else (our outputs, other prefixes, nested folders)."""
    match = _DROP.match(key)
    if match is None:
        return None
    return Drop(partner_id=match["partner"], file_name=match["name"])


def partner_path(key: str) -> str:
    """`partners/<pid>/interval-data/x` -> `/interval-data/x` (what the partner sees)."""
    parts = key.split("/", 2)
    return "/" + parts[2] if len(parts) == 3 and parts[0] == "partners" else key
