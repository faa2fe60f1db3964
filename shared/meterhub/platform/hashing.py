"""One-way hashes of secrets (codes, tokens, link tokens): the only form in which they are stored or compared."""

from __future__ import annotations

import hashlib


def secret_hash(value: str) -> str:
    """SHA-256 hex of a code or token: the only form in which they are stored or compared."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
