"""Utility tokens, encrypted with KMS before they reach storage.

Why KMS and an encryption context: the table's own encryption protects against a lost disk, not against a
reader of the table; KMS ciphertext can only be opened by a role granted kms:Decrypt on our key, and the
context (partner and authorization id) binds each ciphertext to its record, so a blob copied onto another
partner's authorization does not decrypt. KMS `Encrypt` takes at most 4 KB of plaintext, which fits a token
response (we keep only the fields we use); a larger one is refused rather than truncated.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from functools import lru_cache

from meterhub.platform.adapters import clients
from meterhub.utility_providers.records.readings import TokenSet

KMS_PLAINTEXT_LIMIT = 4096


def _serialize(tokens: TokenSet) -> bytes:
    values = asdict(tokens)
    values["expires_at"] = tokens.expires_at.isoformat()
    if tokens.refresh_expires_at is not None:
        values["refresh_expires_at"] = tokens.refresh_expires_at.isoformat()
    plaintext = json.dumps(values, separators=(",", ":")).encode("utf-8")
    if len(plaintext) > KMS_PLAINTEXT_LIMIT:
        raise ValueError("The utility's token response is larger than KMS can encrypt directly")
    return plaintext


def _deserialize(plaintext: bytes) -> TokenSet:
    values = json.loads(plaintext)
    values["expires_at"] = datetime.fromisoformat(values["expires_at"])
    if values.get("refresh_expires_at"):
        values["refresh_expires_at"] = datetime.fromisoformat(values["refresh_expires_at"])
    return TokenSet(**values)


class KmsTokenVault:
    def __init__(self, key_id: str) -> None:
        self._key_id = key_id

    def seal(self, tokens: TokenSet, context: dict[str, str]) -> bytes:
        response = clients.kms().encrypt(KeyId=self._key_id, Plaintext=_serialize(tokens), EncryptionContext=context)
        ciphertext: bytes = response["CiphertextBlob"]
        return ciphertext

    def open(self, ciphertext: bytes, context: dict[str, str]) -> TokenSet:
        response = clients.kms().decrypt(KeyId=self._key_id, CiphertextBlob=ciphertext, EncryptionContext=context)
        return _deserialize(response["Plaintext"])


@lru_cache(maxsize=2)
def kms_token_vault(key_id: str) -> KmsTokenVault:
    return KmsTokenVault(key_id)
