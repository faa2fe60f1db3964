"""In-memory demo-utility store."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from meterhub.demo_utility.records import CodeRecord, TokenRecord


class InMemoryDemoStore:
    """A fake with the port's behaviour (single-use codes and refresh tokens, hashes only as keys)."""

    def __init__(self) -> None:
        self.codes: dict[str, CodeRecord] = {}
        self.access: dict[str, TokenRecord] = {}
        self.refresh: dict[str, TokenRecord] = {}
        self._lock = threading.Lock()

    def put_code(self, code_hash: str, record: CodeRecord) -> None:
        with self._lock:
            if code_hash in self.codes:
                raise ValueError("authorization code collision")
            self.codes[code_hash] = record

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
            self.refresh[refresh_hash] = refresh
            self.access[access_hash] = access

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
