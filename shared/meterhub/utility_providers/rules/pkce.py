"""PKCE (RFC 7636) with the S256 method only.

Why PKCE even for confidential clients: the authorization code travels through the customer's browser, so a
code that leaks (history, logs, a malicious extension) must be useless without the verifier we kept
server-side. `plain` is never offered: it protects nothing once the authorize URL itself leaks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# RFC 7636 §4.1: 43..128 characters from the unreserved set.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# A base64url SHA-256 digest, unpadded, is always 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
_VERIFIER_BYTES = 64  # token_urlsafe(64) -> 86 characters, well inside 43..128


def code_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding (RFC 7636 §4.2, S256)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A fresh (verifier, challenge): the verifier stays with us, the challenge goes in the authorize URL."""
    verifier = secrets.token_urlsafe(_VERIFIER_BYTES)
    return verifier, code_challenge(verifier)


def is_valid_verifier(verifier: str) -> bool:
    return _VERIFIER.fullmatch(verifier) is not None


def is_valid_challenge(challenge: str) -> bool:
    return _CHALLENGE.fullmatch(challenge) is not None


def verify(verifier: str, challenge: str) -> bool:
    """Whether `verifier` matches the S256 `challenge` (a malformed verifier never matches).

    Compared in constant time: the challenge is not secret, but the comparison should not teach an
    attacker anything about how close a guess was.
    """
    if not is_valid_verifier(verifier) or not is_valid_challenge(challenge):
        return False
    return hmac.compare_digest(code_challenge(verifier), challenge)
