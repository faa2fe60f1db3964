"""DemoStore: InMemoryDemoStore and DynamoDemoStore keep one contract.

The store is keyed by the SHA-256 of a code or token, not by partner (the demo utility serves every partner
alike), so there is no tenant-isolation case here: a hash nobody was given reads as nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from meterhub.demo_utility.adapters.store import DynamoDemoStore
from meterhub.demo_utility.ports import DemoStore
from meterhub.demo_utility.records import CodeRecord, TokenRecord
from meterhub.platform.errors import AlreadyExists

from tests.fakes.demo_utility import InMemoryDemoStore

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(implementation: str, env: dict[str, str]) -> DemoStore:
    if implementation == "fake":
        return InMemoryDemoStore()
    return DynamoDemoStore(env["CONNECT_TABLE_NAME"])


def _hash() -> str:
    return uuid.uuid4().hex * 2


def _code(expires_at: datetime = NOW + timedelta(seconds=60)) -> CodeRecord:
    return CodeRecord(
        client_id="meterhub-demo",
        redirect_uri="https://connect.example/callback",
        code_challenge="c" * 43,
        scope="FB=1_3_4",
        username="demo",
        subscription_id="0123456789abcdef",
        expires_at=expires_at,
    )


def _token(sibling: str, expires_at: datetime = NOW + timedelta(hours=1)) -> TokenRecord:
    return TokenRecord(
        client_id="meterhub-demo",
        scope="FB=1_3_4",
        username="demo",
        subscription_id="0123456789abcdef",
        expires_at=expires_at,
        sibling=sibling,
    )


def test_a_code_is_redeemed_once_and_a_replay_sees_it_used(store: DemoStore) -> None:
    code_hash = _hash()
    store.put_code(code_hash, _code())
    assert store.redeem_code(code_hash) == _code()
    assert store.redeem_code(code_hash) == replace(_code(), used=True)
    assert store.redeem_code(_hash()) is None


def test_a_code_hash_is_stored_once(store: DemoStore) -> None:
    code_hash = _hash()
    store.put_code(code_hash, _code())
    with pytest.raises(AlreadyExists):
        store.put_code(code_hash, replace(_code(), username="someone else"))
    assert store.redeem_code(code_hash) == _code()


def test_note_issued_remembers_the_refresh_token_and_ignores_a_missing_code(store: DemoStore) -> None:
    code_hash, refresh_hash = _hash(), _hash()
    store.put_code(code_hash, _code())
    assert store.redeem_code(code_hash) is not None
    store.note_issued(code_hash, refresh_hash)
    assert store.redeem_code(code_hash) == replace(_code(), used=True, issued_refresh_hash=refresh_hash)
    store.note_issued(_hash(), refresh_hash)  # reaped meanwhile: nothing to note, no error


def test_tokens_read_back_and_a_refresh_token_is_taken_once(store: DemoStore) -> None:
    access_hash, refresh_hash = _hash(), _hash()
    access, refresh = _token(refresh_hash), _token(access_hash, NOW + timedelta(days=30))
    store.put_tokens(access_hash, access, refresh_hash, refresh)
    assert store.access_token(access_hash) == access
    assert store.refresh_token(refresh_hash) == refresh
    assert store.access_token(refresh_hash) is None  # the two kinds are apart
    assert store.take_refresh_token(refresh_hash) == refresh
    assert store.take_refresh_token(refresh_hash) is None
    assert store.refresh_token(refresh_hash) is None
    assert store.access_token(access_hash) == access


def test_deleting_tokens_is_idempotent(store: DemoStore) -> None:
    access_hash, refresh_hash = _hash(), _hash()
    store.put_tokens(access_hash, _token(refresh_hash), refresh_hash, _token(access_hash))
    store.delete_access_token(access_hash)
    store.delete_refresh_token(refresh_hash)
    store.delete_access_token(access_hash)
    store.delete_refresh_token(_hash())
    assert store.access_token(access_hash) is None
    assert store.refresh_token(refresh_hash) is None


def test_expiry_is_kept_to_the_second_it_is_stored_at(store: DemoStore) -> None:
    """The expiry is the item's TTL attribute (epoch seconds): a fraction of a second does not survive, so a
    code or token expires at the whole second before the moment it was issued for."""
    code_hash, access_hash, refresh_hash = _hash(), _hash(), _hash()
    fractional = NOW + timedelta(seconds=60, microseconds=900_000)
    store.put_code(code_hash, _code(fractional))
    store.put_tokens(access_hash, _token(refresh_hash, fractional), refresh_hash, _token(access_hash, fractional))
    whole = NOW + timedelta(seconds=60)
    redeemed = store.redeem_code(code_hash)
    assert redeemed is not None and redeemed.expires_at == whole
    access = store.access_token(access_hash)
    assert access is not None and access.expires_at == whole
    refresh = store.take_refresh_token(refresh_hash)
    assert refresh is not None and refresh.expires_at == whole
    expired = NOW - timedelta(seconds=1)
    store.put_code(code_hash := _hash(), _code(expired))
    assert store.redeem_code(code_hash) == _code(expired)  # expired items are still read: callers check
