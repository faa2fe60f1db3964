"""The demo utility's store port."""

from __future__ import annotations

from typing import Protocol

from meterhub.demo_utility.records import CodeRecord, TokenRecord


class DemoStore(Protocol):
    def put_code(self, code_hash: str, record: CodeRecord) -> None: ...

    def redeem_code(self, code_hash: str) -> CodeRecord | None:
        """Mark the code used, atomically. The record as it was before (`used` True: a replay), or None."""
        ...

    def note_issued(self, code_hash: str, refresh_hash: str) -> None:
        """Remember which refresh token the code was exchanged for (to end that grant on a replay)."""
        ...

    def put_tokens(self, access_hash: str, access: TokenRecord, refresh_hash: str, refresh: TokenRecord) -> None: ...

    def access_token(self, access_hash: str) -> TokenRecord | None: ...

    def refresh_token(self, refresh_hash: str) -> TokenRecord | None: ...

    def take_refresh_token(self, refresh_hash: str) -> TokenRecord | None:
        """Delete the refresh token, atomically; its record, or None when it was already gone (single use)."""
        ...

    def delete_access_token(self, access_hash: str) -> None: ...

    def delete_refresh_token(self, refresh_hash: str) -> None: ...
