"""In-memory demo-utility store.

Why it exists: the demo utility's OAuth endpoints (authorize, token exchange, refresh, revocation, the data
API's bearer check) are unit tested without moto. tests/integration/parity/test_demo_utility_port.py holds
it to DynamoDemoStore's contract: a code hash stored once (AlreadyExists); a code redeemed once, a replay
seeing it used; a refresh token taken once; deletes idempotent; expiry kept to the whole second, as the
adapter keeps it in the TTL attribute (epoch seconds); expired records still read back (callers check).

What it deliberately does not model: DynamoDB's TTL reaping (lazy, up to days: nothing disappears here by
itself), and that the adapter's `put_tokens` is two writes (here one step under a lock).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from meterhub.demo_utility.adapters.store import _epoch
from meterhub.demo_utility.records import CodeRecord, TokenRecord
from meterhub.platform.errors import AlreadyExists

_Record = TypeVar("_Record", CodeRecord, TokenRecord)


def _stored(record: _Record) -> _Record:
    """The record as the TTL attribute keeps it: its expiry in whole seconds, in UTC."""
    return replace(record, expires_at=datetime.fromtimestamp(_epoch(record.expires_at), UTC))


class InMemoryDemoStore:
    """Codes, access tokens and refresh tokens by hash (records are frozen: no copies needed)."""

    def __init__(self) -> None:
        self.codes: dict[str, CodeRecord] = {}
        self.access: dict[str, TokenRecord] = {}
        self.refresh: dict[str, TokenRecord] = {}
        self._lock = threading.Lock()

    def put_code(self, code_hash: str, record: CodeRecord) -> None:
        with self._lock:
            if code_hash in self.codes:
                raise AlreadyExists("Authorization code collision")
            self.codes[code_hash] = _stored(record)

    def redeem_code(self, code_hash: str) -> CodeRecord | None:
        with self._lock:
            record = self.codes.get(code_hash)
            if record is not None and not record.used:
                self.codes[code_hash] = replace(record, used=True)
            return record

    def note_issued(self, code_hash: str, refresh_hash: str) -> None:
        with self._lock:
            record = self.codes.get(code_hash)
            if record is not None:
                self.codes[code_hash] = replace(record, issued_refresh_hash=refresh_hash)

    def put_tokens(self, access_hash: str, access: TokenRecord, refresh_hash: str, refresh: TokenRecord) -> None:
        with self._lock:
            self.refresh[refresh_hash] = _stored(refresh)
            self.access[access_hash] = _stored(access)

    def access_token(self, access_hash: str) -> TokenRecord | None:
        return self.access.get(access_hash)

    def refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        return self.refresh.get(refresh_hash)

    def take_refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        with self._lock:
            return self.refresh.pop(refresh_hash, None)

    def delete_access_token(self, access_hash: str) -> None:
        with self._lock:
            self.access.pop(access_hash, None)

    def delete_refresh_token(self, refresh_hash: str) -> None:
        with self._lock:
            self.refresh.pop(refresh_hash, None)
