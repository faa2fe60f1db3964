"""PKCE S256 (RFC 7636): the pair we generate and the check the demo utility runs."""

from __future__ import annotations

import base64
import re

import pytest
from meterhub.utility_providers.rules import pkce

# RFC 7636 Appendix B: the verifier's 32 octets, the verifier and the S256 challenge.
RFC_OCTETS = bytes(
    [
        *(116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186),
        *(22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121),
    ]
)
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc7636_appendix_b_vector() -> None:
    # Given the RFC's octets, base64url-encoded without padding, they are the RFC's verifier
    assert base64.urlsafe_b64encode(RFC_OCTETS).rstrip(b"=").decode() == RFC_VERIFIER
    # Then the S256 challenge is the RFC's, and it verifies
    assert pkce.code_challenge(RFC_VERIFIER) == RFC_CHALLENGE
    assert pkce.verify(RFC_VERIFIER, RFC_CHALLENGE)


def test_pairs_are_fresh_well_formed_and_consistent() -> None:
    pairs = [pkce.pkce_pair() for _ in range(20)]
    for verifier, challenge in pairs:
        assert 43 <= len(verifier) <= 128
        assert re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier)
        assert len(challenge) == 43 and "=" not in challenge
        assert pkce.code_challenge(verifier) == challenge
        assert pkce.verify(verifier, challenge)
    assert len({verifier for verifier, _ in pairs}) == len(pairs)


@pytest.mark.parametrize(
    "verifier",
    [
        "a" * 42,  # too short
        "a" * 129,  # too long
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+",  # '+' is not unreserved
        "",
    ],
)
def test_malformed_verifiers_never_verify(verifier: str) -> None:
    assert not pkce.verify(verifier, pkce.code_challenge("b" * 43))
    assert not pkce.is_valid_verifier(verifier)


def test_a_different_verifier_does_not_verify() -> None:
    verifier, challenge = pkce.pkce_pair()
    other, _ = pkce.pkce_pair()
    assert not pkce.verify(other, challenge)
    assert not pkce.verify(verifier, challenge[:-1] + ("A" if challenge[-1] != "A" else "B"))
    assert not pkce.verify(verifier, "not a challenge")
